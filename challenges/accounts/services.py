"""Account rules: registration, verification, sign-in, password reset, roles, deactivation.

Plain functions with keyword-only arguments; they flush, the caller commits.
"""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from .. import audit, mail
from ..errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from ..extensions import contains_text, db
from ..links import external_url
from ..timezones import utcnow
from .models import Role, User, UserRole

MIN_PASSWORD = 12
MAX_PASSWORD = 256
SYSTEM_EMAIL = "system@challenges.invalid"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


def normalize_email(raw: str) -> str:
    """Validated, lower-cased address; raises ValidationFailed with a message for people."""
    try:
        result = validate_email((raw or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            "Enter a valid email address.", {"email": f"Enter a valid email address ({exc})."}
        ) from exc
    return result.normalized.lower()


def check_password_rules(password: str, *, email: str = "") -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            "Password too short.",
            {"password": f"Use at least {MIN_PASSWORD} characters; a short sentence works well."},
        )
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed("Password too long.", {"password": f"Use at most {MAX_PASSWORD} characters."})
    if email and password.strip().lower() == email.lower():
        raise ValidationFailed("Weak password.", {"password": "Do not use your email address as the password."})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_ok(user: User | None, password: str) -> bool:
    target = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        ok = _hasher.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and user is not None and user.password_hash is not None


def get_user_by_email(email: str) -> User | None:
    try:
        normalized = normalize_email(email)
    except ValidationFailed:
        return None
    return db.session.execute(select(User).where(User.email == normalized)).scalar_one_or_none()


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"uid": user.id, "email": user.email, "v": user.session_version})


def read_token(token: str, purpose: str, max_age: int) -> User:
    """The user a signed token names; fails if expired, altered, or the account changed since."""
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ValidationFailed("This link has expired. Ask for a new one.") from exc
    except BadSignature as exc:
        raise ValidationFailed("This link is not valid. Check you copied all of it.") from exc
    user = db.session.get(User, data.get("uid"))
    if user is None or user.email != data.get("email") or user.session_version != data.get("v"):
        raise ValidationFailed("This link is no longer valid. Ask for a new one.")
    return user


class AccountExists(Conflict):
    """Registration with an address that already has an account. Pages must not say so (that would tell
    anyone who has an account here): they call `tell_existing_account` and answer as for a new one."""

    def __init__(self, address: str) -> None:
        super().__init__("An account with that email already exists.",
                         {"email": "An account with this email already exists. Sign in or reset your password."})
        self.address = address


def tell_existing_account(address: str) -> None:
    """Email the owner of an existing account that someone tried to register with it (at most hourly)."""
    user = get_user_by_email(address)
    if user is None or user.is_system:
        return
    mail.queue(to=user.email, subject="You already have an account", template="account_exists", user=user,
               dedupe_key=f"account-exists:{user.id}:{utcnow():%Y%m%d%H}",
               sign_in=external_url("accounts.sign_in"), reset=external_url("accounts.forgot_password"))


def register(*, email: str, password: str, name: str = "", roles: tuple[Role, ...] = ()) -> User:
    """Create an unverified account and send the verification link."""
    normalized = normalize_email(email)
    check_password_rules(password, email=normalized)
    if db.session.execute(select(User.id).where(User.email == normalized)).first():
        raise AccountExists(normalized)
    user = User(email=normalized, name=(name or "").strip()[:200], password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    for role in roles:
        db.session.add(UserRole(user_id=user.id, role=str(role)))
    audit.record(actor=user, action="user.registered", obj=user, details={"roles": [str(r) for r in roles]})
    send_verification(user=user)
    return user


def send_verification(*, user: User) -> None:
    if user.is_verified:
        return
    link = external_url("accounts.verify", token=make_token(user, "verify-email"))
    mail.queue(
        to=user.email,
        subject="Confirm your email address",
        template="verify_email",
        dedupe_key=f"verify:{user.id}:{utcnow():%Y%m%d%H}",  # pressing "resend" again sends nothing more
        user=user,
        link=link,
        hours=current_app.config["VERIFY_TOKEN_MAX_AGE"] // 3600,
    )


def verify_email(*, token: str) -> User:
    user = read_token(token, "verify-email", current_app.config["VERIFY_TOKEN_MAX_AGE"])
    if not user.is_verified:
        user.verified_at = utcnow()
        audit.record(actor=user, action="user.verified", obj=user)
    return user


def authenticate(*, email: str, password: str) -> User | None:
    """The user for these credentials, or None; the caller shows one generic message."""
    user = get_user_by_email(email)
    if not _password_ok(user, password):
        return None
    if user is None or not user.active or user.is_system:
        return None
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = utcnow()
    return user


def request_password_reset(*, email: str) -> None:
    """Always looks the same to the caller, whether or not the account exists."""
    user = get_user_by_email(email)
    if user is None or not user.active or user.is_system:
        return
    link = external_url("accounts.reset_password", token=make_token(user, "reset-password"))
    now = utcnow()
    mail.queue(
        to=user.email,
        subject="Reset your password",
        template="reset_password",
        # One message per ten minutes however often the form is sent: no flooding someone's inbox.
        dedupe_key=f"reset:{user.id}:{now:%Y%m%d%H}{now.minute // 10}",
        user=user,
        link=link,
        minutes=current_app.config["RESET_TOKEN_MAX_AGE"] // 60,
    )


def reset_password(*, token: str, password: str) -> User:
    user = read_token(token, "reset-password", current_app.config["RESET_TOKEN_MAX_AGE"])
    check_password_rules(password, email=user.email)
    user.password_hash = hash_password(password)
    user.session_version += 1  # the link is single-use and other sessions end
    if not user.is_verified:
        user.verified_at = utcnow()  # they proved they read mail at this address
    audit.record(actor=user, action="user.password_reset", obj=user)
    return user


def end_sessions(user: User) -> None:
    """Sign-out: every cookie issued for this account stops working (copies included)."""
    user.session_version += 1


def change_password(*, user: User, current: str, new: str) -> None:
    if not _password_ok(user, current):
        raise ValidationFailed("Current password is wrong.", {"current_password": "That is not your current password."})
    check_password_rules(new, email=user.email)
    user.password_hash = hash_password(new)
    user.session_version += 1
    audit.record(actor=user, action="user.password_changed", obj=user)


def _require_admin(actor: User) -> None:
    # Views already refuse inactive users; CLI and job paths reach services directly.
    if actor is None or not actor.is_admin or not actor.active:
        raise PermissionDenied("Only an administrator can do that.")


def _active_admin_count() -> int:
    return db.session.execute(
        select(func.count(User.id))
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.ADMIN.value, User.active.is_(True))
    ).scalar_one()


def grant_role(*, actor: User, user: User, role: Role | str) -> bool:
    """Add a role; returns False when the user already had it (nothing changes)."""
    _require_admin(actor)
    role = Role(role)
    if user.has_role(role):
        return False
    user.role_rows.append(UserRole(user_id=user.id, role=role.value, granted_by_id=actor.id))
    db.session.flush()
    audit.record(actor=actor, action="user.role_granted", obj=user, details={"role": role.value})
    return True


def revoke_role(*, actor: User, user: User, role: Role | str) -> bool:
    _require_admin(actor)
    role = Role(role)
    row = next((r for r in user.role_rows if r.role == role.value), None)
    if row is None:
        return False
    if role is Role.ADMIN and user.active and _active_admin_count() <= 1:
        raise Conflict("The last active administrator cannot lose the admin role. Make someone else admin first.")
    user.role_rows.remove(row)
    db.session.flush()
    audit.record(actor=actor, action="user.role_revoked", obj=user, details={"role": role.value})
    return True


def set_active(*, actor: User, user: User, active: bool, reason: str = "") -> None:
    _require_admin(actor)
    if user.active == active:
        return
    if not active:
        if user.id == actor.id:
            raise Conflict("You cannot deactivate your own account.")
        if user.is_admin and _active_admin_count() <= 1:
            raise Conflict("The last active administrator cannot be deactivated.")
        if not reason.strip():
            raise ValidationFailed("A reason is required.", {"reason": "Say why this account is deactivated."})
    user.active = active
    user.session_version += 1
    audit.record(
        actor=actor,
        action="user.activated" if active else "user.deactivated",
        obj=user,
        details={"reason": reason.strip()},
    )


def create_admin(*, email: str, password: str, name: str = "") -> tuple[User, bool]:
    """Create (or promote) an admin from the CLI; returns (user, created)."""
    normalized = normalize_email(email)
    user = db.session.execute(select(User).where(User.email == normalized)).scalar_one_or_none()
    created = user is None
    if user is None:
        check_password_rules(password, email=normalized)
        user = User(email=normalized, name=name, password_hash=hash_password(password), verified_at=utcnow())
        db.session.add(user)
        db.session.flush()
    system = get_system_user()
    for role in (Role.ADMIN, Role.STAFF):
        if not user.has_role(role):
            user.role_rows.append(UserRole(user_id=user.id, role=role.value, granted_by_id=system.id))
    db.session.flush()
    audit.record(actor=system, action="user.admin_created" if created else "user.admin_promoted", obj=user)
    return user, created


def get_system_user() -> User:
    """The non-person actor for CLI imports and clock-driven changes; it can never sign in."""
    user = db.session.execute(select(User).where(User.email == SYSTEM_EMAIL)).scalar_one_or_none()
    if user is None:
        user = User(email=SYSTEM_EMAIL, name="System", password_hash=None, is_system=True, verified_at=utcnow())
        db.session.add(user)
        db.session.flush()
    return user


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.is_system:
        raise NotFound("No such user.")
    return user


def list_users(*, query: str = "", role: str = "", status: str = "") -> list[User]:
    stmt = select(User).where(User.is_system.is_(False)).order_by(User.email)
    if query:
        stmt = stmt.where(contains_text(User.email, query) | contains_text(User.name, query))
    if role:
        stmt = stmt.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    if status == "active":
        stmt = stmt.where(User.active.is_(True))
    elif status == "inactive":
        stmt = stmt.where(User.active.is_(False))
    return list(db.session.execute(stmt).scalars())


def load_user_from_session(user_id: str) -> Any:
    """Flask-Login loader: id and session version must both match."""
    uid, _, version = user_id.partition(":")
    if not uid.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(uid))
    if user is None or user.session_version != int(version) or not user.active or user.is_system:
        return None
    return user
