"""A submitted application changes only when the vendor submits again: edits and new files made after
submitting wait as unsubmitted changes, which staff, judges and exports never see."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from challenges.errors import Conflict
from challenges.judging import services as judging
from challenges.submissions import services as subs
from challenges.submissions.exports import applications_frame
from challenges.submissions.models import Receipt, SubmissionFile
from tests.factories import (
    PDF_BYTES,
    close_submissions,
    make_assignment,
    make_challenge,
    make_judge,
    make_submission,
    make_user,
)


@pytest.fixture
def submitted(db):
    phase = make_challenge(publish=True, slug="resubmit").phases[0]
    vendor = make_user(email="editor@vendor.com", roles=("vendor",))
    submission, deck = make_submission(vendor, phase, submit=True)
    return phase, vendor, submission, deck


def test_edits_after_submitting_wait_until_submitted_again(client, login_as, db, submitted):
    phase, vendor, submission, deck = submitted
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "A better summary."})
    newer = subs.upload_file(actor=vendor, submission=submission, field_key="deck", filename="deck-v2.pdf",
                             stream=io.BytesIO(PDF_BYTES + b"% v2\n"))
    db.session.commit()
    # What everyone else reads is still the submitted version ...
    assert submission.answers == {"summary": "Our solution."}
    assert submission.current_files()["deck"].id == deck.id and newer.status == "draft"
    assert submission.has_unsubmitted_changes
    # ... while the vendor sees and edits their changes.
    assert submission.working_answers() == {"summary": "A better summary."}
    assert submission.working_files()["deck"].id == newer.id
    login_as(vendor)
    page = client.get(f"/vendor/applications/{submission.id}").text
    assert "Changes not submitted" in page and "A better summary." in page and "not submitted yet" in page

    # A judge after the deadline reads the submitted version, as does the staff export.
    close_submissions(phase)
    judge = make_judge(phase, "reader@agency.gov")
    assignment = make_assignment(judge, submission)
    entry = judging.judge_assignment(judge.user, assignment.id)
    assert entry.submission.answers["summary"] == "Our solution."
    shown = judging.blind_view(entry.submission, blind=False)["files"]
    assert [item[1].id for item in shown] == [deck.id]
    frame = applications_frame(phase)
    assert "Our solution." in frame.to_csv() and "A better summary." not in frame.to_csv()
    with pytest.raises(Conflict):  # and the late changes can no longer be submitted
        subs.submit(actor=vendor, submission=submission)


def test_submitting_again_makes_the_changes_what_everyone_reads(db, submitted):
    _phase, vendor, submission, deck = submitted
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "Second thoughts."})
    newer = subs.upload_file(actor=vendor, submission=submission, field_key="deck", filename="deck-v2.pdf",
                             stream=io.BytesIO(PDF_BYTES + b"% v2\n"))
    receipt = subs.submit(actor=vendor, submission=submission)
    db.session.commit()
    assert submission.answers == {"summary": "Second thoughts."} and submission.draft_answers is None
    assert deck.status == "replaced" and newer.status == "stored" and not submission.has_unsubmitted_changes
    assert receipt.manifest["answers"] == {"summary": "Second thoughts."}
    assert [f["id"] for f in receipt.manifest["files"]] == [newer.id]
    assert submission.submitted_version == submission.version == receipt.version
    # Submitting the same version again is the same receipt.
    assert subs.submit(actor=vendor, submission=submission).id == receipt.id


def test_editing_back_to_the_submitted_answer_is_no_change(db, submitted):
    _phase, vendor, submission, _deck = submitted
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "Temporary."})
    assert submission.has_unsubmitted_changes
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "Our solution."})
    assert submission.draft_answers is None and not submission.has_unsubmitted_changes


def test_discarding_changes_returns_to_the_submitted_version(client, login_as, db, submitted):
    _phase, vendor, submission, deck = submitted
    submitted_version = submission.submitted_version
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "Oops."})
    newer = subs.upload_file(actor=vendor, submission=submission, field_key="deck", filename="wrong.pdf",
                             stream=io.BytesIO(PDF_BYTES + b"% wrong\n"))
    newest = subs.upload_file(actor=vendor, submission=submission, field_key="deck", filename="wronger.pdf",
                              stream=io.BytesIO(PDF_BYTES + b"% wronger\n"))
    db.session.commit()
    assert newer.status == "replaced" and newest.status == "draft" and deck.status == "stored"
    stranger = make_user(email="stranger@elsewhere.com", roles=("vendor",))
    login_as(stranger)
    assert client.post(f"/vendor/applications/{submission.id}/discard").status_code == 404
    login_as(vendor)
    done = client.post(f"/vendor/applications/{submission.id}/discard", follow_redirects=True)
    assert f"Changes discarded: the application is again exactly as submitted (version {submitted_version})" \
        in done.text
    db.session.expire_all()
    assert submission.draft_answers is None and submission.working_answers() == {"summary": "Our solution."}
    assert db.session.get(SubmissionFile, newest.id).status == "discarded"
    assert submission.working_files()["deck"].id == deck.id and submission.version == submitted_version
    again = client.post(f"/vendor/applications/{submission.id}/discard", follow_redirects=True)
    assert "There are no unsubmitted changes to discard." in again.text
    # The discarded file stays in the history the vendor can download.
    assert client.get(f"/vendor/applications/{submission.id}/files/{newest.id}/download").status_code == 200
    assert db.session.execute(select(Receipt).where(Receipt.submission_id == submission.id)).scalars().all()


def test_a_draft_application_is_edited_in_place(db):
    phase = make_challenge(publish=True, slug="in-place").phases[0]
    vendor = make_user(email="drafting@vendor.com", roles=("vendor",))
    submission, deck = make_submission(vendor, phase)
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "Draft two."})
    newer = subs.upload_file(actor=vendor, submission=submission, field_key="deck", filename="d2.pdf",
                             stream=io.BytesIO(PDF_BYTES + b"% d2\n"))
    assert submission.answers == {"summary": "Draft two."} and submission.draft_answers is None
    assert newer.status == "stored" and deck.status == "replaced" and not submission.has_unsubmitted_changes


def test_editing_back_and_submitting_again_is_the_same_receipt(db, submitted):
    _phase, vendor, submission, _deck = submitted
    first = db.session.execute(select(Receipt).where(Receipt.submission_id == submission.id)).scalar_one()
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "Wobble."})
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "Our solution."})
    assert submission.version == submission.submitted_version
    assert subs.submit(actor=vendor, submission=submission).id == first.id  # nothing new was submitted


def test_only_owners_are_offered_withdrawal(client, login_as, db, submitted):
    from challenges.submissions.models import Membership

    _phase, _vendor, submission, _deck = submitted
    helper = make_user(email="helper@vendor.com", roles=("vendor",))
    db.session.add(Membership(organization_id=submission.organization_id, user_id=helper.id, role="contributor"))
    db.session.commit()
    login_as(helper)
    page = client.get(f"/vendor/applications/{submission.id}").text
    assert "Withdraw application" not in page and "Only an owner of" in page


def test_resubmitting_refreshes_the_score_sheets(db, submitted):
    from challenges.judging import sheets

    phase, vendor, submission, _deck = submitted
    staff = make_user(email="sheets@example.gov", roles=("staff",))
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "Pending edit."})
    before = sheets.request_sheets(actor=staff, phase=phase)
    db.session.commit()
    subs.submit(actor=vendor, submission=submission)  # the edit now reaches judges: a new sheet
    after = sheets.request_sheets(actor=staff, phase=phase)
    assert after.id != before.id
