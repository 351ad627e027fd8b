"""Sign-up, sign-in, verification, password reset, own account, and user administration."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..errors import DomainError, ValidationFailed
from ..extensions import db, limiter
from ..forms_support import attach_errors
from ..security import safe_next, start_session
from . import services
from .forms import (
    ActiveForm,
    ChangePasswordForm,
    ConfirmForm,
    EmailForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
    RoleForm,
    SignInForm,
    UserFilterForm,
)
from .permissions import admin_required

bp = Blueprint("accounts", __name__, url_prefix="/account")
admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


def _signin_limit() -> str:
    return current_app.config["SIGNIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["ACCOUNT_RATE_LIMIT"]


def _typed_account() -> str:
    """The rate-limit key for one account: the email typed into the form (or the signed-in person)."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return "email:" + (request.form.get("email") or "").strip().lower()


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_signin_limit, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = RegisterForm()
    extra: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            user = services.register(email=form.email.data, password=form.password.data, name=form.name.data)
            db.session.commit()
        except services.AccountExists as exc:
            # The same page as for a new account: the owner gets an email, nobody learns it exists.
            db.session.rollback()
            services.tell_existing_account(exc.address)
            db.session.commit()
            return render_template("accounts/check_email.html", email=exc.address, title="Check your email")
        except DomainError as exc:
            db.session.rollback()
            extra = attach_errors(form, exc)
        else:
            return render_template("accounts/check_email.html", email=user.email, title="Check your email")
    status = 400 if form.errors or extra else 200
    return render_template("accounts/register.html", form=form, extra_errors=extra), status


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify(token: str):
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            user = services.verify_email(token=token)
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            return render_template("accounts/link_problem.html", message=exc.message), 400
        flash(f"Thank you — {user.email} is confirmed.", "success")
        return redirect(url_for("accounts.profile") if current_user.is_authenticated else url_for("accounts.sign_in"))
    return render_template("accounts/verify.html", form=form, token=token)


@bp.route("/verify/resend", methods=["GET", "POST"])
@limiter.limit(_signin_limit, methods=["POST"])
def resend_verification():
    form = EmailForm()
    if form.validate_on_submit():
        user = services.get_user_by_email(form.email.data)
        if user is not None and user.active and not user.is_verified:
            services.send_verification(user=user)
            db.session.commit()
        return render_template("accounts/check_email.html", email=form.email.data, title="Check your email")
    return render_template("accounts/resend.html", form=form), 400 if form.errors else 200


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_signin_limit, methods=["POST"])
@limiter.limit(_account_limit, key_func=_typed_account, methods=["POST"])
def sign_in():
    target = safe_next(request.args.get("next"), url_for("accounts.profile"))
    if current_user.is_authenticated:
        return redirect(target)
    form = SignInForm()
    failed = False
    if form.validate_on_submit():
        user = services.authenticate(email=form.email.data, password=form.password.data)
        if user is None:
            failed = True
        elif not user.is_verified:
            services.send_verification(user=user)
            db.session.commit()
            flash("Confirm your email address first: we have sent you a new link.", "warning")
            return render_template("accounts/check_email.html", email=user.email, title="Confirm your email")
        else:
            start_session()
            login_user(user)
            db.session.commit()
            flash(f"Signed in as {user.email}.", "success")
            return redirect(target)
    status = 400 if failed or form.errors else 200
    return render_template("accounts/sign_in.html", form=form, failed=failed), status


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    form = ConfirmForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        # The session lives in a signed cookie: ending it for real means no copy of that cookie works
        # any more, so the account's session version moves on (every session of it ends).
        services.end_sessions(current_user._get_current_object())
        db.session.commit()
        logout_user()
    from flask import session

    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("public.home"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_signin_limit, methods=["POST"])
def forgot_password():
    form = EmailForm()
    if form.validate_on_submit():
        services.request_password_reset(email=form.email.data)
        db.session.commit()
        return render_template("accounts/check_email.html", email=form.email.data, title="Check your email",
                               reset=True)
    return render_template("accounts/forgot.html", form=form), 400 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_signin_limit, methods=["POST"])
def reset_password(token: str):
    try:
        services.read_token(token, "reset-password", current_app.config["RESET_TOKEN_MAX_AGE"])
    except ValidationFailed as exc:
        return render_template("accounts/link_problem.html", message=exc.message), 400
    form = ResetPasswordForm()
    extra: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            services.reset_password(token=token, password=form.password.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            extra = attach_errors(form, exc)
        else:
            if current_user.is_authenticated:
                logout_user()
            flash("Your password has been changed. Sign in with the new password.", "success")
            return redirect(url_for("accounts.sign_in"))
    return render_template("accounts/reset.html", form=form, extra_errors=extra), 400 if form.errors or extra else 200


@bp.route("/", methods=["GET", "POST"])
@login_required
@limiter.limit(_account_limit, key_func=_typed_account, methods=["POST"])  # guessing the current password
def profile():
    profile_form = ProfileForm(prefix="profile", obj=current_user)
    password_form = ChangePasswordForm(prefix="pw")
    extra: dict[str, str] = {}
    if request.method == "POST":
        if "profile-name" in request.form and profile_form.validate():
            current_user.name = (profile_form.name.data or "").strip()
            db.session.commit()
            flash("Your details are saved.", "success")
            return redirect(url_for("accounts.profile"))
        if "pw-password" in request.form and password_form.validate():
            user = current_user._get_current_object()
            try:
                services.change_password(user=user, current=password_form.current_password.data,
                                         new=password_form.password.data)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                extra = attach_errors(password_form, exc)
            else:
                start_session()
                login_user(user)
                flash("Your password has been changed; other sessions are signed out.", "success")
                return redirect(url_for("accounts.profile"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/profile.html", profile_form=profile_form, password_form=password_form,
                           extra_errors=extra), status


# --- administration -----------------------------------------------------------------------


@admin_bp.route("/users")
@admin_required
def users():
    form = UserFilterForm(request.args)
    found = services.list_users(query=form.q.data or "", role=form.role.data or "", status=form.status.data or "")
    return render_template("admin/users.html", users=found, form=form)


@admin_bp.route("/users/<int:user_id>")
@admin_required
def user_detail(user_id: int):
    return _user_page(services.get_user(user_id))


def _user_page(user, active_form: ActiveForm | None = None, extra: dict[str, str] | None = None):
    """The account page; after a refused change it comes back with the form's errors (400)."""
    from sqlalchemy import select

    from ..audit import AuditEvent

    events = db.session.execute(
        select(AuditEvent)
        .where(AuditEvent.object_type == "user", AuditEvent.object_id == str(user.id))
        .order_by(AuditEvent.seq.desc())
        .limit(50)
    ).scalars()
    failed = active_form is not None
    return render_template("admin/user_detail.html", user=user, role_form=RoleForm(),
                           active_form=active_form or ActiveForm(active=user.active), events=list(events),
                           extra_errors=extra or {}), 400 if failed else 200


@admin_bp.route("/users/<int:user_id>/roles", methods=["POST"])
@admin_required
def user_roles(user_id: int):
    user = services.get_user(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        raise ValidationFailed("Choose a role and an action.", {k: v[0] for k, v in form.errors.items()})
    if form.action.data == "grant":
        changed = services.grant_role(actor=current_user, user=user, role=form.role.data)
        message = f"{user.email} is now {form.role.data}." if changed else f"{user.email} already had that role."
    else:
        changed = services.revoke_role(actor=current_user, user=user, role=form.role.data)
        message = f"Removed {form.role.data} from {user.email}." if changed else f"{user.email} did not have that role."
    db.session.commit()
    flash(message, "success" if changed else "info")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@admin_bp.route("/users/<int:user_id>/active", methods=["POST"])
@admin_required
def user_active(user_id: int):
    user = services.get_user(user_id)
    form = ActiveForm()
    if not form.validate_on_submit():
        return _user_page(user, form)
    try:
        services.set_active(actor=current_user, user=user, active=bool(form.active.data),
                            reason=form.reason.data or "")
    except ValidationFailed as exc:  # the reason is missing: say so on its field, keep what was typed
        db.session.rollback()
        return _user_page(user, form, attach_errors(form, exc))
    db.session.commit()
    flash(f"{user.email} is {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))
