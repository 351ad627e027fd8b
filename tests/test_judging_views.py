"""Judging pages over HTTP: the judge's journey and the staff pages, good paths and bad."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from challenges.judging import services as judging_services
from challenges.judging.models import Assignment, AssignmentRun, Conflict, PanelMember, Review
from challenges.mail import OutboxMessage
from tests.factories import close_submissions, make_assignment, make_challenge, make_judge, make_submission, make_user


@pytest.fixture
def world(db):
    challenge = make_challenge(publish=True, slug="pages")
    phase = challenge.phases[0]
    subs = []
    for n in range(3):
        vendor = make_user(email=f"owner{n}@firm{n}.com", roles=("vendor",))
        sub, _ = make_submission(vendor, phase, organization_name=f"Firm {n}", submit=True)
        subs.append(sub)
    close_submissions(phase)
    staff = make_user(email="staff@example.gov", roles=("staff",))
    return challenge, phase, subs, staff


def staff_url(phase, tail):
    return f"/staff/challenges/{phase.challenge.slug}/phases/{phase.id}/{tail}"


def test_invitation_attestation_and_queue_over_http(client, login_as, db, world):
    _, phase, subs, staff = world
    login_as(staff)
    page = client.post(staff_url(phase, "panel"), data={"email": "new.judge@doe.gov", "expertise": "energy",
                                                        "max_load": "4", "min_load": "0"})
    assert page.status_code == 302
    bad = client.post(staff_url(phase, "panel"), data={"email": "new.judge@doe.gov", "max_load": "4"})
    assert bad.status_code == 400 and "already on this panel" in bad.text
    bad = client.post(staff_url(phase, "panel"), data={"email": "x@doe.gov", "max_load": "lots"})
    assert bad.status_code == 400 and "whole number" in bad.text
    mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.to_addr == "new.judge@doe.gov")).scalar_one()
    path = "/judging/invitations/" + mail.body_text.split("/judging/invitations/")[1].split()[0]

    login_as(make_user(email="new.judge@doe.gov", roles=()))
    invitation = client.get(path)
    assert invitation.status_code == 200
    assert f"<strong>{phase.challenge.title}: {phase.name}</strong>" in invitation.text  # says what it is for
    accepted = client.post(path)
    member = db.session.execute(select(PanelMember)).scalar_one()
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith(
        f"/judging/panels/{member.id}/attestation")
    assignment = make_assignment(member, subs[0])
    # Before signing, the entry sends the judge to the attestation.
    sent = client.get(f"/judging/entries/{assignment.id}")
    assert sent.status_code == 302 and "/attestation" in sent.headers["Location"]
    unsigned = client.post(f"/judging/panels/{member.id}/attestation",
                           data={"version": "x", "affiliations": "Acme Analytics\nState University"})
    assert unsigned.status_code == 400 and "Tick the box" in unsigned.text
    assert "Acme Analytics\nState University</textarea>" in unsigned.text  # what was typed is kept
    from challenges.judging.services import ATTESTATION_VERSION

    signed = client.post(f"/judging/panels/{member.id}/attestation",
                         data={"version": ATTESTATION_VERSION, "agree": "y", "affiliations": "DOE"})
    assert signed.status_code == 302
    queue = client.get("/judging/")
    assert subs[0].public_code in queue.text and subs[1].public_code not in queue.text
    assert "0 of 1 review submitted" in queue.text


def test_scoring_form_draft_autosave_submit_and_change(client, login_as, db, world):
    _, phase, subs, _ = world
    judge = make_judge(phase, "scorer@agency.gov")
    assignment = make_assignment(judge, subs[0])
    login_as(judge.user)
    page = client.get(f"/judging/entries/{assignment.id}")
    assert page.status_code == 200 and "Score from 1 to 5" in page.text and "Our solution." in page.text
    assert "Firm 0" in page.text  # not blind
    autosaved = client.post(f"/judging/entries/{assignment.id}", data={"score-quality": "4"},
                            headers={"Accept": "application/json"})
    assert autosaved.status_code == 200 and autosaved.json == {"status": "draft", "complete": 50}
    refused = client.post(f"/judging/entries/{assignment.id}", data={"score-quality": "4", "action": "submit"})
    assert refused.status_code == 400 and "Score Impact: it is required." in refused.text
    assert 'value="4"' in refused.text  # what was typed is kept
    json_refused = client.post(f"/judging/entries/{assignment.id}", data={"score-quality": "9"},
                               headers={"Accept": "application/json"})
    assert json_refused.status_code == 400 and json_refused.json["errors"] == {
        "quality": "Quality: 9 is outside the scale; enter a score from 1 to 5."}
    done = client.post(f"/judging/entries/{assignment.id}",
                       data={"score-quality": "4", "score-impact": "5", "action": "submit"})
    assert done.status_code == 302
    page = client.get(f"/judging/entries/{assignment.id}")
    assert "Submitted" in page.text and "total 85.0 / 100" in page.text and "Reason for changing" in page.text
    no_reason = client.post(f"/judging/entries/{assignment.id}",
                            data={"score-quality": "3", "score-impact": "5", "action": "submit"})
    assert no_reason.status_code == 400 and "Say why you are changing" in no_reason.text
    changed = client.post(f"/judging/entries/{assignment.id}", data={
        "score-quality": "3", "score-impact": "5", "action": "submit", "reason": "Second reading"})
    assert changed.status_code == 302
    assert "Changes saved; the review history keeps what it said before." in client.get(changed.location).text
    assert db.session.execute(select(Review)).scalar_one().values() == {"quality": 3.0, "impact": 5.0}


def test_blind_entry_page_and_renamed_download(client, login_as, db, world):
    _, phase, subs, _ = world
    phase.blind = True
    db.session.commit()
    judge = make_judge(phase, "blind@agency.gov")
    assignment = make_assignment(judge, subs[1])
    login_as(judge.user)
    page = client.get(f"/judging/entries/{assignment.id}")
    assert "Firm 1" not in page.text and "owner1@firm1.com" not in page.text
    file_id = subs[1].current_files()["deck"].id
    download = client.get(f"/judging/entries/{assignment.id}/files/{file_id}")
    assert download.status_code == 200
    assert f'filename="{subs[1].public_code}-deck.pdf"' in download.headers["Content-Disposition"]
    other_file = subs[0].current_files()["deck"].id
    assert client.get(f"/judging/entries/{assignment.id}/files/{other_file}").status_code == 404


def test_declare_conflict_page_and_recuse(client, login_as, db, world):
    _, phase, subs, _ = world
    judge = make_judge(phase, "honest@agency.gov")
    first, second = make_assignment(judge, subs[0]), make_assignment(judge, subs[1])
    login_as(judge.user)
    assert client.get(f"/judging/panels/{judge.id}/conflicts").status_code == 200
    empty = client.post(f"/judging/panels/{judge.id}/conflicts", data={"type": "financial", "reason": "x"})
    assert empty.status_code == 400 and "Choose an entry" in empty.text
    declared = client.post(f"/judging/panels/{judge.id}/conflicts",
                           data={"assignment_id": str(first.id), "type": "financial", "reason": "Shareholder"})
    assert declared.status_code == 302
    assert client.get(f"/judging/entries/{first.id}").status_code == 404
    blank = client.post(f"/judging/entries/{second.id}/recuse", data={"reason": ""}, follow_redirects=True)
    assert blank.status_code == 200 and "Say briefly why you recuse yourself." in blank.text  # back on the entry
    assert client.post(f"/judging/entries/{second.id}/recuse", data={"reason": "Advised them"}).status_code == 302
    statuses = dict(db.session.execute(select(Assignment.id, Assignment.status)).tuples().all())
    assert statuses == {first.id: "removed", second.id: "recused"}
    gone = client.get(f"/judging/entries/{second.id}")  # a recused entry is gone, with the way back
    assert gone.status_code == 404 and 'href="/judging/">Back to your judging queue' in gone.text


def test_staff_propose_approve_progress_and_remind(client, login_as, db, world):
    _, phase, subs, staff = world
    judges = [make_judge(phase, f"p{n}@agency{n}.gov", max_load=3) for n in range(3)]
    login_as(staff)
    huge = client.post(staff_url(phase, "assignments"), data={"action": "propose", "mode": "assign", "k": "2",
                                                              "seed": "999999999999999999999999"})
    assert huge.status_code == 400 and "Enter a whole number up to 2,000,000,000." in huge.text
    assert client.get(staff_url(phase, "exports/leaderboard.csv") + "?method=bogus").status_code == 400
    k0 = client.post(staff_url(phase, "assignments"), data={"action": "propose", "mode": "assign", "k": "0"})
    assert k0.status_code == 400 and "Judges per entry must be from 1 to 50." in k0.text
    infeasible = client.post(staff_url(phase, "assignments"), data={"action": "propose", "mode": "assign", "k": "4"})
    assert infeasible.status_code == 400 and "No assignment meets every rule" in infeasible.text
    assert subs[0].public_code in infeasible.text
    proposed = client.post(staff_url(phase, "assignments"), data={"action": "propose", "mode": "assign", "k": "2",
                                                                  "seed": "1"})
    assert proposed.status_code == 302
    run = db.session.execute(select(AssignmentRun)).scalar_one()
    page = client.get(staff_url(phase, "assignments"))
    assert f"Proposal {run.id} (assign)" in page.text and "Approve and notify judges" in page.text
    # Staff see which judges each entry would get before approving.
    assert "The 6 proposed pairs, entry by entry" in page.text
    for judge_id, entry_id in run.result["pairs"]:
        row = page.text.split(f'<th scope="row">{next(s.public_code for s in subs if s.id == entry_id)}</th>')[1]
        assert next(j.email for j in judges if j.id == judge_id) in row.split("</tr>")[0]
    approved = client.post(f"/staff/assignment-runs/{run.id}", data={"decision": "approve"})
    assert approved.status_code == 302
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == 6
    progress = client.get(staff_url(phase, "progress"))
    assert progress.status_code == 200 and "0 of 6 reviews submitted" in progress.text
    reminded = client.post(staff_url(phase, "progress"), data={"action": "remind", "member_id": str(judges[0].id)})
    assert reminded.status_code == 302
    assert db.session.execute(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.template == "judge_reminder")).scalar_one() == 1
    bad_due = client.post(staff_url(phase, "progress"), data={"action": "due", "reviews_due_at": "tomorrow"})
    assert bad_due.status_code == 400 and "Enter a date and time" in bad_due.text
    assert client.post(staff_url(phase, "progress"), data={"action": "due",
                                                           "reviews_due_at": "2030-01-15T17:00"}).status_code == 302
    assert client.post(staff_url(phase, "progress"), data={"action": "close"}).status_code == 302
    db.session.expire_all()
    assert phase.judging_closed_at is not None
    export = client.get(staff_url(phase, "assignments.csv"))
    assert export.text.count("\n") == 7 and export.headers["X-Content-Type-Options"] == "nosniff"


def test_staff_conflicts_page_pin_and_dismiss(client, login_as, db, world):
    _, phase, subs, staff = world
    suspect = make_judge(phase, "person@firm2.com")
    login_as(staff)
    page = client.get(staff_url(phase, "conflicts"))  # reading the page writes nothing
    assert page.status_code == 200 and "No conflicts recorded." in page.text
    assert db.session.execute(select(func.count(Conflict.id))).scalar_one() == 0
    checked = client.post(staff_url(phase, "conflicts"), data={"action": "recheck"}, follow_redirects=True)
    assert "Checked again: 1 new suspected conflict(s)." in checked.text
    assert "email domain firm2.com is the organisation" in checked.text
    again = client.post(staff_url(phase, "conflicts"), data={"action": "recheck"}, follow_redirects=True)
    assert "no new suspected conflicts" in again.text
    conflict = db.session.execute(select(Conflict)).scalar_one()
    refused = client.post(f"/staff/conflicts/{conflict.id}/decide", data={"decision": "dismiss"},
                          follow_redirects=True)  # said on the conflicts page itself, nothing decided
    assert refused.status_code == 200 and "Say why this is not a conflict." in refused.text
    db.session.expire_all()
    assert db.session.get(Conflict, conflict.id).status == "suspected"
    tampered = client.post(staff_url(phase, "conflicts"), data={
        "member_id": str(suspect.id), "target": "sabc", "type": "personal", "reason": "Spouse"})
    assert tampered.status_code == 400  # a forged target is a clear error, not a crash
    assert client.post(f"/staff/conflicts/{conflict.id}/decide",
                       data={"decision": "dismiss", "reason": "Shared mail host"}).status_code == 302
    pinned = client.post(staff_url(phase, "conflicts"), data={
        "member_id": str(suspect.id), "target": f"s{subs[0].id}", "type": "personal", "reason": "Spouse"})
    assert pinned.status_code == 302
    missing = client.post(staff_url(phase, "conflicts"), data={"member_id": str(suspect.id), "type": "personal",
                                                                "reason": "x"})
    assert missing.status_code == 400 and "Choose an organisation or one entry" in missing.text
    twice = client.post(staff_url(phase, "conflicts"), data={
        "member_id": str(suspect.id), "target": f"s{subs[0].id}", "type": "financial", "reason": "Again"})
    assert twice.status_code == 400 and "already has a conflict with that entry" in twice.text
    spouse = db.session.execute(select(Conflict).where(Conflict.source == "pinned")).scalar_one()
    no_reason = client.post(f"/staff/conflicts/{spouse.id}/decide", data={"decision": "lift"},
                            follow_redirects=True)
    assert "Say why this is no longer a conflict." in no_reason.text
    odd = client.post(f"/staff/conflicts/{spouse.id}/decide", data={"decision": "maybe"}, follow_redirects=True)
    assert "Choose confirm, dismiss or lift." in odd.text
    lifted = client.post(f"/staff/conflicts/{spouse.id}/decide",
                         data={"decision": "lift", "reason": "Pinned on the wrong judge"}, follow_redirects=True)
    assert "Conflict lifted" in lifted.text and "Pinned on the wrong judge" in lifted.text
    db.session.expire_all()
    assert db.session.get(Conflict, spouse.id).status == "lifted"
    assert client.post(staff_url(phase, "assignments"), data={
        "action": "manual", "member_id": str(suspect.id), "submission_id": str(subs[0].id)}).status_code == 302


def test_manual_assignment_checks_for_new_suspicions_first(client, login_as, db, world):
    """A vendor who joins the judge's domain after the invitation is caught when staff assign by hand,
    and the suspicion stays recorded though the assignment itself is refused."""
    _, phase, subs, staff = world
    judge = make_judge(phase, "late@agency.gov")
    subs[1].organization.email_domain = "agency.gov"
    db.session.commit()
    login_as(staff)
    refused = client.post(staff_url(phase, "assignments"), data={
        "action": "manual", "member_id": str(judge.id), "submission_id": str(subs[1].id)})
    assert refused.status_code == 400 and "conflict of interest" in refused.text
    db.session.expire_all()
    assert db.session.execute(select(Conflict.status)).scalars().all() == ["suspected"]
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == 0


def test_web_score_import_reports_lines(client, login_as, db, world):
    _, phase, subs, staff = world
    make_judge(phase, "paper@agency.gov")
    login_as(staff)
    bad = io.BytesIO(f"entry,judge,criterion,score\n{subs[0].public_code},paper@agency.gov,quality,6\n".encode())
    response = client.post(staff_url(phase, "import-scores"), data={"file": (bad, "scores.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "line 2:" in response.text and "from 1 to 5" in response.text
    good = io.BytesIO(f"entry,judge,criterion,score\n{subs[0].public_code},paper@agency.gov,quality,4\n"
                      f"{subs[0].public_code},paper@agency.gov,impact,4\n".encode())
    response = client.post(staff_url(phase, "import-scores"), data={"file": (good, "scores.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    assert db.session.execute(select(Review.status)).scalar_one() == "submitted"
    binary = io.BytesIO(b"\xff\xfe\x00bad")
    response = client.post(staff_url(phase, "import-scores"), data={"file": (binary, "scores.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "UTF-8" in response.text


def test_assignment_csv_upload_names_unknown_people(client, login_as, db, world):
    _, phase, subs, staff = world
    make_judge(phase, "known@agency.gov")
    login_as(staff)
    text = f"entry,judge\n{subs[0].public_code},known@agency.gov\n{subs[1].public_code},nobody@agency.gov\n"
    response = client.post(staff_url(phase, "assignments"), data={"action": "import", "file": (
        io.BytesIO(text.encode()), "pairs.csv")}, content_type="multipart/form-data")
    assert response.status_code == 400 and "line 3: &#39;nobody@agency.gov&#39; is not an active judge" in response.text
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == 0


def test_score_sheets_pdf_one_page_per_entry_with_blind_titles(client, login_as, db, world):
    from pypdf import PdfReader

    from challenges.jobs import Job

    _, phase, subs, staff = world
    phase.blind = True
    db.session.commit()
    login_as(staff)
    response = client.post(staff_url(phase, "score-sheets"))
    assert response.status_code == 302 and "/staff/jobs/" in response.headers["Location"]
    job = db.session.execute(select(Job).where(Job.name == "judging.score_sheets")).scalar_one()
    assert job.status == "done" and job.progress == 100 and job.result["entries"] == 3
    pdf = client.get(f"/staff/jobs/{job.id}/download")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.data))
    assert len(reader.pages) == 3
    text = [page.extract_text() for page in reader.pages]
    for page_text, sub in zip(text, subs, strict=True):
        assert sub.public_code in page_text and "(quality)" in page_text and "(impact)" in page_text
        assert "Firm" not in page_text  # blind: the fallback title (the organisation) is not printed
    again = client.post(staff_url(phase, "score-sheets"))
    assert again.headers["Location"] == response.headers["Location"]  # same entries, same job


def test_judge_leaderboard_only_as_the_phase_allows(client, login_as, db, world):
    from challenges.judging import services as judging

    _, phase, subs, _ = world
    judge = make_judge(phase, "curious@agency.gov")
    other = make_judge(phase, "other@agency.gov")
    mine = [make_assignment(judge, s) for s in subs[:2]]
    theirs = make_assignment(other, subs[0])
    judging.save_review(actor=other.user, assignment=theirs, values={"quality": "5", "impact": "5"}, comments={},
                        submit=True)
    db.session.commit()
    login_as(judge.user)
    url = f"/judging/panels/{judge.id}/leaderboard"
    assert client.get(url).status_code == 404  # "never" (the default)
    phase.others_scores_visible = "after_own"
    db.session.commit()
    assert client.get(url).status_code == 404 and "Leaderboard" not in client.get("/judging/").text
    for a in mine:
        client.post(f"/judging/entries/{a.id}", data={"score-quality": "3", "score-impact": "3", "action": "submit"})
    page = client.get(url)
    assert page.status_code == 200 and subs[0].public_code in page.text and "other@agency.gov" not in page.text
    assert "Leaderboard" in client.get("/judging/").text
    phase.others_scores_visible = "always"
    db.session.commit()
    login_as(other.user)
    assert client.get(f"/judging/panels/{other.id}/leaderboard").status_code == 200
    assert client.get(url).status_code == 404  # not their panel seat


def test_bids_page_names_the_phase_and_never_discards_a_review(client, login_as, db, world):
    challenge, phase, subs, _ = world
    phase.bids_enabled = True
    judge = make_judge(phase, "bidder@agency.gov")
    scored = make_assignment(judge, subs[0])
    judging_services.save_review(actor=judge.user, assignment=scored, values={"quality": "4", "impact": "4"},
                                 comments={}, submit=True)
    db.session.commit()
    login_as(judge.user)
    url = f"/judging/panels/{judge.id}/bids"
    page = client.get(url).text
    assert f"{challenge.title}: {phase.name}" in page and 'href="/judging/">Back to your judging' in page
    refused = client.post(url, data={f"bid-{subs[0].id}": "no", f"bid-{subs[1].id}": "yes"}, follow_redirects=True)
    assert "Nothing was saved. You already submitted a review of this entry" in refused.text
    assert refused.status_code == 400  # the page itself, with every choice still made, to fix one and resend
    assert f'id="bid-{subs[1].id}-yes" name="bid-{subs[1].id}" value="yes" checked' in refused.text
    db.session.expire_all()
    assert judging_services.bids_of(judge) == {} and db.session.get(Assignment, scored.id).status == "assigned"
    saved = client.post(url, data={f"bid-{subs[1].id}": "yes"}, follow_redirects=True)
    assert "Your preferences are saved." in saved.text and judging_services.bids_of(judge) == {subs[1].id: "yes"}
