"""The shared fixtures themselves (tests/conftest.py, tests/factories.py) behave as documented."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from challenges.accounts.models import Role, User
from challenges.accounts.services import authenticate
from challenges.extensions import db as _db
from challenges.models import Challenge
from tests.factories import PASSWORD, make_challenge, make_definition, make_user


def _rows() -> int:
    return sum(_db.session.execute(select(func.count()).select_from(t)).scalar_one()
               for t in _db.metadata.sorted_tables)


# These two run in file order: the second sees nothing the first committed or configured.
def test_harness_first_test_commits_and_changes_config(app, db, tmp_path):
    make_challenge()
    app.config["MAIL_SERVER"] = "mail.example.invalid"
    app.config["SIGNIN_RATE_LIMIT"] = "1 per day"

    assert _rows() > 0
    assert app.config["STORAGE_DIR"] == str(tmp_path / "storage")


def test_harness_second_test_starts_empty_with_pristine_config(app, db, tmp_path):
    assert _rows() == 0
    assert app.config["MAIL_SERVER"] is None
    assert app.config["SIGNIN_RATE_LIMIT"] == "10000 per minute"
    assert app.config["SITE_URL"] == "http://localhost"
    assert app.config["STORAGE_DIR"] == str(tmp_path / "storage")
    assert app.testing and app.config["JOBS_INLINE"] is True


def test_harness_database_is_the_configured_engine(app, db):
    url = app.config["SQLALCHEMY_DATABASE_URI"]

    assert url.startswith(("postgresql", "sqlite:///"))
    assert url != "sqlite://"  # a file, so other threads and connections share it
    # Built by the migrations (whose version row emptying the tables leaves alone), not create_all.
    assert db.session.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar_one() == 1


def test_login_as_role_signs_in_a_verified_user(app, db, client, login_as):
    user = login_as("judge")

    page = client.get("/account/")

    assert page.status_code == 200 and b"judge@example.gov" in page.data
    assert user.roles == {Role.JUDGE} and user.is_verified and user.active


def test_login_as_same_role_twice_reuses_the_user(app, db, login_as):
    first = login_as("staff")
    second = login_as("staff")

    assert first.id == second.id
    assert db.session.execute(select(func.count(User.id))).scalar_one() == 1


def test_login_as_user_and_anonymous(app, db, client, login_as):
    someone = make_user(email="someone@example.gov", roles=("member",))

    assert login_as(someone) is someone
    assert b"someone@example.gov" in client.get("/account/").data
    assert login_as("anonymous") is None
    signed_out = client.get("/account/")
    assert signed_out.status_code == 302 and "/account/sign-in" in signed_out.headers["Location"]


def test_login_as_unknown_role_refused(app, login_as):
    with pytest.raises(ValueError, match="unknown role 'wizard'"):
        login_as("wizard")


def test_run_cli_returns_click_result(app, db, run_cli):
    result = run_cli("challenges", "list", "--json")

    assert result.exit_code == 0 and result.output.strip() == "[]"


def test_smtp_sink_wait_for_times_out_with_clear_message(app, smtp_sink):
    assert app.config["MAIL_SERVER"] == "127.0.0.1" and app.config["MAIL_PORT"] == smtp_sink.port

    with pytest.raises(AssertionError, match=r"expected 1 message\(s\) at the SMTP sink, got 0"):
        smtp_sink.wait_for(1, timeout=0.1)


def test_make_user_defaults(app, db):
    first, second = make_user(), make_user(roles=("staff", "judge"), name="Pat", verified=False, active=False)

    assert first.email != second.email and first.email.endswith("@example.gov")
    assert first.roles == {Role.VENDOR} and first.is_verified and first.active
    assert second.roles == {Role.STAFF, Role.JUDGE} and not second.is_verified and not second.active
    assert second.name == "Pat"
    assert authenticate(email=first.email, password=PASSWORD).id == first.id


def test_make_definition_opens_yesterday_and_closes_in_thirty_days_new_york():
    today = datetime.now(ZoneInfo("America/New_York")).date()

    definition = make_definition(title="Other", agency="NASA")

    phase = definition["phases"][0]
    assert phase["opens_at"] == f"{today - timedelta(days=1)}T09:00"
    assert phase["closes_at"] == f"{today + timedelta(days=30)}T17:00"
    assert (definition["title"], definition["agency"], definition["timezone"]) == ("Other", "NASA",
                                                                                   "America/New_York")
    assert make_definition()["title"] == "Test Challenge"  # overrides never leak into the next call


def test_make_challenge_draft_and_published(app, db):
    author = make_user(email="writer@example.gov", roles=("staff",))

    draft = make_challenge(author=author, slug="a-draft")
    published = make_challenge(publish=True, slug="a-published")

    assert draft.status == "draft" and draft.created_by_id == author.id
    assert published.status == "published"
    assert published.approved_by_id not in (None, published.created_by_id)
    assert db.session.execute(select(func.count(Challenge.id))).scalar_one() == 2
