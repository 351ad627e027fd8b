"""Judging rules that protect the record: what a judge may see and do when entries, conflicts, the
attestation or the phase change under them, and what the score import may not bypass."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from challenges.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from challenges.judging import assignment as solver
from challenges.judging import services as judging
from challenges.judging.models import Assignment, PanelMember, Review
from challenges.mail import OutboxMessage
from challenges.submissions import services as subs
from tests.factories import close_submissions, make_assignment, make_challenge, make_judge, make_submission, make_user


@pytest.fixture
def staff(db):
    return make_user(email="integrity.staff@example.gov", roles=("staff",))


@pytest.fixture
def phase(db):
    return make_challenge(publish=True, slug="integrity").phases[0]


@pytest.fixture
def entries(phase, db):
    out = []
    for n in range(3):
        vendor = make_user(email=f"lead{n}@secret{n}.com", roles=("vendor",))
        submission, _ = make_submission(vendor, phase, organization_name=f"Secret Corp {n} LLC", submit=True)
        out.append(submission)
    close_submissions(phase)
    return out


def submit(judge, assignment, quality="4", impact="4"):
    return judging.save_review(actor=judge.user, assignment=assignment, values={"quality": quality, "impact": impact},
                               comments={}, submit=True)


# --- what a judge sees ---------------------------------------------------------------------------


def test_blind_judging_never_falls_back_to_the_organisation_name(client, login_as, db, phase, entries):
    """An empty title answer used to show the vendor's legal name in the queue and the entry page."""
    phase.blind = True
    phase.bids_enabled = True
    entries[0].answers = {**(entries[0].answers or {}), "title": ""}
    entries[1].answers = {**(entries[1].answers or {}), "title": "   "}
    judge = make_judge(phase, "blind.reader@agency.gov")
    first, second = make_assignment(judge, entries[0]), make_assignment(judge, entries[1])
    db.session.commit()
    assert judging.entry_title(entries[0]) == f"Entry {entries[0].public_code}"
    login_as(judge.user)
    for path in ("/judging/", f"/judging/entries/{first.id}", f"/judging/entries/{second.id}",
                 f"/judging/panels/{judge.id}/bids"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "Secret Corp" not in page.text, path
    assert f"Entry {entries[0].public_code}" in client.get("/judging/").text


def test_judge_leaderboard_and_other_reviews_leave_out_what_the_judge_may_not_see(db, staff, phase, entries):
    phase.others_scores_visible = "always"
    judges = [make_judge(phase, f"peer{n}@agency{n}.gov") for n in range(3)]
    for judge in judges:
        for entry in entries[:2]:
            submit(judge, make_assignment(judge, entry))
    db.session.commit()
    conflicted = judges[2]
    judging.pin_conflict(actor=staff, member=conflicted, type_="financial", reason="Shares",
                         organization=entries[0].organization)
    db.session.commit()
    seen = [r["entry"] for r in judging.judge_leaderboard(conflicted)]
    assert entries[0].public_code not in seen and entries[1].public_code in seen
    assert {r["entry"] for r in judging.judge_leaderboard(judges[0])} == {e.public_code for e in entries[:2]}
    # The conflicted judge's review of entry 0 was withdrawn: other judges no longer see it either.
    own = db.session.execute(select(Assignment).where(Assignment.panel_member_id == judges[0].id,
                                                      Assignment.submission_id == entries[0].id)).scalar_one()
    others = judging.others_reviews(own)
    assert len(others) == 1 and others[0].assignment.panel_member_id == judges[1].id


def test_disqualified_entry_leaves_the_queue_and_cannot_be_scored(client, login_as, db, staff, phase, entries):
    judge = make_judge(phase, "steady@agency.gov")
    kept, dropped = make_assignment(judge, entries[0]), make_assignment(judge, entries[1])
    subs.disqualify(actor=staff, submission=entries[1], reason="Ineligible vendor")
    db.session.commit()
    assert [line.public_code for line in judging.queue_lines(judge.user)[0][1]] == [entries[0].public_code]
    with pytest.raises(NotFound):
        judging.judge_assignment(judge.user, dropped.id)
    assert judging.judge_assignment(judge.user, kept.id) is kept
    login_as(judge.user)
    refused = client.post(f"/judging/entries/{dropped.id}", data={"score-quality": "4", "score-impact": "4",
                                                                  "action": "submit"})
    assert refused.status_code == 404
    assert db.session.execute(select(func.count(Review.id))).scalar_one() == 0
    judges, per_entry = judging.progress(phase)
    assert (judges[0].assigned, judges[0].on_hold) == (1, 1)
    assert [e.submission.id for e in per_entry] == [entries[0].id, entries[2].id]


# --- a suspicion raised after assignment -------------------------------------------------------------


def test_suspected_conflict_after_assignment_puts_the_pair_on_hold(db, staff, phase, entries):
    """The judge can no longer open the entry, so it is not outstanding, does not count as covering the
    entry, keeps nobody from the leaderboard, and "ensure" finds the entry another judge."""
    phase.others_scores_visible = "after_own"
    judges = [make_judge(phase, f"late{n}@agency{n}.gov") for n in range(3)]
    for entry in entries:
        for judge in judges[:2]:
            make_assignment(judge, entry)
    for entry in entries[1:]:
        submit(judges[0], db.session.execute(select(Assignment).where(
            Assignment.panel_member_id == judges[0].id, Assignment.submission_id == entry.id)).scalar_one())
    db.session.commit()
    assert not judging.judge_sees_leaderboard(judges[0])
    entries[0].organization.email_domain = "agency0.gov"  # judge 0's domain: now suspected
    judging.detect_suspected(phase)
    db.session.commit()
    progress = {j.member.id: j for j in judging.progress(phase)[0]}
    assert (progress[judges[0].id].assigned, progress[judges[0].id].submitted,
            progress[judges[0].id].on_hold, progress[judges[0].id].outstanding) == (2, 2, 1, 0)
    assert judging.judge_sees_leaderboard(judges[0])  # every review they can open is in
    assert judging.send_reminders(actor=staff, phase=phase, member_ids=[judges[0].id]) == 0
    run = judging.propose(actor=staff, phase=phase, mode="ensure", k=2)
    assert run.result["pairs"] == [[judges[2].id, entries[0].id]]
    assert len(judging.approve_run(actor=staff, run=run)) == 1


def test_ensure_tops_up_when_an_entry_has_more_than_k_or_a_judge_has_a_minimum(db, staff, phase, entries):
    judges = [make_judge(phase, f"top{n}@agency{n}.gov", min_load=2 if n == 1 else 0) for n in range(4)]
    for entry in entries:
        for judge in judges[:2]:
            make_assignment(judge, entry)
    make_assignment(judges[2], entries[0])  # a third judge added by hand: more than k
    first = db.session.execute(select(Assignment).where(Assignment.panel_member_id == judges[1].id,
                                                        Assignment.submission_id == entries[1].id)).scalar_one()
    judging.recuse(actor=judges[1].user, assignment=first, reason="I know the founder")
    db.session.commit()
    run = judging.propose(actor=staff, phase=phase, mode="ensure", k=2)
    assert len(run.result["pairs"]) == 1 and run.result["pairs"][0][1] == entries[1].id
    assert run.result["pairs"][0][0] in {judges[2].id, judges[3].id}
    # The solver's own check still refuses a top-up that overfills an entry.
    problem = solver.Problem(judges=[solver.Judge(1, 5), solver.Judge(2, 5), solver.Judge(3, 5)],
                             entries=[solver.Entry(10, 2)], affinity=np.zeros((3, 1)),
                             forbidden=np.zeros((3, 1), dtype=bool), locked={(1, 10), (2, 10)})
    overfilled = solver.Solution(pairs=[(3, 10)], loads={1: 1, 2: 1, 3: 1}, objective=0, total_affinity=0,
                                 min_affinity={})
    assert solver.check(problem, overfilled) == ["entry 10 has 3 judges, not 2"]
    assert solver.check(problem, solver.Solution(pairs=[], loads={1: 1, 2: 1, 3: 0}, objective=0,
                                                 total_affinity=0, min_affinity={})) == []


# --- after judging closes -------------------------------------------------------------------------


def test_nothing_moves_once_judging_is_closed(db, staff, phase, entries):
    judge = make_judge(phase, "closing@agency.gov")
    assignment = make_assignment(judge, entries[0])
    other = make_assignment(judge, entries[1])
    judging.close_judging(actor=staff, phase=phase)
    with pytest.raises(Conflict, match="closed"):
        judging.recuse(actor=judge.user, assignment=assignment, reason="Too late")
    with pytest.raises(Conflict, match="reopen judging"):
        judging.unassign(actor=staff, assignment=other, reason="Too late")
    with pytest.raises(Conflict, match="reopen judging first"):
        judging.send_reminders(actor=staff, phase=phase)
    assert assignment.status == other.status == "assigned"
    assert db.session.execute(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.template == "judge_reminder")).scalar_one() == 0
    judging.close_judging(actor=staff, phase=phase, reopen=True)
    judging.recuse(actor=judge.user, assignment=assignment, reason="I know them")
    assert assignment.status == "recused"


def test_reminders_wait_until_scoring_opens(db, staff):
    open_phase = make_challenge(publish=True, slug="still-open").phases[0]
    vendor = make_user(email="early@vendor.com", roles=("vendor",))
    entry, _ = make_submission(vendor, open_phase, submit=True)
    judge = make_judge(open_phase, "early@agency.gov")
    make_assignment(judge, entry)
    with pytest.raises(Conflict, match="until the phase stops taking applications"):
        judging.send_reminders(actor=staff, phase=open_phase)


def test_judging_cannot_be_reopened_after_results_are_published(db, staff, phase):
    phase.judging_closed_at = judging.utcnow()
    phase.challenge.status = "results_published"
    with pytest.raises(Conflict, match="results are published"):
        judging.close_judging(actor=staff, phase=phase, reopen=True)
    assert phase.judging_closed_at is not None  # (status set directly: publishing is tested with awards)


# --- bids and the attestation ---------------------------------------------------------------------


def test_a_no_bid_cannot_take_away_an_assigned_entry(client, login_as, db, phase, entries):
    phase.bids_enabled = True
    judge = make_judge(phase, "bidder@agency.gov")
    assignment = make_assignment(judge, entries[0])
    judging.save_review(actor=judge.user, assignment=assignment, values={"quality": "3"}, comments={},
                        submit=False)  # a draft
    db.session.commit()
    with pytest.raises(Conflict, match="already assigned to you"):
        judging.place_bid(actor=judge.user, member=judge, submission=entries[0], value="no")
    login_as(judge.user)
    page = client.post(f"/judging/panels/{judge.id}/bids", data={f"bid-{entries[0].id}": "no",
                                                                 f"bid-{entries[1].id}": "yes"},
                       follow_redirects=True)
    assert "Nothing was saved." in page.text and "recuse" in page.text
    db.session.expire_all()
    assert db.session.get(Assignment, assignment.id).status == "assigned"
    assert judging.bids_of(judge) == {}
    assert judging.place_bid(actor=judge.user, member=judge, submission=entries[1], value="no").value == "no"


def test_a_changed_attestation_text_must_be_signed_again(client, login_as, db, phase, entries):
    judge = make_judge(phase, "signed.old@agency.gov")
    assignment = make_assignment(judge, entries[0])
    judge.attestation_version = "an-older-text"
    db.session.commit()
    with pytest.raises(judging.AttestationNeeded):
        judging.judge_assignment(judge.user, assignment.id)
    login_as(judge.user)
    queue = client.get("/judging/")
    assert "The attestation text changed since you signed it." in queue.text
    sent = client.get(f"/judging/entries/{assignment.id}")
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"/judging/panels/{judge.id}/attestation")
    judging.attest(actor=judge.user, member=judge, version=judging.ATTESTATION_VERSION)
    db.session.commit()
    assert judging.judge_assignment(judge.user, assignment.id) == assignment


# --- the score import -------------------------------------------------------------------------------


def _csv(*rows: str) -> str:
    return "entry,judge,criterion,score\n" + "\n".join(rows) + "\n"


def test_score_import_respects_recusals_removals_disqualification_and_released_feedback(db, staff, phase, entries):
    challenge = phase.challenge
    recuser = make_judge(phase, "recuser@agency.gov")
    judging.recuse(actor=recuser.user, assignment=make_assignment(recuser, entries[0]), reason="Former client")
    removed = make_judge(phase, "gone@agency.gov")
    judging.remove_member(actor=staff, member=removed, reason="Left the agency")
    subs.disqualify(actor=staff, submission=entries[2], reason="Late paperwork")
    db.session.commit()
    text = _csv(f"{entries[0].public_code},recuser@agency.gov,quality,4",
                f"{entries[0].public_code},recuser@agency.gov,impact,4",
                f"{entries[1].public_code},gone@agency.gov,quality,4",
                f"{entries[1].public_code},gone@agency.gov,impact,4",
                f"{entries[2].public_code},fresh@agency.gov,quality,4",
                f"{entries[2].public_code},fresh@agency.gov,impact,4")
    for create_missing in (False, True):
        with pytest.raises(ValidationFailed) as err:
            judging.import_scores(actor=staff, challenge=challenge, phase=phase, text=text,
                                  create_missing=create_missing)
        report = err.value.errors["file"]
        assert "line 2: recuser@agency.gov recused from" in report
        assert "line 4: gone@agency.gov was removed from the panel" in report
        assert f"line 6: entry {entries[2].public_code} is disqualified" in report
    db.session.rollback()
    assert db.session.execute(select(func.count(Review.id))).scalar_one() == 0
    assert db.session.get(PanelMember, removed.id).status == "removed"

    good = _csv(f"{entries[1].public_code},fresh@agency.gov,quality,4",
                f"{entries[1].public_code},fresh@agency.gov,impact,5")
    assert judging.import_scores(actor=staff, challenge=challenge, phase=phase, text=good,
                                 create_missing=True).reviews_created == 1
    phase.feedback_released_at = judging.utcnow()
    with pytest.raises(Conflict, match="Feedback for this phase is released"):
        judging.import_scores(actor=staff, challenge=challenge, phase=phase, text=good)


def test_a_comment_error_marks_the_comment_box_not_the_score(client, login_as, db, phase, entries):
    from challenges.services import current_rubric

    quality = next(c for c in current_rubric(phase).criteria if c.key == "quality")
    quality.comment_rule, quality.min_comment_chars = "always", 20
    judge = make_judge(phase, "commenter@agency.gov")
    assignment = make_assignment(judge, entries[0])
    login_as(judge.user)
    page = client.post(f"/judging/entries/{assignment.id}", data={
        "score-quality": "4", "score-impact": "4", "comment-quality": "short", "action": "submit"})
    assert page.status_code == 400
    text = page.text
    assert 'href="#comment-quality"' in text  # the summary links to the box to fix
    assert ('aria-invalid="true" aria-describedby="comment-error-quality"' in text
            and 'id="comment-error-quality">Quality: the comment needs at least 20 characters (it has 5).' in text)
    score_input = text[text.index('id="score-quality"'):text.index(">", text.index('id="score-quality"'))]
    assert "aria-invalid" not in score_input
    assert db.session.execute(select(func.count(Review.id)).where(Review.status == "submitted")).scalar_one() == 0


# --- invitations ---------------------------------------------------------------------------------------


def _invitation_path(address: str) -> str:
    message = db_messages(address)[-1]
    return "/judging/invitations/" + message.body_text.split("/judging/invitations/")[1].split()[0]


def db_messages(address: str) -> list[OutboxMessage]:
    from challenges.extensions import db

    return list(db.session.execute(select(OutboxMessage).where(OutboxMessage.to_addr == address)
                                   .order_by(OutboxMessage.id)).scalars())


def test_invitation_can_be_declined_resent_and_names_its_address(client, login_as, db, staff, phase):
    member = judging.invite_judge(actor=staff, phase=phase, email="maybe@doe.gov")
    db.session.commit()
    path = _invitation_path("maybe@doe.gov")

    login_as(make_user(email="someone.else@doe.gov", roles=()))
    wrong = client.get(path).text
    assert "It was sent to maybe@doe.gov, and you are signed in as someone.else@doe.gov" in wrong
    assert "Accept the invitation" not in wrong

    invitee = make_user(email="maybe@doe.gov", roles=())
    login_as(invitee)
    page = client.get(path).text
    assert 'value="decline"' in page
    declined = client.post(path, data={"decision": "decline"}, follow_redirects=True)
    assert "You declined to judge" in declined.text
    db.session.expire_all()
    member = db.session.get(PanelMember, member.id)
    assert member.status == "declined" and not invitee.has_role("judge")
    again = client.post(path, data={"decision": "decline"}, follow_redirects=True)
    assert "You already answered this invitation." in again.text
    with pytest.raises(Conflict, match="declined, not waiting"):
        judging.resend_invitation(actor=staff, member=member)
    # Changing one's mind while the link is valid is allowed.
    assert "If you changed your mind" in client.get(path).text
    assert client.post(path, data={"decision": "accept"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(PanelMember, member.id).status == "active"


def test_staff_resend_a_fresh_invitation(db, staff, phase):
    member = judging.invite_judge(actor=staff, phase=phase, email="slow@doe.gov")
    db.session.commit()
    first_sent = member.invited_at
    member.invited_at = first_sent - timedelta(days=40)  # the first link has expired
    db.session.commit()
    with pytest.raises(PermissionDenied):
        judging.resend_invitation(actor=make_user(email="not.staff@doe.gov", roles=("judge",)), member=member)
    judging.resend_invitation(actor=staff, member=member)
    db.session.commit()
    assert len(db_messages("slow@doe.gov")) == 2  # a second email, not deduplicated into the first
    assert member.invited_at > first_sent and member.status == "invited"
    token = _invitation_path("slow@doe.gov").rsplit("/", 1)[1]
    joined = judging.accept_invitation(actor=make_user(email="slow@doe.gov", roles=()), token=token)
    assert joined.id == member.id and joined.status == "active"


def test_resend_from_the_panel_page(client, login_as, db, staff, phase):
    member = judging.invite_judge(actor=staff, phase=phase, email="again@doe.gov")
    active = make_judge(phase, "active@doe.gov")
    db.session.commit()
    login_as(staff)
    page = client.get(f"/staff/challenges/{phase.challenge.slug}/phases/{phase.id}/panel").text
    assert 'Resend invitation<span class="usa-sr-only"> to again@doe.gov' in page
    assert 'Resend invitation<span class="usa-sr-only"> to active@doe.gov' not in page
    sent = client.post(f"/staff/panel-members/{member.id}", data={"action": "resend"}, follow_redirects=True)
    assert "A new invitation link was sent to again@doe.gov" in sent.text
    assert len(db_messages("again@doe.gov")) == 2
    refused = client.post(f"/staff/panel-members/{active.id}", data={"action": "resend"}, follow_redirects=True)
    assert "active, not waiting for an invitation" in refused.text
    assert db_messages("active@doe.gov") == []


def test_after_submitting_the_judge_is_led_to_the_next_entry(client, login_as, db, phase, entries):
    judge = make_judge(phase, "onward@agency.gov")
    first, second = make_assignment(judge, entries[0]), make_assignment(judge, entries[1])
    login_as(judge.user)
    bad = client.post(f"/judging/entries/{first.id}", data={"score-quality": "4", "score-impact": "",
                                                          "action": "submit"})
    assert bad.status_code == 400 and "50% of the required criteria scored." in bad.text  # what was typed
    done = client.post(f"/judging/entries/{first.id}", data={"score-quality": "4", "score-impact": "5",
                                                           "action": "submit"}, follow_redirects=True)
    assert "Review submitted." in done.text
    assert f'href="/judging/entries/{second.id}">Next entry to review</a>' in done.text
    client.post(f"/judging/entries/{second.id}", data={"score-quality": "3", "score-impact": "3", "action": "submit"})
    last = client.get(f"/judging/entries/{second.id}").text
    assert "Next entry to review" not in last and "every entry there is reviewed" in last


def test_the_conflict_page_no_longer_offers_a_disqualified_entry(client, login_as, db, staff, phase, entries):
    judge = make_judge(phase, "declarer@agency.gov")
    make_assignment(judge, entries[0])
    make_assignment(judge, entries[1])
    subs.disqualify(actor=staff, submission=entries[1], reason="Late paperwork")
    db.session.commit()
    assert [a.submission_id for a in judging.queue(judge.user)[0][1]] == [entries[0].id]
    login_as(judge.user)
    page = client.get(f"/judging/panels/{judge.id}/conflicts").text
    assert entries[0].public_code in page and entries[1].public_code not in page
