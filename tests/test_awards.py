"""Awards: record with overrides for flagged entries, a second person approves, publish results, winners page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from challenges import services as core
from challenges.errors import Conflict, PermissionDenied, ValidationFailed
from challenges.judging import awards, results
from challenges.judging import services as judging
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
    with pytest.raises(Conflict, match=r"Close judging first for Concept papers \(Progress page\)"):
        awards.publish_results(actor=author, challenge=challenge)  # judges could still change the ranking
    assert challenge.status == "judging"
    judging.close_judging(actor=author, phase=phase)
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
    page = client.get(url).text
    assert "Judging is still open for" in page and "Publish results</button>" not in page
    refused = client.post("/staff/challenges/awarded/publish-results", data={"phase_id": phase.id},
                          follow_redirects=True)
    assert "Close judging first for Concept papers" in refused.text
    db.session.expire_all()
    assert db.session.get(Challenge, _challenge.id).status == "judging"
    judging.close_judging(actor=author, phase=db.session.get(type(phase), phase.id))
    db.session.commit()
    page = client.get(url).text
    assert "Judging is still open for" not in page and "Publish results</button>" in page
    assert "Judging is closed; the winners page goes public" in page  # the confirmation says what happens
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
    judging.close_judging(actor=author, phase=phase)
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


WHY = {"justification": "Strong on every criterion.", "override_reason": "The panel agreed."}


def _events(db, action: str, award: Award) -> int:
    from challenges.audit import AuditEvent

    return len(db.session.execute(select(AuditEvent).where(AuditEvent.action == action,
                                                           AuditEvent.object_id == str(award.id))).scalars().all())


def _publish(db, author, approver, challenge, phase, award):
    awards.approve_award(actor=approver, award=award)
    judging.close_judging(actor=author, phase=phase)
    awards.publish_results(actor=author, challenge=challenge)
    db.session.commit()


def test_a_disqualified_entry_is_never_approved_published_or_shown(client, login_as, db, judged):
    from challenges.submissions import services as subs

    challenge, phase, entries, author, approver = judged
    first = awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=1, title="First",
                                amount=1000, **WHY)
    subs.disqualify(actor=author, submission=entries["E1"], reason="Broke rule 3.")
    code = entries["E1"].public_code
    with pytest.raises(Conflict, match=f"{code} is disqualified, so its award \\(First\\) cannot be approved; "
                                       "withdraw the award instead"):
        awards.approve_award(actor=approver, award=first)
    assert first.status == "proposed" and first.approved_at is None
    db.session.commit()
    login_as(author)
    page = client.get(f"/staff/challenges/awarded/phases/{phase.id}/awards").text
    assert "<strong>Disqualified</strong>: this entry can win nothing; withdraw the award." in page
    assert "Not on the leaderboard" in page  # its scores stopped counting

    # Approved first, disqualified afterwards: publishing is refused and names the entry.
    awards.withdraw_award(actor=author, award=first, reason="Disqualified.")
    second = awards.record_award(actor=author, phase=phase, submission=entries["E3"], place=1, title="First",
                                 amount=1000, **WHY)
    awards.approve_award(actor=approver, award=second)
    judging.close_judging(actor=author, phase=phase)
    subs.disqualify(actor=author, submission=entries["E3"], reason="Late conflict of interest.")
    with pytest.raises(Conflict) as err:
        awards.publish_results(actor=author, challenge=challenge)
    assert err.value.message == ("Withdraw the awards of entries no longer in the running before publishing: "
                                 f"First for {entries['E3'].public_code} (disqualified).")
    assert challenge.status == "judging"
    assert not db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "results_published")).all()


def test_a_winner_disqualified_after_publication_leaves_the_public_pages(client, db, judged):
    from challenges.submissions import services as subs

    challenge, phase, entries, author, approver = judged
    phase.public_results = "leaderboard"
    first = awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=1, title="First place",
                                amount=1000, **WHY)
    _publish(db, author, approver, challenge, phase, first)
    code = entries["E1"].public_code
    before = client.get("/challenges/awarded/winners").text
    assert "First place" in before and before.count(code) == 2  # the winner and its row in the ranking
    subs.disqualify(actor=author, submission=entries["E1"], reason="Found to have copied another entry.")
    db.session.commit()
    assert awards.public_winners(challenge) == []
    assert code not in [r["entry"] for _, _, rows in awards.public_leaderboards(challenge) for r in rows]
    after = client.get("/challenges/awarded/winners").text
    assert code not in after and "First place" not in after and "No awards were made." in after
    assert entries["E3"].public_code in after  # the rest of the ranking is still there


def test_no_award_is_recorded_approved_or_withdrawn_after_publication(client, login_as, db, judged):
    challenge, phase, entries, author, approver = judged
    first = awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=1, title="First",
                                amount=1000, **WHY)
    _publish(db, author, approver, challenge, phase, first)
    with pytest.raises(Conflict, match=r"Results of .* are published; awards can no longer be recorded"):
        awards.record_award(actor=author, phase=phase, submission=entries["E3"], place=2, title="Second",
                            amount=500, **WHY)
    late = Award(phase_id=phase.id, submission_id=entries["E3"].id, place=2, title="Second", amount=500,
                 justification="Slipped in.", created_by_id=author.id)  # e.g. written by an older release
    db.session.add(late)
    db.session.commit()
    with pytest.raises(Conflict, match="awards can no longer be approved"):
        awards.approve_award(actor=approver, award=late)
    assert late.status == "proposed"
    with pytest.raises(Conflict, match="can no longer be withdrawn"):
        awards.withdraw_award(actor=author, award=first, reason="Changed our minds.")
    db.session.rollback()
    login_as(approver)
    url = f"/staff/challenges/awarded/phases/{phase.id}/awards"
    page = client.get(url).text
    assert "Record the award</button>" not in page and "Reason to withdraw" not in page and ">Approve<" not in page
    assert "Awards can no longer be recorded, approved or withdrawn." in page
    refused = client.post(url, data={"submission_id": str(entries["E3"].id), "place": "3", "title": "Third",
                                     "amount": "1", **WHY})
    assert refused.status_code == 400 and "awards can no longer be recorded" in refused.text
    approve = client.post(f"/staff/awards/{late.id}", data={"decision": "approve"}, follow_redirects=True)
    assert "awards can no longer be approved" in approve.text
    db.session.expire_all()
    assert db.session.get(Award, late.id).status == "proposed" and len(awards.awards_of(phase)) == 2


def test_an_approved_award_can_be_withdrawn_once_before_publication(client, login_as, db, judged):
    _challenge, phase, entries, author, approver = judged
    first = awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=1, title="First",
                                amount=1000, **WHY)
    awards.approve_award(actor=approver, award=first)
    db.session.commit()
    login_as(author)
    url = f"/staff/challenges/awarded/phases/{phase.id}/awards"
    page = client.get(url).text
    assert f'<input class="usa-input" id="why-{first.id}" name="reason" required>' in page
    assert "Withdraw the approved award First for" in page
    empty = client.post(f"/staff/awards/{first.id}", data={"decision": "withdraw", "reason": " "},
                        follow_redirects=True)
    assert "Say why the award is withdrawn." in empty.text
    long = client.post(f"/staff/awards/{first.id}", data={"decision": "withdraw", "reason": "x" * 5001},
                       follow_redirects=True)
    assert "Shorten the reason to 5,000 characters." in long.text
    db.session.expire_all()
    assert db.session.get(Award, first.id).status == "approved"
    done = client.post(f"/staff/awards/{first.id}", data={"decision": "withdraw", "reason": "x" * 5000},
                       follow_redirects=True)
    assert "Award withdrawn." in done.text
    again = client.post(f"/staff/awards/{first.id}", data={"decision": "withdraw", "reason": "Twice."},
                        follow_redirects=True)
    assert f"The award First for {entries['E1'].public_code} was already withdrawn." in again.text
    db.session.expire_all()
    withdrawn = db.session.get(Award, first.id)
    assert withdrawn.status == "withdrawn" and _events(db, "award.withdrawn", withdrawn) == 1
    with pytest.raises(Conflict, match="already withdrawn"):
        awards.withdraw_award(actor=author, award=withdrawn, reason="Again.")


def test_one_entry_per_place_and_long_override_reasons_are_refused(db, judged):
    _challenge, phase, entries, author, _approver = judged
    first = awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=1, title="First",
                                amount=1000, **WHY)
    with pytest.raises(ValidationFailed) as err:
        awards.record_award(actor=author, phase=phase, submission=entries["E3"], place=1, title="Also first",
                            amount=1000, **WHY)
    assert err.value.errors == {"place": f"Place 1 is already awarded to {entries['E1'].public_code} (First); "
                                         "withdraw that award or choose another place."}
    with pytest.raises(ValidationFailed) as err:
        awards.record_award(actor=author, phase=phase, submission=entries["E3"], place=2, title="Second",
                            amount=1000, justification="Good.", override_reason="r" * 5001)
    assert err.value.errors == {"override_reason": "Shorten the override reason to 5,000 characters."}
    assert len(awards.awards_of(phase)) == 1
    awards.withdraw_award(actor=author, award=first, reason="Rethought.")
    again = awards.record_award(actor=author, phase=phase, submission=entries["E3"], place=1, title="First",
                                amount=1000, justification="Good.", override_reason="r" * 5000)
    assert again.place == 1 and len(again.override_reason) == 5000


def test_awards_table_shows_who_recorded_and_approved_and_where_the_entry_stands(client, login_as, db, judged):
    from challenges.timezones import format_human

    challenge, phase, entries, author, approver = judged
    author.name, approver.name = "Ada Author", "Abe Approver"
    first = awards.record_award(actor=author, phase=phase, submission=entries["E1"], place=1, title="First",
                                amount=1000, **WHY)
    third = awards.record_award(actor=author, phase=phase, submission=entries["E5"], place=3, title="Third",
                                amount=100, **WHY)
    awards.approve_award(actor=approver, award=first)
    db.session.commit()
    rank = next(r["rank"] for r in results.phase_leaderboard(phase)[1] if r["entry"] == entries["E1"].public_code)
    rows = {r.award.id: r for r in awards.award_rows(phase)}
    assert (rows[first.id].recorded_by, rows[first.id].approved_by, rows[first.id].rank) == (author, approver, rank)
    assert rows[first.id].flags == ["statistical_tie"] and rows[third.id].approved_by is None
    login_as(author)
    page = client.get(f"/staff/challenges/awarded/phases/{phase.id}/awards").text
    row = page.split(f"<th scope=\"row\">{first.title}<br>")[1].split("</tr>")[0]
    assert f"Recorded by Ada Author, {format_human(first.created_at, challenge.timezone)}" in row
    assert f"approved by Abe Approver, {format_human(first.approved_at, challenge.timezone)}" in row
    assert f"Rank {rank}; flags now: statistical tie<br>" in row and "Flags when recorded: statistical tie" in row
    third_row = page.split("<th scope=\"row\">Third<br>")[1].split("</tr>")[0]
    assert "Flags when recorded: provisional" in third_row and "approved by" not in third_row  # not yet
    assert f"Awards of this phase ({challenge.timezone} times)" in page


def test_the_winning_vendor_sees_the_award_once_results_are_out(client, login_as, db, judged):
    from challenges.accounts.models import User

    challenge, phase, entries, author, approver = judged
    real = next(s for s in entries.values() if s.organization.legal_name == "Real Vendor LLC")
    award = awards.record_award(actor=author, phase=phase, submission=real, place=2, title="Runner-up",
                                amount=10_000, justification="Solid.", override_reason="The panel agreed.")
    awards.approve_award(actor=approver, award=award)
    db.session.commit()
    founder = db.session.execute(select(User).where(User.email == "founder@realvendor.com")).scalar_one()
    login_as(founder)
    assert "Awarded:" not in client.get(f"/vendor/applications/{real.id}").text  # not before publication
    assert awards.published_award_of(real) is None
    judging.close_judging(actor=author, phase=phase)
    awards.publish_results(actor=author, challenge=challenge)
    db.session.commit()
    page = client.get(f"/vendor/applications/{real.id}").text
    assert "Awarded: Runner-up" in page and "$10,000" in page and 'href="/challenges/awarded/winners"' in page
    assert "Awarded: Runner-up" in client.get("/vendor/").text
    assert awards.published_award_of(real).id == award.id
    from challenges.judging import feedback

    feedback.release(actor=author, phase=phase)
    db.session.commit()
    told = client.get(f"/vendor/applications/{real.id}/feedback").text
    assert "Awarded: Runner-up</strong> (place 2, $10,000)" in told
