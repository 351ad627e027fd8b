import pytest
from sqlalchemy import func, select

from challenges import jobs
from challenges.accounts import services
from challenges.accounts.models import Role, User
from challenges.audit import AuditEvent
from challenges.errors import Conflict, PermissionDenied, ValidationFailed
from challenges.mail import OutboxMessage
from tests.factories import PASSWORD, make_user


def _actions(db) -> list[str]:
    return db.session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars().all()


def test_register_normalises_email_and_queues_one_verification(app, db):
    user = services.register(email="  Pat.Vendor@Example.COM ", password=PASSWORD, name=" Pat ")
    db.session.commit()
    assert user.email == "pat.vendor@example.com" and user.name == "Pat"
    assert not user.is_verified
    messages = db.session.execute(select(OutboxMessage)).scalars().all()
    assert len(messages) == 1 and messages[0].to_addr == "pat.vendor@example.com"
    assert "http://localhost/account/verify/" in messages[0].body_text
    assert _actions(db) == ["user.registered"]


def test_register_refuses_duplicate_in_any_case(app, db):
    make_user(email="dup@example.gov")
    with pytest.raises(Conflict) as err:
        services.register(email="DUP@example.gov", password=PASSWORD)
    assert "already exists" in err.value.errors["email"]


@pytest.mark.parametrize(("email", "password", "field", "text"), [
    ("not-an-email", PASSWORD, "email", "valid email"),
    ("a@b", PASSWORD, "email", "valid email"),
    ("ok@example.gov", "short", "password", "at least 12"),
    ("ok@example.gov", "x" * 257, "password", "at most 256"),
    ("samepass@example.gov", "samepass@example.gov", "password", "email address"),
])
def test_register_bad_input(app, db, email, password, field, text):
    with pytest.raises(ValidationFailed) as err:
        services.register(email=email, password=password)
    assert text in err.value.errors[field]
    db.session.rollback()
    assert db.session.execute(select(func.count(User.id))).scalar_one() == 0


def test_verification_token_round_trip_and_expiry(app, db):
    user = make_user(email="v@example.gov", verified=False)
    token = services.make_token(user, "verify-email")
    with pytest.raises(ValidationFailed, match="expired"):
        services.read_token(token, "verify-email", max_age=-1)
    with pytest.raises(ValidationFailed, match="not valid"):
        services.read_token(token + "x", "verify-email", max_age=3600)
    with pytest.raises(ValidationFailed, match="not valid"):
        services.read_token(token, "reset-password", max_age=3600)  # another purpose
    assert services.verify_email(token=token).is_verified


def test_token_refused_after_account_changes(app, db):
    user = make_user(email="c@example.gov")
    token = services.make_token(user, "reset-password")
    user.session_version += 1
    db.session.commit()
    with pytest.raises(ValidationFailed, match="no longer valid"):
        services.read_token(token, "reset-password", max_age=3600)


def test_reset_password_is_single_use(app, db):
    user = make_user(email="r@example.gov")
    token = services.make_token(user, "reset-password")
    services.reset_password(token=token, password="a completely new passphrase")
    db.session.commit()
    assert services.authenticate(email="r@example.gov", password="a completely new passphrase") is not None
    with pytest.raises(ValidationFailed):
        services.reset_password(token=token, password="and yet another passphrase")


def test_authenticate_failures(app, db):
    make_user(email="a@example.gov")
    make_user(email="gone@example.gov", active=False)
    assert services.authenticate(email="a@example.gov", password="wrong wrong wrong") is None
    assert services.authenticate(email="nobody@example.gov", password=PASSWORD) is None
    assert services.authenticate(email="gone@example.gov", password=PASSWORD) is None
    assert services.authenticate(email="A@EXAMPLE.GOV", password=PASSWORD).email == "a@example.gov"


def test_system_user_can_never_sign_in(app, db):
    system = services.get_system_user()
    db.session.commit()
    assert system.password_hash is None
    assert services.authenticate(email=services.SYSTEM_EMAIL, password="") is None
    assert services.load_user_from_session(system.get_id()) is None


def test_roles_are_admin_only_and_audited(app, db):
    admin = make_user(email="admin@example.gov", roles=("admin",))
    staff = make_user(email="staff@example.gov", roles=("staff",))
    target = make_user(email="t@example.gov", roles=("vendor",))
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=staff, user=target, role=Role.JUDGE)
    assert services.grant_role(actor=admin, user=target, role="judge") is True
    assert services.grant_role(actor=admin, user=target, role="judge") is False
    assert services.revoke_role(actor=admin, user=target, role="vendor") is True
    db.session.commit()
    assert target.roles == {Role.JUDGE}
    assert _actions(db)[-2:] == ["user.role_granted", "user.role_revoked"]


def test_last_admin_is_protected(app, db):
    admin = make_user(email="only@example.gov", roles=("admin",))
    with pytest.raises(Conflict, match="last active administrator"):
        services.revoke_role(actor=admin, user=admin, role="admin")
    with pytest.raises(Conflict, match="cannot deactivate your own account"):
        services.set_active(actor=admin, user=admin, active=False, reason="x")
    other = make_user(email="other@example.gov", roles=("admin",))
    services.revoke_role(actor=other, user=admin, role="admin")
    db.session.commit()
    assert admin.roles == set()


def test_deactivation_needs_reason_and_ends_sessions(app, db):
    admin = make_user(email="admin@example.gov", roles=("admin",))
    target = make_user(email="t@example.gov")
    old_id = target.get_id()
    with pytest.raises(ValidationFailed, match="reason"):
        services.set_active(actor=admin, user=target, active=False, reason=" ")
    services.set_active(actor=admin, user=target, active=False, reason="Left the company")
    db.session.commit()
    assert services.load_user_from_session(old_id) is None
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.deactivated")).scalar_one()
    assert event.details == {"reason": "Left the company"}


def test_create_admin_cli(app, db, run_cli):
    result = run_cli("users", "create-admin", "Boss@Example.gov", "--password", PASSWORD)
    assert result.exit_code == 0 and "Created administrator boss@example.gov" in result.output
    again = run_cli("users", "create-admin", "boss@example.gov", "--password", PASSWORD)
    assert "Promoted" in again.output
    bad = run_cli("users", "create-admin", "not-an-email", "--password", PASSWORD)
    assert bad.exit_code == 1 and "valid email" in bad.output
    user = db.session.execute(select(User).where(User.email == "boss@example.gov")).scalar_one()
    assert user.roles == {Role.ADMIN, Role.STAFF}
    listing = run_cli("users", "list", "--json")
    assert '"boss@example.gov"' in listing.output


def test_verification_mail_arrives_over_smtp(app, db, smtp_sink):
    services.register(email="mailme@example.gov", password=PASSWORD)
    db.session.commit()
    jobs.dispatch_committed()
    message = smtp_sink.wait_for(1)[0]
    assert message["To"] == "mailme@example.gov"
    assert message["Subject"] == "Confirm your email address"
    assert "http://localhost/account/verify/" in message.get_content()
    row = db.session.execute(select(OutboxMessage)).scalar_one()
    assert row.sent_at is not None and row.backend == "smtp"
