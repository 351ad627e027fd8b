"""Vendor input that used to break things far from where it was typed: a line break in a name stopping
every email, numbers that are not numbers, long subjects, and submitting what was withdrawn."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from challenges import mail
from challenges.audit import AuditEvent
from challenges.errors import Conflict, ValidationFailed
from challenges.mail import OutboxMessage, deliver_pending
from challenges.models import FormField
from challenges.submissions import services as subs
from challenges.text import one_line, one_line_problem
from tests.factories import make_challenge, make_submission, make_user


def test_one_line_rules():
    assert one_line_problem("Acme Corp", 300) is None
    assert one_line_problem("Acme\nCorp", 300).startswith("Use plain text on one line")
    assert one_line_problem("Acme\u200bCorp", 300)  # zero-width space: looks like "AcmeCorp"
    assert one_line_problem("A" * 301, 300) == "Use at most 300 characters (this has 301)."
    assert one_line("Join Acme\r\nCorp\x00 now", 300) == "Join Acme Corp now"
    assert one_line("x" * 400, 300) == "x" * 299 + "…"


def test_organisation_names_and_contacts_refuse_line_breaks_and_overlong_values(db):
    vendor = make_user(email="typist@vendor.com", roles=("vendor",))
    with pytest.raises(ValidationFailed) as err:
        subs.save_organization(actor=vendor, legal_name="Acme\nCorp", poc_name="Ann\rLee", poc_phone="5" * 41,
                               website="https://acme.example/" + "a" * 500)
    assert set(err.value.errors) == {"legal_name", "poc_name", "poc_phone", "website"}
    assert "line breaks" in err.value.errors["legal_name"]
    assert err.value.errors["poc_phone"] == "Use at most 40 characters (this has 41)."
    assert subs.organizations_of(vendor) == []


def test_one_malformed_message_does_not_hold_up_the_outbox(app, db):
    bad = mail.queue(to="a@example.com", subject="fine", template="verify_email", user=None, link="http://x/1")
    bad.headers = {"X-Bad": "line\nbreak"}  # as if stored before the checks: the email library refuses it
    good = mail.queue(to="b@example.com", subject="Receipt\r\nfor you", template="verify_email", user=None,
                      link="http://x/2")
    db.session.commit()
    assert good.subject == "Receipt for you"
    assert deliver_pending() == {"sent": 1, "failed": 1}
    db.session.expire_all()
    bad, good = db.session.get(OutboxMessage, bad.id), db.session.get(OutboxMessage, good.id)
    assert good.sent_at is not None
    assert bad.sent_at is None and bad.last_error.startswith("cannot be built: ValueError")
    assert bad.attempts == app.config["MAIL_MAX_ATTEMPTS"]  # never retried: it cannot succeed
    assert deliver_pending() == {"sent": 0, "failed": 0}


@pytest.fixture
def application(db):
    challenge = make_challenge(publish=True, slug="numbers")
    phase = challenge.phases[0]
    db.session.add(FormField(phase_id=phase.id, key="budget", label="Budget", type="number", order=9))
    db.session.commit()
    vendor = make_user(email="counter@vendor.com", roles=("vendor",))
    submission, _ = make_submission(vendor, phase)
    return vendor, submission


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-Infinity", "1e999"])
def test_numbers_must_be_finite(db, application, raw):
    vendor, submission = application
    with pytest.raises(ValidationFailed) as err:
        subs.save_answers(actor=vendor, submission=submission, answers={"budget": raw})
    assert err.value.errors == {"budget": "Enter a number, such as 42 or 3.5."}
    assert "budget" not in (submission.answers or {})
    subs.save_answers(actor=vendor, submission=submission, answers={"budget": "1e6"})
    assert submission.answers["budget"] == 1_000_000


def test_a_nul_character_in_an_answer_is_refused(db, application):
    vendor, submission = application
    with pytest.raises(ValidationFailed) as err:
        subs.save_answers(actor=vendor, submission=submission, answers={"summary": "pasted\x00text"})
    assert "NUL" in err.value.errors["summary"]


def test_a_withdrawn_or_disqualified_application_is_not_submitted_again(client, login_as, db):
    phase = make_challenge(publish=True, slug="gone").phases[0]
    staff = make_user(email="gone.staff@example.gov", roles=("staff",))
    for n, (action, word) in enumerate((("withdraw", "withdrawn"), ("disqualify", "disqualified"))):
        vendor = make_user(email=f"leaver{n}@vendor.com", roles=("vendor",))
        submission, _ = make_submission(vendor, phase, organization_name=f"Leaver {n}", submit=True)
        if action == "withdraw":
            subs.withdraw(actor=vendor, submission=submission, reason="Changed plans")
        else:
            subs.disqualify(actor=staff, submission=submission, reason="Ineligible")
        db.session.commit()
        with pytest.raises(Conflict, match=f"was {word}"):
            subs.submit(actor=vendor, submission=submission)
        login_as(vendor)
        page = client.post(f"/vendor/applications/{submission.id}/submit", follow_redirects=True)
        assert "Submitted. Your entry code" not in page.text and f"was {word}" in page.text
        db.session.expire_all()
        assert submission.status == word


def test_group_email_subject_is_one_short_line(db):
    phase = make_challenge(publish=True, slug="subjects").phases[0]
    staff = make_user(email="subjects@example.gov", roles=("staff",))
    with pytest.raises(ValidationFailed) as err:
        subs.email_group(actor=staff, phase=phase, group="all", subject="S" * 201, body="Hello")
    assert err.value.errors["subject"] == "Use at most 200 characters (this has 201)."
    with pytest.raises(ValidationFailed) as err:
        subs.email_group(actor=staff, phase=phase, group="all", subject="Two\nlines", body="Hello")
    assert "line breaks" in err.value.errors["subject"]
    assert db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "applicant_message")).first() \
        is None


def test_submitting_an_incomplete_application_stays_on_the_application(client, login_as, db):
    from challenges.models import FormField as Field

    phase = make_challenge(publish=True, slug="incomplete").phases[0]
    db.session.add(Field(phase_id=phase.id, key="consent", label="I consent", type="checkbox", required=True,
                         help_text="HELP-CONSENT", order=8))
    db.session.commit()
    vendor = make_user(email="hasty@vendor.com", roles=("vendor",))
    submission, _ = make_submission(vendor, phase)
    login_as(vendor)
    page = client.post(f"/vendor/applications/{submission.id}/submit")
    assert page.status_code == 400
    assert "There is a problem" in page.text and 'href="#field-consent"' in page.text
    assert 'href="#field-rules"' in page.text and "The application is not complete." in page.text
    assert "HELP-CONSENT" in page.text and 'aria-describedby="field-consent-hint' in page.text
    assert "PDF; at most" in page.text  # the file question names the type, not application/pdf
    db.session.expire_all()
    assert submission.status == "draft" and submission.public_code is None


def test_adding_the_organisation_returns_to_the_apply_page(client, login_as, db):
    phase = make_challenge(publish=True, slug="come-back").phases[0]
    login_as("vendor")
    apply_path = f"/vendor/apply/{phase.challenge.slug}/{phase.key}"
    start = client.get(apply_path).text
    assert f'/vendor/organizations/new?next={apply_path}"' in start
    saved = client.post(f"/vendor/organizations/new?next={apply_path}", data={
        "legal_name": "Return Co", "sam_status": "registered", "business_size": "small"})
    assert saved.status_code == 302 and saved.headers["Location"] == apply_path
    elsewhere = client.post("/vendor/organizations/new?next=https://evil.example/", data={
        "legal_name": "Other Co", "sam_status": "registered", "business_size": "small"})
    assert elsewhere.headers["Location"] == "/vendor/"


def test_the_vendor_hears_of_a_disqualification_or_a_reopening(client, login_as, db):
    from datetime import timedelta

    from challenges.timezones import utcnow

    phase = make_challenge(publish=True, slug="told").phases[0]
    staff = make_user(email="told.staff@example.gov", roles=("staff",))
    vendor = make_user(email="told@vendor.com", roles=("vendor",))
    partner = make_user(email="partner@vendor.com", roles=("vendor",))
    reopened, _ = make_submission(vendor, phase, organization_name="Told Co", submit=True)
    from challenges.submissions.models import Membership

    db.session.add(Membership(organization_id=reopened.organization_id, user_id=partner.id, role="contributor"))
    db.session.commit()
    phase.closes_at = utcnow() - timedelta(hours=2)
    phase.opens_at = phase.closes_at - timedelta(days=3)
    until = utcnow() + timedelta(days=1)
    subs.reopen(actor=staff, submission=reopened, until=until, reason="Upload outage at 4:55 pm")
    db.session.commit()
    sent = db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "application_reopened")
                              ).scalars().all()
    assert sorted(m.to_addr for m in sent) == ["partner@vendor.com", "told@vendor.com"]
    assert "Upload outage at 4:55 pm" in sent[0].body_text and "You can change it until" in sent[0].body_text
    login_as(vendor)
    page = client.get(f"/vendor/applications/{reopened.id}").text
    assert "The programme team reopened this application" in page
    assert "Reopened until" in client.get("/vendor/").text

    subs.disqualify(actor=staff, submission=reopened, reason="Not a U.S. entity")
    db.session.commit()
    told = db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "application_disqualified")
                              ).scalars().all()
    assert len(told) == 2 and "Reason: Not a U.S. entity" in told[0].body_text
    page = client.get(f"/vendor/applications/{reopened.id}").text
    assert "The programme team disqualified this application" in page and "Not a U.S. entity" in page
    with pytest.raises(Conflict, match="was disqualified"):
        subs.reopen(actor=staff, submission=reopened, until=until, reason="Try again")


# --- organisation members ---------------------------------------------------------------------------


def test_owners_manage_members_and_invitations(client, login_as, db):
    from challenges.errors import NotFound, PermissionDenied
    from challenges.submissions.models import Invitation

    owner = make_user(email="boss@team.com", roles=("vendor",))
    org = subs.save_organization(actor=owner, legal_name="Team Co")
    helper = make_user(email="helper@team.com", roles=())
    link = subs.invite(actor=owner, organization=org, email="helper@team.com", role="contributor")
    token = db.session.execute(select(OutboxMessage).where(OutboxMessage.to_addr == "helper@team.com")
                               ).scalar_one().body_text.split("/vendor/invitations/")[1].split()[0]
    subs.accept_invitation(actor=helper, token=token)
    db.session.commit()
    assert link.accepted_at is not None
    # A contributor can neither remove people nor withdraw the organisation's application.
    with pytest.raises(PermissionDenied):
        subs.remove_member(actor=helper, organization=org, user_id=owner.id)
    submission, _ = make_submission(owner, make_challenge(publish=True, slug="team").phases[0],
                                    organization_name="Team Co", submit=True)
    with pytest.raises(PermissionDenied, match="Only an owner"):
        subs.withdraw(actor=helper, submission=submission, reason="oops")
    # The last owner stays an owner.
    with pytest.raises(Conflict, match="at least one owner"):
        subs.set_member_role(actor=owner, organization=org, user_id=owner.id, role="contributor")
    with pytest.raises(Conflict, match="at least one owner"):
        subs.remove_member(actor=owner, organization=org, user_id=owner.id)

    login_as(owner)
    page = client.get(f"/vendor/organizations/{org.id}").text
    assert "Make owner<span" in page and "Remove<span" in page
    assert client.post(f"/vendor/organizations/{org.id}/members/{helper.id}",
                       data={"action": "remove"}).status_code == 302
    db.session.expire_all()
    assert [m.user_id for m in org.memberships] == [owner.id]
    with pytest.raises(ValidationFailed, match="already used"):  # the old link does not let them back in
        subs.accept_invitation(actor=helper, token=token)
    with pytest.raises(NotFound):
        subs.get_for_vendor(helper, submission.id)

    pending = subs.invite(actor=owner, organization=org, email="later@team.com", role="owner")
    db.session.commit()
    assert "later@team.com (owner)" in client.get(f"/vendor/organizations/{org.id}").text
    revoked = client.post(f"/vendor/organizations/{org.id}/invitations/{pending.id}/revoke",
                          follow_redirects=True)
    assert "The invitation to later@team.com no longer works." in revoked.text
    assert db.session.execute(select(Invitation.id).where(Invitation.id == pending.id)).first() is None
    events = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert {"organization.member_removed", "organization.invitation_revoked"} <= set(events)


def test_a_contributor_can_leave_and_owners_can_promote(client, login_as, db):
    from challenges.submissions.models import Membership

    owner = make_user(email="lead@pair.com", roles=("vendor",))
    org = subs.save_organization(actor=owner, legal_name="Pair Co")
    other = make_user(email="second@pair.com", roles=("vendor",))
    db.session.add(Membership(organization_id=org.id, user_id=other.id, role="contributor"))
    db.session.commit()
    subs.set_member_role(actor=owner, organization=org, user_id=other.id, role="owner")
    subs.set_member_role(actor=other, organization=org, user_id=owner.id, role="contributor")  # now allowed
    db.session.commit()
    login_as(owner)
    left = client.post(f"/vendor/organizations/{org.id}/members/{owner.id}", data={"action": "remove"},
                       follow_redirects=True)
    assert "You left Pair Co." in left.text
    db.session.expire_all()
    assert [(m.user_id, m.role) for m in org.memberships] == [(other.id, "owner")]
    assert client.get(f"/vendor/organizations/{org.id}").status_code == 404


def test_the_grace_window_finishes_applications_under_way_but_starts_none(client, login_as, db):
    from datetime import timedelta

    from challenges.timezones import utcnow

    phase = make_challenge(publish=True, slug="grace").phases[0]
    vendor = make_user(email="slow@vendor.com", roles=("vendor",))
    under_way, _ = make_submission(vendor, phase, organization_name="Slow Co", accept_rules=True)
    phase.grace_seconds = 3600
    phase.closes_at = utcnow() - timedelta(minutes=20)  # closed 20 minutes ago, inside the hour of grace
    db.session.commit()
    assert phase.state(utcnow()) == "closed"
    page = client.get("/challenges/grace").text
    assert "(closed)" in page and "Apply to" not in page
    newcomer = make_user(email="late@vendor.com", roles=("vendor",))
    late_org = subs.save_organization(actor=newcomer, legal_name="Late Co")
    with pytest.raises(Conflict, match="not accepting"):
        subs.start_application(actor=newcomer, phase=phase, organization=late_org)
    login_as(newcomer)
    assert "and no longer takes new applications." in client.get("/vendor/apply/grace/phase-1").text
    receipt = subs.submit(actor=vendor, submission=under_way)  # the application already under way arrives
    assert receipt.received_at > phase.closes_at and under_way.status == "submitted"


def test_an_older_unused_invitation_cannot_bring_a_removed_member_back(db):
    owner = make_user(email="chief@twice.com", roles=("vendor",))
    org = subs.save_organization(actor=owner, legal_name="Twice Co")
    subs.invite(actor=owner, organization=org, email="alice@twice.com", role="owner")  # sent by mistake
    subs.invite(actor=owner, organization=org, email="alice@twice.com", role="contributor")
    db.session.commit()
    links = [m.body_text.split("/vendor/invitations/")[1].split()[0] for m in db.session.execute(
        select(OutboxMessage).where(OutboxMessage.to_addr == "alice@twice.com").order_by(OutboxMessage.id)).scalars()]
    alice = make_user(email="alice@twice.com", roles=())
    subs.accept_invitation(actor=alice, token=links[1])
    assert subs.pending_invitations(org) == []  # the other invitation is spent too
    subs.remove_member(actor=owner, organization=org, user_id=alice.id)
    db.session.commit()
    with pytest.raises(ValidationFailed, match="already used"):
        subs.accept_invitation(actor=alice, token=links[0])
    assert [m.user_id for m in org.memberships] == [owner.id]
