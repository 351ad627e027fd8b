"""Rounds: staff advance entries to a later phase; only invited organisations that accepted may apply."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from sqlalchemy import select

from challenges.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from challenges.mail import OutboxMessage
from challenges.submissions import services as subs
from challenges.submissions.models import Advancement
from challenges.timezones import utcnow
from tests.factories import close_submissions, make_challenge, make_definition, make_submission, make_user


@pytest.fixture
def two_rounds(db):
    definition = make_definition()
    second = copy.deepcopy(definition["phases"][0])
    from datetime import date

    opens = date.fromisoformat(second["closes_at"][:10]) + timedelta(days=1)
    second.update(opens_at=f"{opens}T09:00", closes_at=f"{opens + timedelta(days=30)}T17:00")
    second.update(key="phase-2", name="Pilots", rubric={"criteria": [
        {"key": "pilot", "name": "Pilot results", "weight": 1, "min": 0, "max": 10, "step": 1}]})
    definition["phases"].append(second)
    challenge = make_challenge(publish=True, slug="rounds", phases=definition["phases"])
    first, later = challenge.phases
    winners, losers = [], []
    for n in range(3):
        vendor = make_user(email=f"lead{n}@co{n}.com", roles=("vendor",))
        entry, _ = make_submission(vendor, first, organization_name=f"Co {n}", submit=True)
        (winners if n < 2 else losers).append((vendor, entry))
    close_submissions(first)
    later.opens_at = utcnow() - timedelta(minutes=1)  # the second round is open now
    db.session.commit()
    staff = make_user(email="rounds.staff@example.gov", roles=("staff",))
    return staff, first, later, winners, losers


def test_advance_invite_accept_and_apply(db, two_rounds):
    staff, first, later, winners, losers = two_rounds
    accept_by = utcnow() + timedelta(days=3)
    created = subs.advance(actor=staff, phase=first, submissions=[e for _, e in winners], to_phase=later,
                           accept_by=accept_by)
    db.session.commit()
    assert len(created) == 2 and later.invitation_only
    mails = db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "advancement")).scalars().all()
    assert sorted(m.to_addr for m in mails) == ["lead0@co0.com", "lead1@co1.com"]
    assert subs.advance(actor=staff, phase=first, submissions=[winners[0][1]], to_phase=later,
                        accept_by=accept_by) == []  # idempotent

    vendor, entry = winners[0]
    org = entry.organization
    with pytest.raises(PermissionDenied, match="open only to entries advanced"):
        subs.start_application(actor=vendor, phase=later, organization=org)  # not accepted yet
    advancement = subs.advancements_of(vendor)[0]
    subs.respond_to_advancement(actor=vendor, advancement=advancement, accept=True)
    draft = subs.start_application(actor=vendor, phase=later, organization=org)
    assert draft.phase_id == later.id
    with pytest.raises(Conflict, match="already accepted"):
        subs.respond_to_advancement(actor=vendor, advancement=advancement, accept=False)

    loser, lost = losers[0]
    with pytest.raises(PermissionDenied):
        subs.start_application(actor=loser, phase=later, organization=lost.organization)
    with pytest.raises(NotFound):
        subs.respond_to_advancement(actor=loser, advancement=advancement, accept=True)


def test_declined_and_expired_invitations(db, two_rounds):
    staff, first, later, winners, _ = two_rounds
    subs.advance(actor=staff, phase=first, submissions=[e for _, e in winners], to_phase=later,
                 accept_by=utcnow() + timedelta(hours=1))
    (v0, e0), (v1, _e1) = winners
    subs.respond_to_advancement(actor=v0, advancement=subs.advancements_of(v0)[0], accept=False)
    with pytest.raises(PermissionDenied):
        subs.start_application(actor=v0, phase=later, organization=e0.organization)
    late = utcnow() + timedelta(hours=2)
    advancement = subs.advancements_of(v1)[0]
    assert advancement.state(late) == "expired"
    with pytest.raises(Conflict, match="deadline to accept"):
        subs.respond_to_advancement(actor=v1, advancement=advancement, accept=True, now=late)


def test_advance_validation(db, two_rounds):
    staff, first, later, winners, _losers = two_rounds
    with pytest.raises(ValidationFailed) as err:
        subs.advance(actor=staff, phase=later, submissions=[winners[0][1]], to_phase=first,
                     accept_by=utcnow() - timedelta(days=1))
    assert set(err.value.errors) == {"to_phase", "accept_by", "entries"}
    with pytest.raises(ValidationFailed) as err:
        subs.advance(actor=staff, phase=first, submissions=[], to_phase=later,
                     accept_by=later.closes_at + timedelta(days=1))
    assert "before the next phase closes" in err.value.errors["accept_by"]
    vendor = winners[0][0]
    with pytest.raises(PermissionDenied):
        subs.advance(actor=vendor, phase=first, submissions=[winners[0][1]], to_phase=later,
                     accept_by=utcnow() + timedelta(days=1))
    assert db.session.execute(select(Advancement)).first() is None and not later.invitation_only
    first.challenge.status = "results_published"  # the challenge is over: no later phase will run
    with pytest.raises(ValidationFailed) as err:
        subs.advance(actor=staff, phase=first, submissions=[winners[0][1]], to_phase=later,
                     accept_by=utcnow() + timedelta(days=1))
    assert "Results of this challenge are published" in err.value.errors["to_phase"]
    assert db.session.execute(select(Advancement)).first() is None


def test_advance_page_and_vendor_dashboard(client, login_as, db, two_rounds):
    staff, first, later, winners, _ = two_rounds
    login_as(staff)
    url = f"/staff/challenges/rounds/phases/{first.id}/advance"
    assert client.get(url).status_code == 200
    bad = client.post(url, data={"to_phase": str(later.id), "accept_by": "soon", "entry": str(winners[0][1].id)})
    assert bad.status_code == 400 and "Enter a date and time" in bad.text
    due = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(url, data={"to_phase": str(later.id), "accept_by": due,
                                  "entry": [str(e.id) for _, e in winners]}).status_code == 302
    vendor = winners[0][0]
    login_as(vendor)
    page = client.get("/vendor/")
    assert "Invitations to the next round" in page.text and "Accept and continue" in page.text
    advancement = subs.advancements_of(vendor)[0]
    assert client.post(f"/vendor/advancements/{advancement.id}", data={"decision": "accept"}).status_code == 302
    assert "Apply to Pilots" in client.get("/vendor/").text
    login_as(winners[1][0])
    assert client.post(f"/vendor/advancements/{advancement.id}", data={"decision": "accept"}).status_code == 404


def test_advance_page_lists_entries_in_leaderboard_order(client, login_as, db, two_rounds):
    """Staff pick finalists from the ranking: rank, score under the primary method, rank range and
    flags beside each entry, strongest first; an entry without counted reviews comes last."""
    from challenges.judging import services as judging
    from tests.factories import make_assignment, make_judge

    staff, first, _later, winners, losers = two_rounds
    entries = [e for _, e in winners + losers]
    judges = [make_judge(first, f"ranker{n}@agency.gov") for n in range(2)]
    for judge in judges:  # Co 1 best, then Co 0; Co 2 is never scored
        for entry, marks in ((entries[0], ("3", "3")), (entries[1], ("5", "4"))):
            judging.save_review(actor=judge.user, assignment=make_assignment(judge, entry),
                                values=dict(zip(("quality", "impact"), marks, strict=True)), comments={},
                                submit=True)
    db.session.commit()
    login_as(staff)
    page = client.get(f"/staff/challenges/rounds/phases/{first.id}/advance").text
    codes = [e.public_code for e in entries]
    assert page.index(codes[1]) < page.index(codes[0]) < page.index(codes[2])
    assert "in leaderboard order (mean)" in page and '<th scope="col">Mean</th>' in page
    first_row = page[page.index(f'id="entry-{entries[1].id}"'):page.index(f'id="entry-{entries[0].id}"')]
    assert "<td>1</td>" in first_row and "<td>90.00</td>" in first_row and "<td>1–1</td>" in first_row
    second_row = page[page.index(f'id="entry-{entries[0].id}"'):page.index(f'id="entry-{entries[2].id}"')]
    assert "<td>2</td>" in second_row and "<td>50.00</td>" in second_row
    assert "no counted reviews" in page[page.index(f'id="entry-{entries[2].id}"'):]


def test_no_advancing_while_the_phase_takes_applications(db, two_rounds):
    staff, first, later, winners, _ = two_rounds
    first.closes_at = utcnow() + timedelta(days=2)
    with pytest.raises(ValidationFailed) as err:
        subs.advance(actor=staff, phase=first, submissions=[winners[0][1]], to_phase=later,
                     accept_by=utcnow() + timedelta(days=1))
    assert "still takes applications" in err.value.errors["entries"]
    assert db.session.execute(select(Advancement)).first() is None


def test_disqualifying_an_advanced_entry_revokes_its_invitation(client, login_as, db, two_rounds):
    staff, first, later, winners, _ = two_rounds
    (vendor, entry), (other_vendor, other) = winners
    subs.advance(actor=staff, phase=first, submissions=[entry, other], to_phase=later,
                 accept_by=utcnow() + timedelta(days=2))
    accepted = subs.advancements_of(vendor)[0]
    subs.respond_to_advancement(actor=vendor, advancement=accepted, accept=True)
    assert subs.invited(entry.organization, later)
    subs.disqualify(actor=staff, submission=entry, reason="False eligibility statement")
    db.session.commit()
    assert accepted.status == "revoked" and not subs.invited(entry.organization, later)
    assert subs.advancements_of(other_vendor)[0].status == "invited"  # the other entry is untouched
    with pytest.raises(Conflict, match="already revoked"):
        subs.respond_to_advancement(actor=vendor, advancement=accepted, accept=True)
    login_as(vendor)
    page = client.get("/vendor/").text
    assert "This invitation no longer stands" in page and "Apply to Pilots" not in page
