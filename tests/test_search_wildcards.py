"""Search boxes treat % and _ as text: typed into a search they are what the person is looking for, not
SQL wildcards that match everything (or any one character)."""

from __future__ import annotations

from challenges import services as challenge_services
from challenges.accounts import services as accounts
from challenges.submissions import services as subs
from tests.factories import make_challenge, make_submission, make_user


def test_staff_and_public_challenge_search(db):
    make_challenge(publish=True, slug="full-percent", title="100% uptime for forms")
    make_challenge(publish=True, slug="plain-one", title="1000 forms a day")
    make_challenge(publish=True, slug="snake", title="Name_with_underscores")
    make_challenge(publish=True, slug="camel", title="NameXwithXletters")
    db.session.commit()

    def public(query):
        return {c.slug for c in challenge_services.list_public_challenges(query=query)}

    assert public("100%") == {"full-percent"}  # as a wildcard, "100%" also matched "1000 forms"
    assert public("0% u") == {"full-percent"}
    staff = {c.slug for c in challenge_services.list_for_staff(query="name_with")}
    assert staff == {"snake"}  # as a wildcard "_" matched the X too
    assert {c.slug for c in challenge_services.list_for_staff(query="%")} == {"full-percent"}
    assert len(challenge_services.list_public_challenges(query="")) == 4  # an empty box still lists all


def test_application_and_user_search(db):
    phase = make_challenge(publish=True, slug="wild-apps").phases[0]
    make_submission(make_user(email="a_b@vendor-one.com"), phase, organization_name="A_B Labs")
    make_submission(make_user(email="axb@vendor-two.com"), phase, organization_name="AXB Labs")
    make_submission(make_user(email="pct@vendor-three.com"), phase, organization_name="Ninety% Robotics")
    db.session.commit()
    names = {s.organization.legal_name for s in subs.list_applications(phase=phase, query="a_b")}
    assert names == {"A_B Labs"}
    assert {s.organization.legal_name for s in subs.list_applications(phase=phase, query="%")} == {"Ninety% Robotics"}
    assert len(subs.list_applications(phase=phase, query="labs")) == 2
    emails = {u.email for u in accounts.list_users(query="a_b@")}
    assert emails == {"a_b@vendor-one.com"}


def test_audit_log_filters_treat_wildcards_as_text(client, db, login_as):
    admin = make_user(email="wild_admin@example.gov", roles=("admin", "staff"))
    make_user(email="wildXadmin@example.gov", roles=("staff",))
    make_challenge(publish=True, slug="audited", author=admin)
    db.session.commit()
    login_as(admin)
    page = client.get("/staff/audit/?actor=wild_admin").text
    assert "wild_admin@example.gov" in page
    everything = client.get("/staff/audit/?action=%25").text  # "%" as the action prefix: no action starts so
    assert "wild_admin@example.gov" not in everything
