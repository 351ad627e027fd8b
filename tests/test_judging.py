"""Judging services: panel, attestation, conflicts, assignment proposals, reviews, progress."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from challenges.audit import AuditEvent, verify
from challenges.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from challenges.judging import services as judging
from challenges.judging.models import Assignment, AssignmentRun, PanelMember, Review, ReviewRevision
from challenges.mail import OutboxMessage
from challenges.timezones import utcnow
from tests.factories import (
    close_submissions,
    make_assignment,
    make_challenge,
    make_judge,
    make_submission,
    make_user,
)


@pytest.fixture
def staff(db):
    return make_user(email="coordinator@example.gov", roles=("staff",))


@pytest.fixture
def phase(db):
    return make_challenge(publish=True, slug="judged").phases[0]


@pytest.fixture
def entries(phase, db):
    subs = []
    for n in range(4):
        vendor = make_user(email=f"founder{n}@vendor{n}.com", roles=("vendor",))
        submission, _ = make_submission(vendor, phase, organization_name=f"Vendor {n} LLC", submit=True)
        subs.append(submission)
    close_submissions(phase)
    return subs


def scores(**values):
    return {k: str(v) for k, v in values.items()}


# --- panel and attestation ------------------------------------------------------------------


def test_invite_new_person_accept_and_attest(app, db, staff, phase):
    member = judging.invite_judge(actor=staff, phase=phase, email="Dr.Who@HHS.gov", expertise="Health, NLP, health",
                                  max_load=5, min_load=1)
    db.session.commit()
    assert member.email == "dr.who@hhs.gov" and member.user_id is None and member.agency == "hhs.gov"
    assert member.expertise == ["health", "nlp"]
    message = db.session.execute(select(OutboxMessage).where(OutboxMessage.to_addr == "dr.who@hhs.gov")).scalar_one()
    token = message.body_text.split("/judging/invitations/")[1].split()[0]

    stranger = make_user(email="someone@else.gov", roles=())
    with pytest.raises(PermissionDenied, match=r"for dr\.who@hhs\.gov"):
        judging.accept_invitation(actor=stranger, token=token)
    with pytest.raises(ValidationFailed, match="not valid"):
        judging.accept_invitation(actor=stranger, token=token + "x")

    newcomer = make_user(email="dr.who@hhs.gov", roles=())
    judging.accept_invitation(actor=newcomer, token=token)
    assert member.status == "active" and member.user_id == newcomer.id and newcomer.has_role("judge")
    with pytest.raises(Conflict, match="changed"):
        judging.attest(actor=newcomer, member=member, version="old-version")
    judging.attest(actor=newcomer, member=member, version=judging.ATTESTATION_VERSION,
                   affiliations="Acme Health\n\nMITRE")
    assert member.attested_at is not None and member.attestation_version == judging.ATTESTATION_VERSION
    assert member.affiliations == ["Acme Health", "MITRE"]
    with pytest.raises(Conflict, match="already on this panel"):
        judging.invite_judge(actor=staff, phase=phase, email="dr.who@hhs.gov")


def test_panel_validation_and_only_staff(db, staff, phase):
    with pytest.raises(ValidationFailed) as err:
        judging.invite_judge(actor=staff, phase=phase, email="a@b.gov", max_load=2, min_load=3)
    assert "min_load" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        judging.invite_judge(actor=staff, phase=phase, email="not an email")
    assert "email" in err.value.errors
    vendor = make_user(email="v@v.com", roles=("vendor",))
    with pytest.raises(PermissionDenied):
        judging.invite_judge(actor=vendor, phase=phase, email="x@y.gov")
    assert db.session.execute(select(func.count(PanelMember.id))).scalar_one() == 0


def test_one_chair_per_panel(db, staff, phase):
    first = judging.invite_judge(actor=staff, phase=phase, email="one@a.gov", is_chair=True)
    second = judging.invite_judge(actor=staff, phase=phase, email="two@a.gov", is_chair=True)
    db.session.expire_all()
    assert not db.session.get(PanelMember, first.id).is_chair and db.session.get(PanelMember, second.id).is_chair


# --- conflicts --------------------------------------------------------------------------------


def test_suspected_conflicts_from_domain_affiliation_and_membership(db, staff, phase, entries):
    by_domain = make_judge(phase, "reviewer@vendor1.com")  # same domain as Vendor 1's founder
    by_affiliation = make_judge(phase, "analyst@nih.gov")
    by_affiliation.affiliations = ["Vendor 2, LLC"]
    free_mail = make_judge(phase, "person@gmail.com")
    judging.detect_suspected(phase)
    db.session.commit()
    pairs = judging.conflicted_pairs(phase)
    assert (by_domain.id, entries[1].id) in pairs
    assert (by_affiliation.id, entries[2].id) in pairs
    assert not any(member == free_mail.id for member, _ in pairs)
    suspected = db.session.execute(select(judging.Conflict).where(judging.Conflict.status == "suspected")
                                   ).scalars().all()
    assert {c.panel_member_id for c in suspected} == {by_domain.id, by_affiliation.id}
    assert "email domain vendor1.com" in next(c for c in suspected if c.panel_member_id == by_domain.id).evidence

    # dismissing (with a reason) lifts the block, and the pair is never flagged again
    conflict = next(c for c in suspected if c.panel_member_id == by_domain.id)
    with pytest.raises(ValidationFailed):
        judging.decide_suspected(actor=staff, conflict=conflict, confirm=False)
    judging.decide_suspected(actor=staff, conflict=conflict, confirm=False, reason="Different company, same ISP")
    judging.detect_suspected(phase)
    assert (by_domain.id, entries[1].id) not in judging.conflicted_pairs(phase)


def test_declared_conflict_withdraws_assignment_and_hides_entry(db, staff, phase, entries):
    judge = make_judge(phase, "careful@agency.gov")
    assignment = make_assignment(judge, entries[0])
    assert judging.judge_assignment(judge.user, assignment.id) is assignment
    judging.declare_conflict(actor=judge.user, member=judge, type_="financial", reason="I own shares",
                             submission=entries[0])
    db.session.commit()
    assert assignment.status == "removed" and assignment.reason == "conflict of interest"
    with pytest.raises(NotFound):
        judging.judge_assignment(judge.user, assignment.id)
    assert judging.queue(judge.user)[0][1] == []
    with pytest.raises(Conflict, match="conflict of interest"):
        judging.assign(actor=staff, member=judge, submission=entries[0])
    with pytest.raises(ValidationFailed) as err:
        judging.declare_conflict(actor=judge.user, member=judge, type_="gossip", reason="", submission=entries[1])
    assert set(err.value.errors) == {"type", "reason"}


def test_declare_by_organisation_name_reveals_nothing(db, phase, entries):
    judge = make_judge(phase, "blind@agency.gov")
    assert judging.declare_organisation(actor=judge.user, member=judge, type_="employment", reason="Former employer",
                                        name="vendor 3 llc") is not None
    assert judging.declare_organisation(actor=judge.user, member=judge, type_="advisory", reason="I advise them",
                                        name="Nobody Applied Inc") is None
    assert "Nobody Applied Inc" in judge.affiliations
    assert (judge.id, entries[3].id) in judging.conflicted_pairs(phase)


def test_staff_pin_and_bid_no_is_a_conflict(db, staff, phase, entries):
    phase.bids_enabled = True
    judge = make_judge(phase, "bidder@agency.gov")
    judging.pin_conflict(actor=staff, member=judge, type_="personal", reason="Sibling works there",
                         organization=entries[0].organization)
    judging.place_bid(actor=judge.user, member=judge, submission=entries[1], value="no")
    judging.place_bid(actor=judge.user, member=judge, submission=entries[2], value="yes")
    pairs = judging.conflicted_pairs(phase)
    assert {(judge.id, entries[0].id), (judge.id, entries[1].id)} <= pairs
    assert (judge.id, entries[2].id) not in pairs
    judging.place_bid(actor=judge.user, member=judge, submission=entries[1], value="")
    assert (judge.id, entries[1].id) not in judging.conflicted_pairs(phase)
    with pytest.raises(ValidationFailed):
        judging.place_bid(actor=judge.user, member=judge, submission=entries[1], value="love it")


def test_lift_a_conflict_with_a_reason_and_no_duplicate_conflicts(db, staff, phase, entries):
    """A conflict pinned by mistake can be lifted (reason kept, audited) and the pair assigned again; a
    second identical conflict is refused rather than stored twice."""
    judge = make_judge(phase, "lifted@agency.gov")
    conflict = judging.pin_conflict(actor=staff, member=judge, type_="personal", reason="Wrong judge picked",
                                    organization=entries[0].organization)
    with pytest.raises(ValidationFailed) as err:
        judging.pin_conflict(actor=staff, member=judge, type_="financial", reason="Again",
                             organization=entries[0].organization)
    assert "already has a conflict with that organisation" in err.value.errors["target"]
    judging.declare_conflict(actor=judge.user, member=judge, type_="financial", reason="Shares",
                             submission=entries[1])
    with pytest.raises(ValidationFailed, match="correct"):
        judging.declare_conflict(actor=judge.user, member=judge, type_="other", reason="Still shares",
                                 submission=entries[1])
    with pytest.raises(PermissionDenied):
        judging.lift_conflict(actor=judge.user, conflict=conflict, reason="Not me")
    with pytest.raises(ValidationFailed) as err:
        judging.lift_conflict(actor=staff, conflict=conflict, reason="  ")
    assert err.value.errors == {"reason": "Say why this is no longer a conflict."}
    with pytest.raises(ValidationFailed):
        judging.lift_conflict(actor=staff, conflict=conflict, reason="x" * (judging.MAX_REASON + 1))
    assert conflict.status == "active"

    judging.lift_conflict(actor=staff, conflict=conflict, reason="Pinned on the wrong judge")
    db.session.commit()
    assert conflict.status == "lifted" and conflict.decision_note == "Pinned on the wrong judge"
    assert conflict.reason == "Wrong judge picked" and conflict.decided_by_id == staff.id
    assert (judge.id, entries[0].id) not in judging.conflicted_pairs(phase)
    assert (judge.id, entries[1].id) in judging.conflicted_pairs(phase)
    assert judging.assign(actor=staff, member=judge, submission=entries[0]).status == "assigned"
    with pytest.raises(Conflict, match="Only an active conflict"):
        judging.lift_conflict(actor=staff, conflict=conflict, reason="twice")
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "conflict.lifted")).scalar_one()
    assert event.details["reason"] == "Pinned on the wrong judge" and event.details["source"] == "pinned"
    # once lifted, the same pair may be pinned again (new information), and it blocks again
    judging.pin_conflict(actor=staff, member=judge, type_="personal", reason="New information",
                         organization=entries[0].organization)
    assert (judge.id, entries[0].id) in judging.conflicted_pairs(phase)
    judging.close_judging(actor=staff, phase=phase)
    declared = db.session.execute(select(judging.Conflict).where(judging.Conflict.source == "declared")).scalar_one()
    with pytest.raises(Conflict, match="reopen judging"):
        judging.lift_conflict(actor=staff, conflict=declared, reason="Too late")
    assert verify()


# --- assignment -------------------------------------------------------------------------------


def test_propose_approve_notify(db, staff, phase, entries):
    judges = [make_judge(phase, f"j{n}@agency{n % 2}.gov", max_load=3) for n in range(4)]
    judging.pin_conflict(actor=staff, member=judges[0], type_="financial", reason="Investor", submission=entries[0])
    run = judging.propose(actor=staff, phase=phase, k=2, seed=4)
    db.session.commit()
    assert run.status == "proposed" and len(run.result["pairs"]) == 8
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == 0  # nothing until approved
    assert [judges[0].id, entries[0].id] not in run.result["pairs"]
    assert sum(run.result["loads"].values()) == 8 and max(run.result["loads"].values()) <= 3

    created = judging.approve_run(actor=staff, run=run)
    db.session.commit()
    assert len(created) == 8 and run.status == "approved"
    per_entry = {e.id: 0 for e in entries}
    for a in created:
        per_entry[a.submission_id] += 1
    assert set(per_entry.values()) == {2}
    notices = db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "judge_assigned")
                                 ).scalars().all()
    assert len(notices) == len({a.panel_member_id for a in created})
    with pytest.raises(Conflict, match="already decided"):
        judging.approve_run(actor=staff, run=run)
    with pytest.raises(Conflict, match="ensure"):
        judging.propose(actor=staff, phase=phase, mode="assign", k=2)


def test_proposal_goes_stale_when_conflicts_change(db, staff, phase, entries):
    judges = [make_judge(phase, f"s{n}@agency.gov") for n in range(3)]
    run = judging.propose(actor=staff, phase=phase, k=2)
    judging.pin_conflict(actor=staff, member=judges[1], type_="other", reason="New information",
                         submission=entries[2])
    with pytest.raises(Conflict, match="changed since"):
        judging.approve_run(actor=staff, run=run)
    assert run.status == "stale"
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == 0


def test_no_assignment_once_judging_is_over(db, staff, phase, entries):
    """Judges could not score new pairs after judging closed: proposing and approving are refused until
    staff reopen judging."""
    [make_judge(phase, f"o{n}@agency.gov") for n in range(3)]
    run = judging.propose(actor=staff, phase=phase, k=2)
    judging.close_judging(actor=staff, phase=phase)
    with pytest.raises(Conflict, match="reopen judging"):
        judging.approve_run(actor=staff, run=run)
    with pytest.raises(Conflict, match="reopen judging"):
        judging.propose(actor=staff, phase=phase, k=2)
    assert run.status == "proposed" and db.session.execute(select(func.count(Assignment.id))).scalar_one() == 0
    judging.close_judging(actor=staff, phase=phase, reopen=True)
    assert len(judging.approve_run(actor=staff, run=run)) == 2 * len(entries)


def test_infeasible_names_entries_by_code(db, staff, phase, entries):
    judges = [make_judge(phase, f"i{n}@agency.gov") for n in range(2)]
    with pytest.raises(ValidationFailed) as err:
        judging.propose(actor=staff, phase=phase, k=3)
    assert entries[0].public_code in err.value.message and "only 2 eligible" in err.value.message
    judging.pin_conflict(actor=staff, member=judges[0], type_="other", reason="x", submission=entries[1])
    with pytest.raises(ValidationFailed) as err:
        judging.propose(actor=staff, phase=phase, k=2)
    assert err.value.errors["entries"] == entries[1].public_code
    assert db.session.execute(select(func.count(AssignmentRun.id))).scalar_one() == 0


def test_ensure_tops_up_after_recusal_and_rebalance_moves_only_unstarted(db, staff, phase, entries):
    judges = [make_judge(phase, f"e{n}@agency.gov", max_load=4) for n in range(4)]
    judging.approve_run(actor=staff, run=judging.propose(actor=staff, phase=phase, k=2))
    mine = judging.queue(judges[0].user)[0][1]
    started, to_leave = mine[0], mine[1]
    judging.save_review(actor=judges[0].user, assignment=started, values=scores(quality=3), comments={})
    with pytest.raises(ValidationFailed):
        judging.recuse(actor=judges[0].user, assignment=to_leave, reason=" ")
    judging.recuse(actor=judges[0].user, assignment=to_leave, reason="I advised them last year")
    db.session.commit()
    run = judging.propose(actor=staff, phase=phase, mode="ensure", k=2)
    assert len(run.result["pairs"]) == 1 and run.result["pairs"][0][1] == to_leave.submission_id
    assert run.result["pairs"][0][0] != judges[0].id  # a recused judge is never proposed again
    judging.approve_run(actor=staff, run=run)
    rebalance = judging.propose(actor=staff, phase=phase, mode="rebalance", k=2, seed=9)
    assert started.id not in rebalance.result["removed"]  # a started review never moves


def test_manual_csv_pairs_all_or_nothing(db, staff, phase, entries):
    judge = make_judge(phase, "csv@agency.gov")
    text = f"entry,judge\n{entries[0].public_code},csv@agency.gov\n{entries[1].public_code},ghost@agency.gov\n"
    with pytest.raises(ValidationFailed) as err:
        judging.import_pairs(actor=staff, phase=phase, text=text)
    assert list(err.value.errors.values()) == ["line 3: 'ghost@agency.gov' is not an active judge on this panel"]
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == 0
    assert judging.import_pairs(actor=staff, phase=phase, text=text.splitlines()[0] + "\n" +
                                text.splitlines()[1] + "\n") == 1
    assert judging.export_pairs(phase).splitlines() == ["entry,judge,status",
                                                       f"{entries[0].public_code},csv@agency.gov,assigned"]
    # Withdraw a pair, export, import the export: the withdrawn pair stays withdrawn, nothing is new.
    judging.assign(actor=staff, member=judge, submission=entries[2])
    withdrawn = db.session.execute(select(Assignment).where(Assignment.submission_id == entries[0].id)).scalar_one()
    judging.unassign(actor=staff, assignment=withdrawn, reason="Wrong expertise")
    assert judging.import_pairs(actor=staff, phase=phase, text=judging.export_pairs(phase)) == 0
    assert withdrawn.status == "removed"
    # An address a spreadsheet would read as a formula is quoted in the export and read back as itself.
    plus = make_judge(phase, "+tagged@agency.gov")
    judging.assign(actor=staff, member=plus, submission=entries[3])
    exported = judging.export_pairs(phase)
    assert f"{entries[3].public_code},'+tagged@agency.gov,assigned" in exported.splitlines()
    judging.unassign(actor=staff, assignment=db.session.execute(select(Assignment).where(
        Assignment.panel_member_id == plus.id)).scalar_one(), reason="Re-import")
    assert judging.import_pairs(actor=staff, phase=phase, text=exported) == 1
    with pytest.raises(ValidationFailed) as err:
        judging.import_pairs(actor=staff, phase=phase, text="entry;judge\nX;y\n")
    assert err.value.errors["file"] == ("The first line of the CSV must be its header, with the columns entry,judge "
                                        "(missing: entry, judge); save the file as comma-separated values.")


# --- reviews ----------------------------------------------------------------------------------


def test_draft_then_submit_then_change_with_reason(db, staff, phase, entries):
    judge = make_judge(phase, "scorer@agency.gov")
    assignment = make_assignment(judge, entries[0])
    review = judging.save_review(actor=judge.user, assignment=assignment, values=scores(quality=4), comments={})
    assert review.status == "draft" and judging.completion(review, phase.rubric) == 50
    with pytest.raises(ValidationFailed) as err:
        judging.save_review(actor=judge.user, assignment=assignment, values=scores(quality=4), comments={},
                            submit=True)
    assert set(err.value.errors) == {"impact"}
    with pytest.raises(ValidationFailed) as err:
        judging.save_review(actor=judge.user, assignment=assignment, values=scores(quality=7, impact=2.5),
                            comments={}, submit=True)
    assert err.value.errors == {
        "quality": "Quality: 7 is outside the scale; enter a score from 1 to 5.",
        "impact": "Impact: 2.5 is not on the scale; enter a whole number from 1 to 5."}
    review = judging.save_review(actor=judge.user, assignment=assignment, values=scores(quality=4, impact=5),
                                 comments={"quality": "Solid"}, overall_comment="Good", submit=True)
    db.session.commit()
    assert review.status == "submitted" and round(judging.total_of(review).total, 4) == 85.0
    assert phase.rubric.frozen_at is not None  # V5

    with pytest.raises(ValidationFailed) as err:
        judging.save_review(actor=judge.user, assignment=assignment, values=scores(quality=2, impact=5), comments={})
    assert "reason" in err.value.errors
    judging.save_review(actor=judge.user, assignment=assignment, values=scores(quality=2, impact=5), comments={},
                        reason="Re-read the budget section")
    db.session.commit()
    revision = db.session.execute(select(ReviewRevision)).scalar_one()
    assert revision.before["values"]["quality"] == 4 and revision.after["values"]["quality"] == 2
    assert revision.reason == "Re-read the budget section"
    assert db.session.execute(select(func.count(Review.id))).scalar_one() == 1
    assert verify().ok


def test_closed_judging_refuses_changes_and_not_before_close(db, staff, phase, entries):
    judge = make_judge(phase, "late@agency.gov")
    assignment = make_assignment(judge, entries[0])
    judging.close_judging(actor=staff, phase=phase)
    with pytest.raises(Conflict, match="closed"):
        judging.save_review(actor=judge.user, assignment=assignment, values=scores(quality=3), comments={})
    judging.close_judging(actor=staff, phase=phase, reopen=True)
    phase.closes_at = utcnow() + timedelta(days=1)  # still taking applications
    with pytest.raises(Conflict):
        judging.save_review(actor=judge.user, assignment=assignment, values=scores(quality=3), comments={})


def test_judge_sees_only_own_live_attested_assignments(db, staff, phase, entries):
    judge = make_judge(phase, "own@agency.gov")
    other = make_judge(phase, "other@agency.gov")
    unsigned = make_judge(phase, "unsigned@agency.gov", attested=False)
    mine = make_assignment(judge, entries[0])
    theirs = make_assignment(other, entries[1])
    pending = make_assignment(unsigned, entries[2])
    assert judging.judge_assignment(judge.user, mine.id) is mine
    with pytest.raises(NotFound):
        judging.judge_assignment(judge.user, theirs.id)
    with pytest.raises(NotFound):
        judging.judge_assignment(judge.user, 999_999)
    with pytest.raises(judging.AttestationNeeded):
        judging.judge_assignment(unsigned.user, pending.id)
    assert [a.id for _, assignments in judging.queue(judge.user) for a in assignments] == [mine.id]


def test_others_scores_follow_the_phase_setting(db, staff, phase, entries):
    first, second = make_judge(phase, "first@agency.gov"), make_judge(phase, "second@agency.gov")
    a1, a2 = make_assignment(first, entries[0]), make_assignment(second, entries[0])
    judging.save_review(actor=first.user, assignment=a1, values=scores(quality=5, impact=5), comments={}, submit=True)
    assert judging.others_reviews(a2) == []  # never (the default)
    phase.others_scores_visible = "after_own"
    assert judging.others_reviews(a2) == []
    judging.save_review(actor=second.user, assignment=a2, values=scores(quality=1, impact=1), comments={},
                        submit=True)
    assert [r.id for r in judging.others_reviews(a2)] == [a1.review.id]


def test_blind_view_hides_identifying_answers_and_renames_files(db, staff, phase, entries):
    phase.blind = True
    deck = next(f for f in phase.fields if f.key == "deck")
    view = judging.blind_view(entries[0], blind=True)
    assert view["organization"] is None
    assert view["files"][0][2] == f"{entries[0].public_code}-deck.pdf"
    deck.identifying = True
    assert judging.blind_view(entries[0], blind=True)["files"][0][2] is None
    assert judging.entry_title(entries[0]) == f"Entry {entries[0].public_code}"
    assert judging.blind_view(entries[0], blind=False)["organization"].legal_name == "Vendor 0 LLC"


def test_progress_overdue_and_reminders_once_a_day(db, staff, phase, entries):
    judges = [make_judge(phase, f"p{n}@agency.gov") for n in range(2)]
    for entry in entries[:2]:
        for judge in judges:
            make_assignment(judge, entry)
    a = judging.queue(judges[0].user)[0][1][0]
    judging.save_review(actor=judges[0].user, assignment=a, values=scores(quality=3, impact=3), comments={},
                        submit=True)
    people, per_entry = judging.progress(phase)
    row = {p.member.email: p for p in people}
    assert (row["p0@agency.gov"].assigned, row["p0@agency.gov"].submitted) == (2, 1)
    assert row["p1@agency.gov"].outstanding == 2
    assert sorted(e.submitted for e in per_entry) == [0, 0, 0, 1]
    judging.set_due(actor=staff, phase=phase, due=utcnow() - timedelta(hours=1))
    assert judging.is_overdue(phase, row["p1@agency.gov"])
    assert judging.send_reminders(actor=staff, phase=phase) == 2
    assert judging.send_reminders(actor=staff, phase=phase) == 2
    db.session.commit()
    sent = db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "judge_reminder")).scalars().all()
    assert len(sent) == 2  # the second press the same day sent nothing new
    assert db.session.execute(select(func.count(AuditEvent.id)).where(AuditEvent.action == "judging.reminded")
                              ).scalar_one() == 2


def test_affinity_from_expertise_and_bids():
    from types import SimpleNamespace as NS

    topic = NS(key="topics", type="multiselect")
    phase = NS(fields=[topic])
    subs = [NS(id=1, phase=phase, answers={"topics": ["Health", "NLP"]}), NS(id=2, phase=phase, answers={})]
    members = [NS(id=10, expertise=["health"]), NS(id=11, expertise=[])]
    plain = judging.affinity(members, subs, bids={}, use_bids=False)
    assert plain.tolist() == [[0.5, 0.0], [0.0, 0.0]]  # knows one of the entry's two topics
    with_bids = judging.affinity(members, subs, bids={(11, 1): "yes", (10, 2): "maybe", (11, 2): "no"},
                                 use_bids=True)
    assert with_bids.tolist() == [[0.36, 0.42], [0.7, 0.21]]


# --- submitted reviews are never lost by accident ---------------------------------------------


def _submitted(judge, entry):
    assignment = make_assignment(judge, entry)
    judging.save_review(actor=judge.user, assignment=assignment, values=scores(quality=4, impact=5),
                        comments={}, submit=True)
    return assignment


def test_a_suspicion_blocks_but_withdraws_nothing_until_confirmed(db, staff, phase, entries):
    """A wrong guess (a shared ISP domain) must not discard a submitted review: the judge is kept from the
    entry while staff decide, the review still counts; confirming withdraws it, dismissing changes nothing."""
    first, second = make_judge(phase, "one@vendor1.com"), make_judge(phase, "two@vendor2.com")
    kept, dropped = _submitted(first, entries[1]), _submitted(second, entries[2])
    judging.detect_suspected(phase)
    assert {a.status for a in (kept, dropped)} == {"assigned"}
    assert entries[1].id in judging.conflicted_entries(first)  # kept from the judge meanwhile
    suspicions = {c.panel_member_id: c for c in db.session.execute(
        select(judging.Conflict).where(judging.Conflict.status == "suspected")).scalars()}
    judging.decide_suspected(actor=staff, conflict=suspicions[first.id], confirm=False, reason="Same ISP")
    judging.decide_suspected(actor=staff, conflict=suspicions[second.id], confirm=True)
    assert (kept.status, dropped.status) == ("assigned", "removed")
    assert judging.conflicted_entries(first) == set()


def test_recusal_and_no_bids_cannot_discard_a_submitted_review(db, staff, phase, entries):
    phase.bids_enabled = True
    judge = make_judge(phase, "steady@agency.gov")
    assignment = _submitted(judge, entries[0])
    with pytest.raises(Conflict, match="already submitted your review"):
        judging.recuse(actor=judge.user, assignment=assignment, reason="Changed my mind")
    with pytest.raises(Conflict, match="already submitted a review"):
        judging.place_bid(actor=judge.user, member=judge, submission=entries[0], value="no")
    assert assignment.status == "assigned" and judging.bids_of(judge) == {}
    # A real conflict still takes it away: a conflicted review must not count.
    judging.declare_conflict(actor=judge.user, member=judge, type_="financial", reason="Shares",
                             submission=entries[0])
    assert assignment.status == "removed"


def test_nothing_changes_the_results_once_judging_is_over(db, staff, phase, entries):
    phase.bids_enabled = True
    judge, other = make_judge(phase, "final@agency.gov"), make_judge(phase, "spare@agency.gov")
    assignment = _submitted(judge, entries[0])
    judging.close_judging(actor=staff, phase=phase)
    attempts = [
        lambda: judging.assign(actor=staff, member=other, submission=entries[1]),
        lambda: judging.import_pairs(actor=staff, phase=phase, text=f"entry,judge\n{entries[1].public_code},"
                                                                    f"{other.email}\n"),
        lambda: judging.remove_member(actor=staff, member=judge, reason="Leaving"),
        lambda: judging.pin_conflict(actor=staff, member=judge, type_="other", reason="Late news",
                                     submission=entries[0]),
        lambda: judging.declare_conflict(actor=judge.user, member=judge, type_="other", reason="Late",
                                         submission=entries[0]),
        lambda: judging.declare_organisation(actor=judge.user, member=judge, type_="other", reason="Late",
                                             name="Vendor 0 LLC"),
        lambda: judging.place_bid(actor=other.user, member=other, submission=entries[0], value="no"),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict, match="Judging for this phase is over"):
            attempt()
    db.session.expire_all()
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == 1
    assert db.session.get(Assignment, assignment.id).status == "assigned"
    assert db.session.execute(select(func.count(judging.Conflict.id))).scalar_one() == 0
    assert db.session.get(PanelMember, judge.id).status == "active" and not judge.affiliations


def test_overlong_panel_and_conflict_text_is_refused_not_cut(db, staff, phase, entries):
    with pytest.raises(ValidationFailed) as err:
        judging.invite_judge(actor=staff, phase=phase, email="long@agency.gov", expertise="x" * 5000,
                             agency="a" * 201)
    assert set(err.value.errors) == {"expertise", "agency"}
    assert db.session.execute(select(func.count(PanelMember.id))).scalar_one() == 0
    judge = make_judge(phase, "brief@agency.gov")
    with pytest.raises(ValidationFailed) as err:
        judging.pin_conflict(actor=staff, member=judge, type_="other", reason="r" * 20_000, submission=entries[0])
    assert err.value.errors["reason"] == "Describe the conflict in at most 2,000 characters."
    assert db.session.execute(select(func.count(judging.Conflict.id))).scalar_one() == 0
