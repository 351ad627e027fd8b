"""challenges/accounts/services.py: registration, tokens, sign-in, password reset, roles, deactivation."""

import json
import re

import pytest
from sqlalchemy import func, select

from challenges import jobs
from challenges.accounts import services
from challenges.accounts.models import Role, User
from challenges.audit import AuditEvent, verify
from challenges.errors import Conflict, PermissionDenied, ValidationFailed
from challenges.mail import OutboxMessage
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "a completely new passphrase"


def _events(db, action: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.seq)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.session.execute(stmt).scalars())


def _users(db) -> int:
    return db.session.execute(select(func.count(User.id))).scalar_one()


def _outbox(db) -> list[OutboxMessage]:
    return list(db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def _link(text: str) -> str:
    return re.search(r"http://\S+", text).group(0)


# --- registration ---------------------------------------------------------------------------


def test_register_normalises_and_lower_cases_email(app, db):
    user = services.register(email="  Pat.Vendor@Example.COM ", password=PASSWORD, name=" Pat ")
    db.session.commit()

    stored = db.session.execute(select(User)).scalar_one()
    assert stored.id == user.id
    assert stored.email == "pat.vendor@example.com" and stored.name == "Pat"
    assert not stored.is_verified and stored.active and stored.session_version == 1
    assert stored.password_hash.startswith("$argon2") and PASSWORD not in stored.password_hash


def test_register_queues_exactly_one_verification_email(app, db):
    services.register(email="new@example.gov", password=PASSWORD)
    db.session.commit()

    messages = _outbox(db)
    assert len(messages) == 1
    message = messages[0]
    assert message.to_addr == "new@example.gov" and message.template == "verify_email"
    assert message.subject == "Confirm your email address" and message.sent_at is None
    assert _link(message.body_text).startswith("http://localhost/account/verify/")
    assert "168 hours" in message.body_text  # VERIFY_TOKEN_MAX_AGE, 7 days


def test_register_writes_audit_event_with_roles(app, db):
    user = services.register(email="judge@example.gov", password=PASSWORD, roles=(Role.JUDGE,))
    db.session.commit()

    assert user.roles == {Role.JUDGE}
    [event] = _events(db)
    assert (event.action, event.object_type, event.object_id) == ("user.registered", "user", str(user.id))
    assert event.details == {"roles": ["judge"]} and event.actor_id == user.id


@pytest.mark.parametrize("email", ["dup@example.gov", "DUP@Example.gov", "  dup@EXAMPLE.GOV  "])
def test_register_duplicate_email_refused_case_insensitively(app, db, email):
    make_user(email="dup@example.gov")

    with pytest.raises(Conflict) as err:
        services.register(email=email, password=PASSWORD)

    assert err.value.errors["email"] == (
        "An account with this email already exists. Sign in or reset your password."
    )
    db.session.rollback()
    assert _users(db) == 1 and _outbox(db) == []


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.gov", "", "spaces in@example.gov"])
def test_register_invalid_email_refused(app, db, email):
    with pytest.raises(ValidationFailed) as err:
        services.register(email=email, password=PASSWORD)

    assert err.value.errors["email"].startswith("Enter a valid email address")
    db.session.rollback()
    assert _users(db) == 0 and _events(db) == []


@pytest.mark.parametrize(("password", "text"), [
    ("short", "Use at least 12 characters"),
    ("x" * 11, "Use at least 12 characters"),
    ("x" * 257, "Use at most 256 characters"),
    ("same@example.gov", "Do not use your email address"),
])
def test_register_bad_password_refused(app, db, password, text):
    with pytest.raises(ValidationFailed) as err:
        services.register(email="same@example.gov", password=password)

    assert text in err.value.errors["password"]
    db.session.rollback()
    assert _users(db) == 0 and _outbox(db) == []


def test_register_twelve_character_password_accepted(app, db):
    user = services.register(email="ok@example.gov", password="x" * 12)

    assert user.id is not None


# --- tokens and verification ----------------------------------------------------------------


def test_verify_email_marks_verified_once_and_audits(app, db):
    user = make_user(email="v@example.gov", verified=False)
    token = services.make_token(user, "verify-email")

    services.verify_email(token=token)
    db.session.commit()
    first = user.verified_at
    services.verify_email(token=token)  # following the link again changes nothing
    db.session.commit()

    assert first is not None and user.verified_at == first
    assert [e.action for e in _events(db)] == ["user.verified"]


def test_read_token_expired_refused(app, db):
    user = make_user(email="v@example.gov", verified=False)
    token = services.make_token(user, "verify-email")

    with pytest.raises(ValidationFailed, match=r"This link has expired\. Ask for a new one\."):
        services.read_token(token, "verify-email", max_age=-1)

    assert services.read_token(token, "verify-email", max_age=60).id == user.id


@pytest.mark.parametrize("mangle", [lambda t: t + "x", lambda t: t[:-3], lambda t: "x" + t[1:], lambda t: ""])
def test_read_token_altered_refused(app, db, mangle):
    user = make_user(email="v@example.gov", verified=False)
    token = services.make_token(user, "verify-email")

    with pytest.raises(ValidationFailed, match="This link is not valid"):
        services.read_token(mangle(token), "verify-email", max_age=3600)


def test_read_token_for_other_purpose_refused(app, db):
    user = make_user(email="v@example.gov")
    token = services.make_token(user, "verify-email")

    with pytest.raises(ValidationFailed, match="This link is not valid"):
        services.read_token(token, "reset-password", max_age=3600)


def test_read_token_for_changed_account_refused(app, db):
    user = make_user(email="c@example.gov")
    token = services.make_token(user, "reset-password")
    user.session_version += 1
    db.session.commit()

    with pytest.raises(ValidationFailed, match=r"This link is no longer valid\. Ask for a new one\."):
        services.read_token(token, "reset-password", max_age=3600)


def test_read_token_after_email_change_refused(app, db):
    user = make_user(email="old@example.gov")
    token = services.make_token(user, "verify-email")
    user.email = "new@example.gov"
    db.session.commit()

    with pytest.raises(ValidationFailed, match="no longer valid"):
        services.read_token(token, "verify-email", max_age=3600)


def test_send_verification_for_verified_user_sends_nothing(app, db):
    user = make_user(email="done@example.gov", verified=True)

    services.send_verification(user=user)

    assert _outbox(db) == []


# --- sign-in --------------------------------------------------------------------------------


def test_authenticate_right_password_returns_user_and_stamps_sign_in(app, db):
    user = make_user(email="a@example.gov")

    signed_in = services.authenticate(email=" A@EXAMPLE.GOV ", password=PASSWORD)

    assert signed_in is not None and signed_in.id == user.id
    assert signed_in.last_sign_in_at is not None


@pytest.mark.parametrize(("email", "password"), [
    ("a@example.gov", "wrong wrong wrong"),
    ("a@example.gov", ""),
    ("nobody@example.gov", PASSWORD),
    ("not an email", PASSWORD),
    ("gone@example.gov", PASSWORD),
])
def test_authenticate_returns_none(app, db, email, password):
    make_user(email="a@example.gov")
    make_user(email="gone@example.gov", active=False)

    assert services.authenticate(email=email, password=password) is None


def test_authenticate_system_user_never_signs_in(app, db):
    system = services.get_system_user()
    db.session.commit()

    assert system.password_hash is None and system.is_system
    assert services.authenticate(email=services.SYSTEM_EMAIL, password="") is None
    assert services.load_user_from_session(system.get_id()) is None
    assert services.get_system_user().id == system.id  # one system user, created once


@pytest.mark.parametrize("session_id", ["", "abc", "1", "1:", ":1", "999:1", "1:x"])
def test_load_user_from_session_malformed_or_unknown_is_none(app, db, session_id):
    make_user(email="a@example.gov")

    assert services.load_user_from_session(session_id) is None


def test_load_user_from_session_current_version_loads(app, db):
    user = make_user(email="a@example.gov")

    assert services.load_user_from_session(user.get_id()).id == user.id


# --- password reset and change --------------------------------------------------------------


def test_request_password_reset_queues_link_for_known_account(app, db):
    make_user(email="r@example.gov")

    services.request_password_reset(email="R@example.gov")

    [message] = _outbox(db)
    assert message.to_addr == "r@example.gov" and message.subject == "Reset your password"
    assert _link(message.body_text).startswith("http://localhost/account/reset/")


@pytest.mark.parametrize("email", ["nobody@example.gov", "gone@example.gov", services.SYSTEM_EMAIL, "junk"])
def test_request_password_reset_unknown_inactive_or_system_sends_nothing(app, db, email):
    make_user(email="gone@example.gov", active=False)
    services.get_system_user()

    services.request_password_reset(email=email)

    assert _outbox(db) == []


def test_reset_password_bumps_session_version_and_old_token_refused(app, db):
    user = make_user(email="r@example.gov", verified=False)
    old_session = user.get_id()
    token = services.make_token(user, "reset-password")

    services.reset_password(token=token, password=NEW_PASSWORD)
    db.session.commit()

    assert user.session_version == 2
    assert user.is_verified  # reading the mail proved the address
    assert services.load_user_from_session(old_session) is None
    assert services.authenticate(email="r@example.gov", password=PASSWORD) is None
    assert services.authenticate(email="r@example.gov", password=NEW_PASSWORD).id == user.id
    with pytest.raises(ValidationFailed, match="no longer valid"):
        services.reset_password(token=token, password="and yet another passphrase")
    assert [e.action for e in _events(db)] == ["user.password_reset"]


def test_reset_password_short_password_refused_and_token_still_works(app, db):
    user = make_user(email="r@example.gov")
    token = services.make_token(user, "reset-password")

    with pytest.raises(ValidationFailed) as err:
        services.reset_password(token=token, password="short")
    db.session.rollback()

    assert "at least 12" in err.value.errors["password"]
    assert user.session_version == 1 and _events(db) == []
    assert services.read_token(token, "reset-password", max_age=3600).id == user.id


def test_change_password_needs_current_password(app, db):
    user = make_user(email="p@example.gov")

    with pytest.raises(ValidationFailed) as err:
        services.change_password(user=user, current="not my password", new=NEW_PASSWORD)

    assert err.value.errors == {"current_password": "That is not your current password."}
    assert user.session_version == 1


def test_change_password_bumps_session_version_and_audits(app, db):
    user = make_user(email="p@example.gov")

    services.change_password(user=user, current=PASSWORD, new=NEW_PASSWORD)
    db.session.commit()

    assert user.session_version == 2
    assert services.authenticate(email="p@example.gov", password=NEW_PASSWORD) is not None
    assert [e.action for e in _events(db)] == ["user.password_changed"]


# --- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("actor_roles", [("staff",), ("vendor",), ("judge", "member")])
def test_grant_and_revoke_role_non_admin_refused(app, db, actor_roles):
    actor = make_user(email="actor@example.gov", roles=actor_roles)
    target = make_user(email="t@example.gov", roles=("vendor",))

    with pytest.raises(PermissionDenied, match="Only an administrator"):
        services.grant_role(actor=actor, user=target, role=Role.JUDGE)
    with pytest.raises(PermissionDenied, match="Only an administrator"):
        services.revoke_role(actor=actor, user=target, role=Role.VENDOR)

    assert target.roles == {Role.VENDOR} and _events(db) == []


def test_grant_role_without_actor_refused(app, db):
    target = make_user(email="t@example.gov")

    with pytest.raises(PermissionDenied):
        services.grant_role(actor=None, user=target, role="admin")


def test_grant_role_adds_role_and_audits_once(app, db):
    admin = make_user(email="admin@example.gov", roles=("admin",))
    target = make_user(email="t@example.gov", roles=("vendor",))

    assert services.grant_role(actor=admin, user=target, role="judge") is True
    assert services.grant_role(actor=admin, user=target, role=Role.JUDGE) is False  # already held
    db.session.commit()
    db.session.expire_all()

    assert db.session.get(User, target.id).roles == {Role.VENDOR, Role.JUDGE}
    [event] = _events(db)
    assert (event.action, event.object_id, event.actor_id) == ("user.role_granted", str(target.id), admin.id)
    assert event.details == {"role": "judge"}


def test_grant_role_unknown_role_refused(app, db):
    admin = make_user(email="admin@example.gov", roles=("admin",))

    with pytest.raises(ValueError, match="wizard"):
        services.grant_role(actor=admin, user=admin, role="wizard")


def test_revoke_role_removes_role_and_audits(app, db):
    admin = make_user(email="admin@example.gov", roles=("admin",))
    target = make_user(email="t@example.gov", roles=("vendor", "judge"))

    assert services.revoke_role(actor=admin, user=target, role="vendor") is True
    assert services.revoke_role(actor=admin, user=target, role="staff") is False  # never held
    db.session.commit()
    db.session.expire_all()

    assert db.session.get(User, target.id).roles == {Role.JUDGE}
    assert [(e.action, e.details) for e in _events(db)] == [("user.role_revoked", {"role": "vendor"})]


def test_revoke_role_last_admin_refused(app, db):
    admin = make_user(email="only@example.gov", roles=("admin",))

    with pytest.raises(Conflict, match="The last active administrator cannot lose the admin role"):
        services.revoke_role(actor=admin, user=admin, role="admin")

    assert admin.roles == {Role.ADMIN} and _events(db) == []


def test_revoke_role_admin_allowed_when_another_admin_remains(app, db):
    first = make_user(email="first@example.gov", roles=("admin",))
    second = make_user(email="second@example.gov", roles=("admin",))

    services.revoke_role(actor=second, user=first, role="admin")
    db.session.commit()

    assert first.roles == set()
    with pytest.raises(Conflict, match="last active administrator"):
        services.revoke_role(actor=second, user=second, role="admin")


def test_revoke_role_inactive_admins_do_not_count(app, db):
    active = make_user(email="active@example.gov", roles=("admin",))
    make_user(email="dormant@example.gov", roles=("admin",), active=False)

    with pytest.raises(Conflict, match="last active administrator"):
        services.revoke_role(actor=active, user=active, role="admin")


# --- activation -----------------------------------------------------------------------------


def test_set_active_non_admin_refused(app, db):
    staff = make_user(email="staff@example.gov", roles=("staff",))
    target = make_user(email="t@example.gov")

    with pytest.raises(PermissionDenied):
        services.set_active(actor=staff, user=target, active=False, reason="Because")

    assert target.active


def test_set_active_own_account_refused(app, db):
    admin = make_user(email="only@example.gov", roles=("admin",))

    with pytest.raises(Conflict, match="You cannot deactivate your own account"):
        services.set_active(actor=admin, user=admin, active=False, reason="Leaving")

    assert admin.active and _events(db) == []


def test_set_active_last_active_admin_refused(app, db):
    """A deactivated admin's stale session cannot remove the only administrator left."""
    remaining = make_user(email="remaining@example.gov", roles=("admin",))
    stale = make_user(email="stale@example.gov", roles=("admin",), active=False)

    # Refused before any rule about the target is even consulted: an inactive admin is no admin.
    with pytest.raises(PermissionDenied, match="Only an administrator"):
        services.set_active(actor=stale, user=remaining, active=False, reason="Takeover")

    assert remaining.active


@pytest.mark.parametrize("reason", ["", "   "])
def test_set_active_deactivation_needs_reason(app, db, reason):
    admin = make_user(email="admin@example.gov", roles=("admin",))
    target = make_user(email="t@example.gov")

    with pytest.raises(ValidationFailed) as err:
        services.set_active(actor=admin, user=target, active=False, reason=reason)

    assert err.value.errors == {"reason": "Say why this account is deactivated."}
    assert target.active and target.session_version == 1


def test_set_active_deactivation_ends_sessions_and_audits(app, db):
    admin = make_user(email="admin@example.gov", roles=("admin",))
    target = make_user(email="t@example.gov")
    old_session = target.get_id()

    services.set_active(actor=admin, user=target, active=False, reason="  Left the company ")
    db.session.commit()

    assert not target.active and target.session_version == 2
    assert services.load_user_from_session(old_session) is None
    assert services.load_user_from_session(target.get_id()) is None  # inactive: no session at all
    assert services.authenticate(email="t@example.gov", password=PASSWORD) is None
    [event] = _events(db)
    assert (event.action, event.actor_id, event.object_id) == ("user.deactivated", admin.id, str(target.id))
    assert event.details == {"reason": "Left the company"}


def test_set_active_reactivation_audits_and_no_reason_needed(app, db):
    admin = make_user(email="admin@example.gov", roles=("admin",))
    target = make_user(email="t@example.gov", active=False)

    services.set_active(actor=admin, user=target, active=True)
    services.set_active(actor=admin, user=target, active=True)  # no change, no event
    db.session.commit()

    assert target.active
    assert services.authenticate(email="t@example.gov", password=PASSWORD) is not None
    assert [e.action for e in _events(db)] == ["user.activated"]


def test_account_state_changes_keep_audit_chain_intact(app, db):
    admin = make_user(email="admin@example.gov", roles=("admin",))
    user = services.register(email="flow@example.gov", password=PASSWORD)
    services.verify_email(token=services.make_token(user, "verify-email"))
    services.grant_role(actor=admin, user=user, role="judge")
    services.revoke_role(actor=admin, user=user, role="judge")
    services.set_active(actor=admin, user=user, active=False, reason="Test")
    services.set_active(actor=admin, user=user, active=True)
    db.session.commit()

    assert [e.action for e in _events(db)] == [
        "user.registered", "user.verified", "user.role_granted", "user.role_revoked",
        "user.deactivated", "user.activated",
    ]
    assert verify().ok


# --- CLI ------------------------------------------------------------------------------------


def test_cli_create_admin_creates_then_promotes(app, db, run_cli):
    created = run_cli("users", "create-admin", "Boss@Example.gov", "--password", PASSWORD, "--name", "Boss")
    again = run_cli("users", "create-admin", "boss@example.gov", "--password", PASSWORD)

    assert created.exit_code == 0 and "Created administrator boss@example.gov" in created.output
    assert again.exit_code == 0 and "Promoted administrator boss@example.gov" in again.output
    user = db.session.execute(select(User).where(User.email == "boss@example.gov")).scalar_one()
    assert user.roles == {Role.ADMIN, Role.STAFF} and user.is_verified and user.name == "Boss"
    assert [e.action for e in _events(db)] == ["user.admin_created", "user.admin_promoted"]
    assert all(e.actor_email == services.SYSTEM_EMAIL for e in _events(db))


@pytest.mark.parametrize(("args", "text"), [
    (("not-an-email", "--password", PASSWORD), "valid email"),
    (("boss@example.gov", "--password", "short"), "at least 12"),
])
def test_cli_create_admin_bad_input_exits_1(app, db, run_cli, args, text):
    result = run_cli("users", "create-admin", *args)

    assert result.exit_code == 1 and text in result.output
    assert db.session.execute(select(func.count(User.id)).where(User.is_system.is_(False))).scalar_one() == 0


def test_cli_users_list_json(app, db, run_cli):
    make_user(email="b@example.gov", roles=("judge", "member"), name="Bee")
    make_user(email="a@example.gov", roles=("vendor",), active=False, verified=False)

    result = run_cli("users", "list", "--json")

    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {"email": "a@example.gov", "name": "", "roles": ["vendor"], "active": False, "verified": False},
        {"email": "b@example.gov", "name": "Bee", "roles": ["judge", "member"], "active": True, "verified": True},
    ]


# --- mail over SMTP -------------------------------------------------------------------------


def test_register_verification_mail_arrives_over_smtp(app, db, smtp_sink):
    services.register(email="mailme@example.gov", password=PASSWORD, name="Mai")
    db.session.commit()

    jobs.dispatch_committed()  # what the request/CLI does after its commit
    [message] = smtp_sink.wait_for(1)

    assert message["To"] == "mailme@example.gov"
    assert message.envelope_to == ["mailme@example.gov"]
    assert message["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert message["Subject"] == "Confirm your email address"
    body = message.get_content()
    assert body.startswith("Hello,") and "Mai" not in body  # a name typed by anyone never goes into mail
    link = _link(body)
    assert link.startswith(app.config["SITE_URL"] + "/account/verify/")
    row = db.session.execute(select(OutboxMessage)).scalar_one()
    assert row.sent_at is not None and row.backend == "smtp" and row.attempts == 1
    # The token in the delivered link verifies the account.
    user = services.verify_email(token=link.rsplit("/", 1)[1])
    assert user.email == "mailme@example.gov" and user.is_verified


def test_deactivated_admin_and_staff_cannot_act_through_services(app, db):
    from challenges import services as challenge_services

    admin = make_user(email="former-admin@example.gov", roles=("admin", "staff"), active=False)
    target = make_user(email="someone@example.gov", roles=("vendor",))
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=admin, user=target, role="judge")
    with pytest.raises(PermissionDenied):
        challenge_services.create_challenge(actor=admin, title="T", slug="former-staff")
