"""Reinstating a disqualified application: staff only, with a reason, audited, the vendor told, the entry
back in judging (and its revoked invitations to the next round back), refused once judging is over."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from challenges.audit import AuditEvent
from challenges.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from challenges.judging import services as judging
from challenges.mail import OutboxMessage
from challenges.submissions import services as subs
from challenges.submissions.models import Advancement, Submission
from challenges.timezones import utcnow
from tests.factories import (
    close_submissions,
    make_assignment,
    make_challenge,
    make_definition,
    make_judge,
    make_submission,
    make_user,
)


@pytest.fixture
def vendor(db):
    return make_user(email="lead@acme.example", roles=("vendor",))


@pytest.fixture
def staff(db):
    return make_user(email="program.staff@example.gov", roles=("staff",))


@pytest.fixture
def entry(vendor):
    phase = make_challenge(publish=True, slug="second-chance").phases[0]
    submission, _ = make_submission(vendor, phase, submit=True)
    return submission


def _mails(db, template: str) -> list[OutboxMessage]:
    return list(db.session.execute(select(OutboxMessage).where(OutboxMessage.template == template)
                                   .order_by(OutboxMessage.id)).scalars())


def test_reinstate_puts_the_entry_back_in_judging(db, vendor, staff, entry):
    close_submissions(entry.phase)
    judge = make_judge(entry.phase, "judge@agency.gov")
    assignment = make_assignment(judge, entry)
    subs.disqualify(actor=staff, submission=entry, reason="Wrong entity")
    db.session.commit()
    with pytest.raises(NotFound):
        judging.judge_assignment(judge.user, assignment.id)  # out of judging while disqualified

    subs.reinstate(actor=staff, submission=entry, reason="SAM registration was active after all")
    db.session.commit()
    db.session.expire_all()
    entry = db.session.get(Submission, entry.id)
    assert entry.status == "submitted" and entry.status_reason == ""
    assert judging.judge_assignment(judge.user, assignment.id).submission_id == entry.id  # the judge has it again
    assert [e.id for e in judging.entries(entry.phase)] == [entry.id]
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "submission.reinstated")).scalar_one()
    assert event.object_id == str(entry.id) and event.actor_id == staff.id
    assert event.details["before"] == "disqualified" and event.details["after"] == "submitted"
    assert event.details["reason"] == "SAM registration was active after all"
    told = _mails(db, "application_reinstated")
    assert [m.to_addr for m in told] == ["lead@acme.example"]
    assert "SAM registration was active after all" in told[0].body_text and entry.public_code in told[0].subject


def test_reinstate_is_for_staff_with_a_reason_and_only_when_disqualified(db, vendor, staff, entry):
    with pytest.raises(Conflict, match="Only a disqualified application"):
        subs.reinstate(actor=staff, submission=entry, reason="nothing to undo")
    subs.disqualify(actor=staff, submission=entry, reason="Wrong entity")
    with pytest.raises(PermissionDenied):
        subs.reinstate(actor=vendor, submission=entry, reason="please")
    with pytest.raises(ValidationFailed) as err:
        subs.reinstate(actor=staff, submission=entry, reason="  ")
    assert "reason" in err.value.errors
    assert entry.status == "disqualified"


def test_reinstate_refused_once_judging_is_closed_or_results_are_published(db, staff, entry):
    close_submissions(entry.phase)
    subs.disqualify(actor=staff, submission=entry, reason="Wrong entity")
    judging.close_judging(actor=staff, phase=entry.phase)
    assert subs.reinstate_refusal(entry) is not None
    with pytest.raises(Conflict, match="Judging of"):
        subs.reinstate(actor=staff, submission=entry, reason="late evidence")
    judging.close_judging(actor=staff, phase=entry.phase, reopen=True)
    entry.phase.challenge.status = "results_published"
    with pytest.raises(Conflict, match=r"results of .* are published"):
        subs.reinstate(actor=staff, submission=entry, reason="late evidence")
    assert entry.status == "disqualified"
    assert not db.session.execute(select(AuditEvent).where(AuditEvent.action == "submission.reinstated")).first()


def test_reinstate_without_a_recorded_previous_status(db, vendor, staff, entry):
    """Disqualified outside `disqualify` (no audit event says what it was): a receipt, or a submission time
    for an imported entry, means it was submitted; an entry never submitted is not put in judging."""
    entry.status = "disqualified"
    subs.reinstate(actor=staff, submission=entry, reason="restored by hand")
    assert entry.status == "submitted"
    entry.status = "disqualified"
    entry.submitted_at = None
    subs.reinstate(actor=staff, submission=entry, reason="restored by hand")  # the receipt still says so
    assert entry.status == "submitted"
    draft, _ = make_submission(vendor, entry.phase, organization_name="Other Co")
    draft.status = "disqualified"
    with pytest.raises(Conflict, match="never submitted"):
        subs.reinstate(actor=staff, submission=draft, reason="restored by hand")


def test_disqualify_reinstate_disqualify_emails_each_time(db, staff, entry):
    subs.disqualify(actor=staff, submission=entry, reason="First reason")
    subs.reinstate(actor=staff, submission=entry, reason="Mistake")
    subs.disqualify(actor=staff, submission=entry, reason="Second reason")
    db.session.commit()
    bodies = [m.body_text for m in _mails(db, "application_disqualified")]
    assert len(bodies) == 2 and "First reason" in bodies[0] and "Second reason" in bodies[1]


def test_reinstate_restores_the_invitations_the_disqualification_revoked(db, staff):
    definition = make_definition()
    second = copy.deepcopy(definition["phases"][0])
    opens = date.fromisoformat(second["closes_at"][:10]) + timedelta(days=1)
    second.update(key="phase-2", name="Pilots", opens_at=f"{opens}T09:00",
                  closes_at=f"{opens + timedelta(days=30)}T17:00")
    challenge = make_challenge(publish=True, slug="two-rounds", phases=[definition["phases"][0], second])
    first, later = challenge.phases
    entries = []
    for n in range(2):
        vendor = make_user(email=f"lead{n}@co{n}.com", roles=("vendor",))
        entries.append((vendor, make_submission(vendor, first, organization_name=f"Co {n}", submit=True)[0]))
    close_submissions(first)
    subs.advance(actor=staff, phase=first, submissions=[e for _, e in entries], to_phase=later,
                 accept_by=utcnow() + timedelta(days=3))
    (v0, accepted_entry), (_v1, invited_entry) = entries
    subs.respond_to_advancement(actor=v0, advancement=subs.advancements_of(v0)[0], accept=True)
    for _, e in entries:
        subs.disqualify(actor=staff, submission=e, reason="Wrong entity")
    db.session.commit()
    assert {a.status for a in db.session.execute(select(Advancement)).scalars()} == {"revoked"}

    for _, e in entries:
        subs.reinstate(actor=staff, submission=e, reason="Mistake")
    db.session.commit()
    by_entry = {a.from_submission_id: a for a in db.session.execute(select(Advancement)).scalars()}
    assert by_entry[accepted_entry.id].status == "accepted" and by_entry[accepted_entry.id].decided_by_id == v0.id
    assert by_entry[invited_entry.id].status == "invited" and by_entry[invited_entry.id].decided_by_id is None
    assert subs.invited(accepted_entry.organization, later)  # may apply to the next round again
    restored = db.session.execute(select(AuditEvent).where(AuditEvent.action == "advancement.restored")).all()
    assert len(restored) == 2
    told = {m.to_addr: m.body_text for m in _mails(db, "application_reinstated")}
    assert "Your invitation to Pilots stands again (you had accepted it)." in told["lead0@co0.com"]
    assert "Your invitation to Pilots stands again: accept it by" in told["lead1@co1.com"]


# --- the staff page --------------------------------------------------------------------------------------


def test_staff_page_offers_reinstate_for_a_disqualified_application(client, login_as, db, staff, entry):
    login_as(staff)
    page = client.get(f"/staff/applications/{entry.id}").text
    assert "Reinstate" not in page and "Reopen after the deadline" in page
    subs.disqualify(actor=staff, submission=entry, reason="Wrong entity")
    db.session.commit()
    page = client.get(f"/staff/applications/{entry.id}").text
    assert f'action="/staff/applications/{entry.id}/reinstate"' in page
    assert f'action="/staff/applications/{entry.id}/reopen"' not in page  # it could only fail
    assert "reinstate it first" in page

    refused = client.post(f"/staff/applications/{entry.id}/reinstate", data={"reason": " "})
    assert refused.status_code == 400 and "Say why the application is reinstated" in refused.text
    done = client.post(f"/staff/applications/{entry.id}/reinstate", data={"reason": "Evidence of eligibility"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Submission, entry.id).status == "submitted"
    page = client.get(f"/staff/applications/{entry.id}").text
    assert "/reinstate" not in page and "Reopen after the deadline" in page


def test_staff_page_says_why_reinstating_is_not_offered_once_judging_closed(client, login_as, db, staff, entry):
    close_submissions(entry.phase)
    subs.disqualify(actor=staff, submission=entry, reason="Wrong entity")
    judging.close_judging(actor=staff, phase=entry.phase)
    db.session.commit()
    login_as(staff)
    page = client.get(f"/staff/applications/{entry.id}").text
    assert "/reinstate" not in page and "Judging of" in page
    refused = client.post(f"/staff/applications/{entry.id}/reinstate", data={"reason": "late evidence"})
    assert refused.status_code == 409 and "Judging of" in refused.text
