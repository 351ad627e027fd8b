"""Vendor pages: organisation profile, applications, files, submit, receipts."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.csrf import validate_csrf
from sqlalchemy import func, select
from wtforms.validators import ValidationError as WTFValidationError

from ..accounts.models import Role
from ..accounts.permissions import roles_required
from ..errors import Conflict, DomainError, NotFound, ValidationFailed
from ..extensions import csrf, db
from ..forms_support import attach_errors, attempt
from ..permissions import get_visible_challenge
from ..security import safe_next
from ..storage import get_storage
from ..timezones import utcnow
from . import services
from .forms import InviteForm, OrganizationForm, ReasonForm, RulesForm, StartForm
from .models import Invitation, Organization, Receipt

bp = Blueprint("submissions", __name__, url_prefix="/vendor")
vendor_required = roles_required(Role.VENDOR)
UPLOAD_OVERHEAD = 64 * 1024  # multipart framing around the file itself


@bp.route("/")
@login_required  # anyone signed in may become a vendor by adding an organisation
def dashboard():
    return render_template("submissions/dashboard.html", organizations=services.organizations_of(current_user),
                           applications=services.applications_of(current_user), now=utcnow(),
                           advancements=services.advancements_of(current_user))


def _organization_page(form: OrganizationForm, organization: Organization | None):
    extra: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            saved = services.save_organization(
                actor=current_user, organization=organization, legal_name=form.legal_name.data,
                uei=form.uei.data or "", sam_status=form.sam_status.data, business_size=form.business_size.data,
                categories=form.categories.data or [], website=form.website.data or "",
                poc_name=form.poc_name.data or "", poc_email=form.poc_email.data or "",
                poc_phone=form.poc_phone.data or "",
            )
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            extra = attach_errors(form, exc)
        else:
            flash(f"Saved the profile of {saved.legal_name}.", "success")
            # Back where the vendor was going (the apply page that sent them here), else the dashboard.
            return redirect(safe_next(request.args.get("next"), url_for("submissions.dashboard")))
    status = 400 if request.method == "POST" else 200
    return render_template("submissions/organization.html", form=form, organization=organization,
                           extra_errors=extra, invite_form=InviteForm(), action_form=FlaskForm(),
                           pending=services.pending_invitations(organization) if organization else [],
                           is_owner=organization is not None and services.is_owner(current_user, organization)), status


@bp.route("/organizations/new", methods=["GET", "POST"])
@login_required  # anyone signed in may become a vendor by adding an organisation
def organization_new():
    return _organization_page(OrganizationForm(), None)


@bp.route("/organizations/<int:organization_id>", methods=["GET", "POST"])
@vendor_required
def organization_edit(organization_id: int):
    organization = services.get_organization(organization_id)
    if organization is None or services.membership(current_user, organization) is None:
        raise NotFound("No such organisation.")
    if request.method == "POST" and not services.is_owner(current_user, organization):
        abort(403)
    return _organization_page(OrganizationForm(obj=organization), organization)


@bp.route("/organizations/<int:organization_id>/invite", methods=["POST"])
@vendor_required
def invite(organization_id: int):
    organization = db.session.get(Organization, organization_id)
    if organization is None or services.membership(current_user, organization) is None:
        raise NotFound("No such organisation.")
    form = InviteForm()
    if not form.validate_on_submit():
        raise ValidationFailed("Enter an email address and a role.", {k: v[0] for k, v in form.errors.items()})
    services.invite(actor=current_user, organization=organization, email=form.email.data, role=form.role.data)
    db.session.commit()
    flash(f"Invitation sent to {form.email.data}.", "success")
    return redirect(url_for("submissions.organization_edit", organization_id=organization.id))


def _own_organization(organization_id: int) -> Organization:
    organization = db.session.get(Organization, organization_id)
    if organization is None or services.membership(current_user, organization) is None:
        raise NotFound("No such organisation.")
    return organization


def _attempt(action: Callable[[], str]) -> bool:
    """Run one POSTed change: commit and say what happened, or roll back and say why not (on the page
    the person came from). Missing things and refusals stay 404 and 403. The CSRF token is checked first."""
    if not FlaskForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    return attempt(action)


@bp.route("/organizations/<int:organization_id>/members/<int:user_id>", methods=["POST"])
@vendor_required
def member(organization_id: int, user_id: int):
    """Remove a member, leave, or change a member's role (owners only, except leaving)."""
    organization = _own_organization(organization_id)
    action = request.form.get("action")
    leaving = action == "remove" and user_id == current_user.id

    def change() -> str:
        if action == "remove":
            services.remove_member(actor=current_user, organization=organization, user_id=user_id)
            return f"You left {organization.legal_name}." if leaving else "Member removed."
        if action == "role":
            services.set_member_role(actor=current_user, organization=organization, user_id=user_id,
                                     role=request.form.get("role", ""))
            return "Role changed."
        raise ValidationFailed("Choose an action.")

    if _attempt(change) and leaving:
        return redirect(url_for("submissions.dashboard"))
    return redirect(url_for("submissions.organization_edit", organization_id=organization.id))


@bp.route("/organizations/<int:organization_id>/invitations/<int:invitation_id>/revoke", methods=["POST"])
@vendor_required
def revoke_invitation(organization_id: int, invitation_id: int):
    organization = _own_organization(organization_id)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.organization_id != organization.id:
        raise NotFound("No such invitation.")
    email = invitation.email

    def revoke() -> str:
        services.revoke_invitation(actor=current_user, invitation=invitation)
        return f"The invitation to {email} no longer works."

    _attempt(revoke)
    return redirect(url_for("submissions.organization_edit", organization_id=organization.id))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    from ..extensions import login_manager

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    form = FlaskForm()
    if form.validate_on_submit():
        organization = services.accept_invitation(actor=current_user._get_current_object(), token=token)
        db.session.commit()
        flash(f"You joined {organization.legal_name}.", "success")
        return redirect(url_for("submissions.dashboard"))
    return render_template("submissions/invitation.html", form=form, token=token)


@bp.route("/advancements/<int:advancement_id>", methods=["POST"])
@login_required
def respond_to_advancement(advancement_id: int):
    from .models import Advancement

    advancement = db.session.get(Advancement, advancement_id)
    if advancement is None:
        raise NotFound("No such invitation.")
    if not FlaskForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    accept = request.form.get("decision") == "accept"
    services.respond_to_advancement(actor=current_user, advancement=advancement, accept=accept)
    db.session.commit()
    phase = advancement.to_phase
    flash(f"You accepted: apply to {phase.name} before it closes." if accept else "You declined the invitation.",
          "success")
    return redirect(url_for("submissions.dashboard"))


@bp.route("/apply/<slug>/<phase_key>", methods=["GET", "POST"])
@login_required  # anyone signed in may become a vendor by adding an organisation
def start(slug: str, phase_key: str):
    challenge = get_visible_challenge(slug, current_user)
    phase = challenge.phase_by_key(phase_key)
    if phase is None:
        raise NotFound("No such phase.")
    organizations = services.organizations_of(current_user)
    form = StartForm()
    form.organization_id.choices = [(o.id, o.legal_name) for o in organizations]
    if form.validate_on_submit():
        organization = next((o for o in organizations if o.id == form.organization_id.data), None)
        if organization is None:
            raise ValidationFailed("Choose one of your organisations.", {"organization_id": "Choose an organisation."})
        submission = services.start_application(actor=current_user, phase=phase, organization=organization)
        db.session.commit()
        flash("Application started. It saves as a draft until you submit it.", "success")
        return redirect(url_for("submissions.application", submission_id=submission.id))
    now = utcnow()
    return render_template("submissions/start.html", challenge=challenge, phase=phase, form=form,
                           organizations=organizations, accepting=services.can_start(phase, now),
                           state=phase.state(now))


def _answers_from_request(submission) -> dict:
    answers = {}
    for field in submission.phase.fields:
        if field.type == "file":
            continue
        if field.type == "multiselect":
            answers[field.key] = request.form.getlist(field.key)
        elif field.type == "checkbox":
            answers[field.key] = request.form.get(field.key) == "y"
        elif field.key in request.form:
            answers[field.key] = request.form.get(field.key, "")
    return answers


@bp.route("/applications/<int:submission_id>", methods=["GET", "POST"])
@vendor_required
def application(submission_id: int):
    submission = services.get_for_vendor(current_user, submission_id)
    form = FlaskForm()
    errors: dict[str, str] = {}
    values = submission.working_answers()
    if request.method == "POST":
        if not form.validate_on_submit():
            raise ValidationFailed("The form expired; reload the page and try again.")
        values.update(_answers_from_request(submission))
        try:
            services.save_answers(actor=current_user, submission=submission, answers=_answers_from_request(submission))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = exc.errors or {"form": exc.message}
        else:
            if request.accept_mimetypes.best == "application/json":
                return {"saved": True, "version": submission.version, "complete": services.completeness(submission)}
            flash("Draft saved.", "success")
            return redirect(url_for("submissions.application", submission_id=submission.id))
    return _application_page(submission, form, errors, values)


def _application_page(submission, form: FlaskForm, errors: dict[str, str], values: dict,
                      status: int | None = None):
    status = status or (400 if errors else 200)
    return render_template(
        "submissions/application.html", submission=submission, form=form, errors=errors, values=values,
        missing=services.missing_items(submission), percent=services.completeness(submission),
        can_change=services.can_change(submission), files=submission.working_files(),
        rules_form=RulesForm(rules_version=submission.phase.challenge.rules_version), reason_form=ReasonForm(),
        direct=get_storage().kind == "s3", is_owner=services.is_owner(current_user, submission.organization),
        checking={f.field_key: f for f in submission.files if f.status == "checking"},
        receipts=db.session.execute(select(Receipt).where(Receipt.submission_id == submission.id)
                                    .order_by(Receipt.version.desc())).scalars().all(),
    ), status


@bp.route("/applications/<int:submission_id>/files/<field_key>", methods=["POST"])
@csrf.exempt  # the global check would parse the body under the small form limit; FlaskForm checks the token below
@vendor_required
def upload(submission_id: int, field_key: str):
    submission = services.get_for_vendor(current_user, submission_id)
    field = next((f for f in submission.phase.fields if f.key == field_key and f.type == "file"), None)
    if field is None:
        raise NotFound("No such file question.")
    request.max_content_length = (field.max_bytes or 0) + UPLOAD_OVERHEAD  # 413 before anything is stored
    if not FlaskForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    incoming = request.files.get("file")
    if incoming is None or not incoming.filename:
        raise ValidationFailed("Choose a file to upload.", {field_key: "Choose a file to upload."})
    record = services.upload_file(actor=current_user, submission=submission, field_key=field_key,
                                  filename=incoming.filename, stream=incoming.stream)
    db.session.commit()
    if request.accept_mimetypes.best == "application/json":
        return {"stored": True, "name": record.display_name, "size": record.size, "sha256": record.sha256}
    flash(f"Uploaded {record.display_name} ({record.size:,} bytes).", "success")
    return redirect(url_for("submissions.application", submission_id=submission.id) + f"#field-{field_key}")


@bp.route("/applications/<int:submission_id>/files/<field_key>/stream", methods=["PUT"])
@csrf.exempt  # checked below from the header, after the size limit is raised for this field
@vendor_required
def stream_upload(submission_id: int, field_key: str):
    """Local storage: the request body is the file, streamed to disk and hashed on the way (one copy,
    no multipart parsing). The name comes in X-File-Name (URL-encoded); CSRF in X-CSRFToken."""
    from urllib.parse import unquote

    submission = services.get_for_vendor(current_user, submission_id)
    field = next((f for f in submission.phase.fields if f.key == field_key and f.type == "file"), None)
    if field is None:
        raise NotFound("No such file question.")
    if (request.content_length or 0) > (field.max_bytes or 0):
        message = f"The file is larger than this question allows ({(field.max_bytes or 0):,} bytes)."
        raise ValidationFailed(message, {field_key: message})
    request.max_content_length = field.max_bytes
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except WTFValidationError as exc:
            raise ValidationFailed("The page expired; reload it and upload again.") from exc
    record = services.upload_file(actor=current_user, submission=submission, field_key=field_key,
                                  filename=unquote(request.headers.get("X-File-Name", "")), stream=request.stream)
    db.session.commit()
    return {"stored": True, "name": record.display_name, "size": record.size, "sha256": record.sha256}


@bp.route("/applications/<int:submission_id>/files/<field_key>/direct", methods=["POST"])
@vendor_required
def direct_upload(submission_id: int, field_key: str):
    """S3: announce a file, get a presigned upload (JSON in, JSON out; CSRF by header)."""
    submission = services.get_for_vendor(current_user, submission_id)
    data = request.get_json(silent=True) or {}
    try:
        size = int(data.get("size") or 0)
    except (TypeError, ValueError):
        size = 0
    result = services.begin_direct_upload(actor=current_user, submission=submission, field_key=field_key,
                                          filename=str(data.get("filename") or ""),
                                          content_type=str(data.get("content_type") or ""), size=size)
    db.session.commit()
    return result


@bp.route("/applications/<int:submission_id>/uploads/<int:file_id>/confirm", methods=["POST"])
@vendor_required
def confirm_upload(submission_id: int, file_id: int):
    submission = services.get_for_vendor(current_user, submission_id)
    data = request.get_json(silent=True) or {}
    parts = [{"PartNumber": int(p["PartNumber"]), "ETag": str(p["ETag"])} for p in data.get("parts") or []
             if isinstance(p, dict) and "PartNumber" in p and "ETag" in p]
    record = services.confirm_upload(actor=current_user, submission=submission, file_id=file_id,
                                     upload_id=data.get("upload_id"), parts=parts or None)
    db.session.commit()
    if record.status == "checking":
        return {"stored": False, "checking": True, "name": record.display_name, "size": record.size}
    if record.status not in ("stored", "draft"):  # "draft": kept as an unsubmitted change of a submitted entry
        return {"stored": False, "error": record.reject_reason, "errors": {record.field_key: record.reject_reason}}, 400
    return {"stored": True, "name": record.display_name, "size": record.size, "sha256": record.sha256}


@bp.route("/applications/<int:submission_id>/files/<int:file_id>/download")
@vendor_required
def download(submission_id: int, file_id: int):
    submission = services.get_for_vendor(current_user, submission_id)
    record = next((f for f in submission.files if f.id == file_id
                   and f.status in ("stored", "draft", "replaced", "discarded")), None)
    if record is None:
        raise NotFound("No such file.")
    return get_storage().download_response(record.storage_key, filename=record.display_name,
                                           content_type=record.content_type or "application/octet-stream")


@bp.route("/applications/<int:submission_id>/discard", methods=["POST"])
@vendor_required
def discard_changes(submission_id: int):
    submission = services.get_for_vendor(current_user, submission_id)

    def discard() -> str:
        services.discard_changes(actor=current_user, submission=submission)
        return (f"Changes discarded: the application is again exactly as submitted (version "
                f"{submission.submitted_version}).")

    _attempt(discard)
    return redirect(url_for("submissions.application", submission_id=submission.id))


@bp.route("/applications/<int:submission_id>/rules", methods=["POST"])
@vendor_required
def accept_rules(submission_id: int):
    submission = services.get_for_vendor(current_user, submission_id)
    form = RulesForm()
    if not form.validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    services.accept_rules(actor=current_user, submission=submission, rules_version=form.rules_version.data)
    db.session.commit()
    flash("You accepted the official rules.", "success")
    return redirect(url_for("submissions.application", submission_id=submission.id))


@bp.route("/applications/<int:submission_id>/submit", methods=["POST"])
@vendor_required
def submit(submission_id: int):
    submission = services.get_for_vendor(current_user, submission_id)
    if not FlaskForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    try:
        receipt = services.submit(actor=current_user, submission=submission)
    except DomainError as exc:
        # Back on the application itself, with every missing item linked, not on an error page.
        db.session.rollback()
        errors = {**(exc.errors or {})} or {"form": exc.message}
        if exc.errors and exc.message not in errors.values():
            flash(exc.message, "error")
        return _application_page(submission, FlaskForm(), errors, submission.working_answers(),
                                  status=409 if isinstance(exc, Conflict) else 400)
    db.session.commit()
    flash(f"Submitted. Your entry code is {submission.public_code}; a receipt is on its way by email.", "success")
    return redirect(url_for("submissions.receipt", submission_id=submission.id, version=receipt.version))


@bp.route("/applications/<int:submission_id>/withdraw", methods=["POST"])
@vendor_required
def withdraw(submission_id: int):
    submission = services.get_for_vendor(current_user, submission_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    services.withdraw(actor=current_user, submission=submission, reason=form.reason.data or "")
    db.session.commit()
    flash("The application is withdrawn.", "success")
    return redirect(url_for("submissions.dashboard"))


@bp.route("/applications/<int:submission_id>/receipts/<int:version>")
@vendor_required
def receipt(submission_id: int, version: int):
    submission = services.get_for_vendor(current_user, submission_id)
    found = db.session.execute(select(Receipt).where(Receipt.submission_id == submission.id,
                                                     Receipt.version == version)).scalar_one_or_none()
    if found is None:
        raise NotFound("No receipt for that version.")
    number = db.session.execute(select(func.count(Receipt.id)).where(
        Receipt.submission_id == submission.id, Receipt.version <= version)).scalar_one()
    labels = {f.key: f.label for f in submission.phase.fields}
    return render_template("submissions/receipt.html", submission=submission, receipt=found, number=number,
                           labels=labels)
