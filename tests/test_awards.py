"""Awards: record with overrides for flagged entries, a second person approves, publish results, winners page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from challenges import services as core
from challenges.errors import Conflict, PermissionDenied, ValidationFailed
from challenges.judging import awards
from challenges.judging.models import Award
from challenges.mail import OutboxMessage
from challenges.models import Challenge
from tests.factories import make_challenge, make_definition, make_user


@pytest.fixture
def judged(db, run_cli, tmp_path):
    """Panel P plus a provisional entry E5 (one review); the challenge is in judging."""
    definition = make_definition()
    definition["phases"][0]["rubric"] = {"criteria": [
        {"key": "total", "name": "Total", "weight": 1, "min": 0, "max": 100, "step": 1}]}
    definition["phases"][0]["judging"]["quorum"] = 2
    author = make_user(email="author@example.gov", roles=("staff",))
    challenge = make_challenge(author=author, publish=True, slug="awarded",
                               **{k: v for k, v in definition.items() if k != "slug"})
    from tests.factories import make_submission

    vendor = make_user(email="founder@realvendor.com", roles=("vendor",))
    real, _ = make_submission(vendor, challenge.phases[0], organization_name="Real Vendor LLC", submit=True)
    rows = ["entry,judge,criterion,score"]
    rows += [f"{real.public_code},{j}@agency.gov,total,{t}" for j, t in (("j1", 65), ("j2", 55), ("j3", 60))]
    panel = {"J1": {"E1": 90, "E2": 80, "E3": 85, "E4": 70, "E5": 99},
             "J2": {"E1": 60, "E2": 50, "E3": 65, "E4": 40}, "J3": {"E1": 75, "E2": 70, "E3": 60, "E4": 55}}
    rows += [f"Entry {e},{j.lower()}@agency.gov,total,{t}" for j, r in panel.items() for e, t in r.items()]
    (tmp_path / "s.csv").write_text("\n".join(rows) + "\n")
    assert run_cli("judging", "import-scores", "awarded", str(tmp_path / "s.csv"), "--phase", "phase-1",
                   "--create-missing").exit_code == 0
    db.session.expire_all()
    challenge = db.session.get(Challenge, challenge.id)
    core.transition(actor=author, challenge=challenge, to="closed")
    core.transition(actor=author, challenge=challenge, to="judging")
    db.session.commit()
    from challenges.submissions.models import Submission

    entries = {s.title.split()[-1]: s for s in db.session.execute(select(Submission)).scalars()}
    return challenge, challenge.phases[0], entries, author, make_user(email="approver@example.gov", roles=("staff",))


def test_record_approve_publish_and_winners(client, db, judged):
    challenge, phase, entries, author, approver = judged
    with pytest.raises(ValidationFailed) as err:
        awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=0, title="", amount=-5,
                            justification="")
    assert {"place", "title", "amount", "justification"} <= set(err.value.errors)
    # With three judges the bootstrap cannot separate E1 from the award line: it is a statistical tie.
    assert "statistical tie" in err.value.errors["override_reason"]
    with pytest.raises(ValidationFailed) as err:
        awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=1, title="T" * 1000,
                            amount=1, justification="j" * 6000, override_reason="x")
    assert err.value.errors["title"] == "Shorten the award's name to 200 characters."
    assert err.value.errors["justification"] == "Shorten the justification to 5,000 characters."
    first = awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=1, title="First place",
                                amount=50_000, justification="Highest on every method.",
                                override_reason="First on all six methods; the panel confirmed it.")
    with pytest.raises(PermissionDenied, match="Another staff member"):
        awards.approve_award(actor=author, award=first)
    with pytest.raises(Conflict, match="wait for a second staff member"):
        awards.publish_results(actor=author, challenge=challenge)
    assert client.get("/challenges/awarded/winners").status_code == 404  # not before publication
    awards.approve_award(actor=approver, award=first)
    with pytest.raises(Conflict, match="Awards page"):
        core.transition(actor=author, challenge=challenge, to="results_published")  # only through publishing
    sent = awards.publish_results(actor=author, challenge=challenge)
    db.session.commit()
    assert challenge.status == "results_published"
    mails = db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "results_published")
                               ).scalars().all()
    assert sent == len(mails) > 0
    assert [m.to_addr for m in mails] == ["founder@realvendor.com"]  # imported entries have no people to tell
    assert "not among the winners" in mails[0].body_text
    page = client.get("/challenges/awarded/winners")
    assert page.status_code == 200 and "First place" in page.text and entries["E1"].public_code in page.text
    assert entries["E2"].public_code not in page.text  # only winners are public


def test_flagged_entries_need_an_override(db, judged):
    _, phase, entries, author, _ = judged
    with pytest.raises(ValidationFailed) as err:
        awards.record_award(actor=author, phase=phase, submission=entries["E5"], place=3, title="Third",
                            amount=1000, justification="Strong single review.")
    assert "provisional" in err.value.errors["override_reason"]
    award = awards.record_award(actor=author, phase=phase, submission=entries["E5"], place=3, title="Third",
                                amount=1000, justification="Strong single review.",
                                override_reason="The panel read it together and agreed.")
    assert award.flags_at_award == ["provisional"]


def test_one_award_per_entry_and_no_more_than_the_prize_total(db, judged):
    challenge, phase, entries, author, approver = judged
    challenge.prize_total = 60_000
    why = {"justification": "Strong.", "override_reason": "The panel agreed."}
    awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=1, title="First", amount=50_000,
                        **why)
    with pytest.raises(ValidationFailed) as err:
        awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=2, title="Second",
                            amount=5_000, **why)
    assert "already has an award" in err.value.errors["entry"]
    with pytest.raises(ValidationFailed) as err:
        awards.record_award(actor=author, phase=phase, submission=entries["E2"], place=2, title="Second",
                            amount=20_000, **why)
    assert err.value.errors["amount"] == ("The challenge's prize total is $60,000; $50,000 is already awarded, "
                                          "so at most $10,000 is left.")
    assert len(awards.awards_of(phase)) == 1
    second = awards.record_award(actor=author, phase=phase, submission=entries["E2"], place=2, title="Second",
                                 amount=10_000, **why)
    assert second.amount == 10_000
    challenge.prize_total = 55_000  # lowered after recording: approval checks again
    with pytest.raises(Conflict, match=r"prize total is \$55,000; \$50,000 is already awarded"):
        awards.approve_award(actor=approver, award=second)
    assert second.status == "proposed"


def test_awards_page_over_http(client, login_as, db, judged):
    _challenge, phase, entries, author, approver = judged
    url = f"/staff/challenges/awarded/phases/{phase.id}/awards"
    login_as(author)
    assert client.get(url).status_code == 200
    bad = client.post(url, data={"submission_id": str(entries["E1"].id), "place": "1", "title": "First"})
    assert bad.status_code == 400 and "Write why this entry earns the award" in bad.text
    assert client.post(url, data={"submission_id": str(entries["E1"].id), "place": "1", "title": "First",
                                  "amount": "100", "justification": "Best.",
                                  "override_reason": "Panel decision."}).status_code == 302
    award = db.session.execute(select(Award)).scalar_one()
    assert "Waiting for another staff member to approve" in client.get(url).text
    own = client.post(f"/staff/awards/{award.id}", data={"decision": "approve"}, follow_redirects=True)
    assert own.status_code == 200 and "Another staff member must approve an award you recorded." in own.text
    no_reason = client.post(f"/staff/awards/{award.id}", data={"decision": "withdraw"}, follow_redirects=True)
    assert "Say why the award is withdrawn." in no_reason.text
    db.session.expire_all()
    assert db.session.get(Award, award.id).status == "proposed"
    login_as(approver)
    assert client.post(f"/staff/awards/{award.id}", data={"decision": "approve"}).status_code == 302
    published = client.post("/staff/challenges/awarded/publish-results")
    assert published.status_code == 302 and published.headers["Location"].endswith("/challenges/awarded/winners")


def test_public_sees_the_whole_ranking_only_when_staff_chose_it(client, db, judged):
    challenge, phase, entries, author, approver = judged
    first = awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=1, title="First place",
                                amount=50_000, justification="Highest on every method.",
                                override_reason="First on all six methods; the panel confirmed it.")
    awards.approve_award(actor=approver, award=first)
    with pytest.raises(ValidationFailed) as err:
        core.save_judging(actor=author, phase=phase, judges_per_entry=3, quorum=2, primary_method="mean",
                          blind=False, others_scores_visible="never", public_results="everything")
    assert "public_results" in err.value.errors
    core.save_judging(actor=author, phase=phase, judges_per_entry=phase.judges_per_entry, quorum=phase.quorum,
                      primary_method="mean", blind=phase.blind, others_scores_visible=phase.others_scores_visible,
                      public_results="leaderboard")
    db.session.commit()
    with pytest.raises(Exception, match="not published"):
        awards.public_leaderboards(challenge)  # nothing public before publication
    awards.publish_results(actor=author, challenge=challenge)
    db.session.commit()
    page = client.get("/challenges/awarded/winners").text
    assert "Full ranking" in page
    codes = [entries[e].public_code for e in ("E1", "E3", "E2", "E4")]  # by mean: 75, 70, 66.67, 55
    positions = [page.index(code) for code in codes]
    assert positions == sorted(positions)
    assert "j1@agency.gov" not in page and "J1" not in page  # judges stay private
    (only,) = awards.public_leaderboards(challenge)
    rows = {r["entry"]: r for r in only[2]}
    assert rows[entries["E1"].public_code]["score"] == 75 and rows[entries["E1"].public_code]["award"] == "First place"
    assert set(rows[entries["E1"].public_code]) == {"rank", "entry", "title", "score", "n_reviews", "rank_low",
                                                    "rank_high", "award"}
    phase.public_results = "winners"
    db.session.commit()
    assert "Full ranking" not in client.get("/challenges/awarded/winners").text
