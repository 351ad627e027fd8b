"""Applications: organisations, drafts, uploads (good and malformed), deadlines, submit, receipts."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from challenges import jobs
from challenges.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from challenges.mail import OutboxMessage
from challenges.submissions import services as subs
from challenges.submissions.models import Receipt, Submission, SubmissionFile
from challenges.uploads import UploadRefused, check_content, check_name, sniff
from tests.factories import PDF_BYTES, make_challenge, make_definition, make_submission, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
DOCX_HEAD = b"PK\x03\x04" + b"\x00" * 26 + b"[Content_Types].xml" + b"\x00" * 40 + b"word/document.xml"


@pytest.fixture
def vendor(app, db):
    return make_user(email="vendor@example.com", roles=("vendor",))


@pytest.fixture
def phase(app, db):
    return make_challenge(publish=True, slug="apply-here").phases[0]


@pytest.fixture
def draft(vendor, phase):
    submission, _ = make_submission(vendor=vendor, phase=phase)
    return submission


def _storage_files(app) -> list[Path]:
    root = Path(app.config["STORAGE_DIR"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- organisations -----------------------------------------------------------------------


@pytest.mark.parametrize(("uei", "text"), [
    ("SHORT", "exactly 12"), ("J7M9HPTGJ1S9X", "exactly 12"), ("J7M9HPTGJ1SO", "never the letters I or O"),
    ("07M9HPTGJ1S9", "does not start with 0"), ("J7M9-PTGJ1S9", "capital letters and digits"),
])
def test_uei_validation(vendor, uei, text):
    with pytest.raises(ValidationFailed) as err:
        subs.save_organization(actor=vendor, legal_name="Acme", uei=uei)
    assert text in err.value.errors["uei"]


def test_organization_owner_and_duplicate_uei(vendor, db):
    org = subs.save_organization(actor=vendor, legal_name="Acme", uei="j7m9hptgj1s9", website="https://acme.example")
    assert org.uei == "J7M9HPTGJ1S9" and subs.is_owner(vendor, org)
    other = make_user(email="other@example.com", roles=("vendor",))
    with pytest.raises(ValidationFailed) as err:
        subs.save_organization(actor=other, legal_name="Copycat", uei="J7M9HPTGJ1S9")
    assert "already uses this UEI" in err.value.errors["uei"]
    with pytest.raises(PermissionDenied):
        subs.save_organization(actor=other, organization=org, legal_name="Hijacked")
    with pytest.raises(ValidationFailed) as err:
        subs.save_organization(actor=vendor, legal_name="Bad site", website="javascript:alert(1)")
    assert "https://" in err.value.errors["website"]


def test_adding_an_organisation_makes_a_confirmed_person_a_vendor(db):
    from challenges.audit import AuditEvent

    member = make_user(email="newcomer@example.com", roles=("member",))
    org = subs.save_organization(actor=member, legal_name="Newcomer LLC")
    assert member.has_role("vendor") and subs.is_owner(member, org)
    granted = db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.role_granted")).scalars().all()
    assert [e.details for e in granted] == [{"role": "vendor", "via": "organization"}]
    subs.save_organization(actor=member, organization=org, legal_name="Newcomer LLC (renamed)")
    assert len(db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.role_granted")).all()) == 1

    unconfirmed = make_user(email="unconfirmed@example.com", roles=(), verified=False)
    with pytest.raises(PermissionDenied, match="Confirm your email"):
        subs.save_organization(actor=unconfirmed, legal_name="Too Early Inc")
    assert not unconfirmed.has_role("vendor")


# --- drafts and answers -------------------------------------------------------------------


def test_answers_validate_by_type_and_leave_draft_intact(vendor, phase, db):
    challenge = make_challenge(publish=True, slug="typed", phases=[{
        "key": "p", "name": "P", "opens_at": phase.opens_at.strftime("%Y-%m-%dT%H:%M"),
        "closes_at": phase.closes_at.strftime("%Y-%m-%dT%H:%M"),
        "fields": [{"key": "n", "label": "N", "type": "number"},
                   {"key": "s", "label": "S", "type": "select", "options": ["a", "b"]},
                   {"key": "m", "label": "M", "type": "multiselect", "options": ["x", "y"]},
                   {"key": "u", "label": "U", "type": "url"},
                   {"key": "t", "label": "T", "type": "text", "max_length": 5}],
        "rubric": {"criteria": [{"key": "q", "name": "Q", "weight": 1, "min": 1, "max": 5}]}}])
    org = subs.save_organization(actor=vendor, legal_name="Typed Co")
    submission = subs.start_application(actor=vendor, phase=challenge.phases[0], organization=org)
    subs.save_answers(actor=vendor, submission=submission, answers={"n": "3.5", "s": "a", "m": ["x"],
                                                                    "u": "https://x.example", "t": "hi"})
    db.session.commit()
    with pytest.raises(ValidationFailed) as err:
        subs.save_answers(actor=vendor, submission=submission, answers={
            "n": "lots", "s": "c", "m": ["z"], "u": "ftp://nope", "t": "too long"})
    assert set(err.value.errors) == {"n", "s", "m", "u", "t"}
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Submission, submission.id).answers == {
        "n": 3.5, "s": "a", "m": ["x"], "u": "https://x.example", "t": "hi"}


def test_limit_per_organisation(vendor, phase, draft):
    with pytest.raises(Conflict, match="most allowed"):
        subs.start_application(actor=vendor, phase=phase, organization=draft.organization)


def test_completeness_meter(vendor, draft):
    assert ("rules", "Accept the official rules") in subs.missing_items(draft)
    before = subs.completeness(draft)
    subs.accept_rules(actor=vendor, submission=draft, rules_version=draft.phase.challenge.rules_version)
    assert subs.completeness(draft) == 100 > before


def test_rules_acceptance_must_match_current_version(vendor, draft):
    with pytest.raises(Conflict, match="rules changed"):
        subs.accept_rules(actor=vendor, submission=draft, rules_version="0" * 64)


# --- submit, receipts, deadlines ----------------------------------------------------------


def _ready(vendor, draft):
    subs.accept_rules(actor=vendor, submission=draft, rules_version=draft.phase.challenge.rules_version)


def test_submit_is_idempotent_and_emails_a_receipt(vendor, draft, db, smtp_sink):
    _ready(vendor, draft)
    first = subs.submit(actor=vendor, submission=draft)
    second = subs.submit(actor=vendor, submission=draft)
    db.session.commit()
    jobs.dispatch_committed()
    assert first.id == second.id
    assert db.session.execute(select(func.count(Receipt.id))).scalar_one() == 1
    assert draft.public_code == f"AI-{draft.submitted_at.year}-{draft.id:04d}"
    message = smtp_sink.wait_for(1)[0]
    body = message.get_content()
    assert draft.public_code in message["Subject"]
    assert draft.current_files()["deck"].sha256 in body and "deck.pdf" in body


def test_incomplete_application_cannot_be_submitted(vendor, draft, db):
    with pytest.raises(ValidationFailed) as err:
        subs.submit(actor=vendor, submission=draft)
    assert "rules" in err.value.errors
    assert draft.status == "draft" and db.session.execute(select(func.count(Receipt.id))).scalar_one() == 0


def test_deadline_edges_with_grace(vendor, draft, db):
    _ready(vendor, draft)
    phase = draft.phase
    phase.grace_seconds = 60
    close = phase.closes_at
    assert subs.can_change(draft, close - timedelta(seconds=1))
    assert subs.can_change(draft, close + timedelta(seconds=60))  # inside grace
    assert not subs.can_change(draft, close + timedelta(seconds=61))
    with pytest.raises(Conflict, match="deadline"):
        subs.submit(actor=vendor, submission=draft, now=close + timedelta(seconds=61))
    receipt = subs.submit(actor=vendor, submission=draft, now=close + timedelta(seconds=59))
    assert receipt.received_at == close + timedelta(seconds=59)


def test_deadline_on_daylight_saving_change(vendor, db):
    # 2026-11-01 01:30 New York happens twice; the close is the first (EDT, 05:30 UTC).
    challenge = make_challenge(slug="dst-close", phases=[{
        "key": "p", "name": "P", "opens_at": "2026-10-01T09:00", "closes_at": "2026-11-01T01:30",
        "fields": [{"key": "a", "label": "A", "type": "text"}],
        "rubric": {"criteria": [{"key": "q", "name": "Q", "weight": 1, "min": 1, "max": 5}]}}])
    challenge.status = "published"  # past dates: published directly, as a historical import would be
    phase = challenge.phases[0]
    assert phase.closes_at.isoformat() == "2026-11-01T05:30:00+00:00"
    submission = Submission(phase=phase, organization=subs.save_organization(actor=vendor, legal_name="DST"),
                            answers={})
    db.session.add(submission)
    db.session.flush()
    assert subs.can_change(submission, phase.closes_at)
    assert not subs.can_change(submission, phase.closes_at + timedelta(seconds=1))


def test_edit_after_submit_needs_resubmission_and_keeps_first_receipt(vendor, draft, db):
    _ready(vendor, draft)
    first = subs.submit(actor=vendor, submission=draft)
    subs.save_answers(actor=vendor, submission=draft, answers={"summary": "Improved."})
    assert draft.version > first.version and draft.status == "submitted"
    second = subs.submit(actor=vendor, submission=draft)
    assert second.version == draft.version and first.manifest["answers"]["summary"] == "Our solution."
    assert second.manifest["answers"]["summary"] == "Improved."


def test_withdraw_and_staff_reopen(vendor, draft, db):
    staff = make_user(email="staff@example.gov", roles=("staff",))
    _ready(vendor, draft)
    subs.submit(actor=vendor, submission=draft)
    late = draft.phase.hard_close + timedelta(hours=1)
    assert not subs.can_change(draft, late)
    with pytest.raises(PermissionDenied):
        subs.reopen(actor=vendor, submission=draft, until=late + timedelta(hours=1), reason="please")
    with pytest.raises(ValidationFailed):
        subs.reopen(actor=staff, submission=draft, until=late + timedelta(hours=1), reason=" ")
    subs.reopen(actor=staff, submission=draft, until=late + timedelta(hours=1), reason="Upload outage at 4:55 pm")
    assert subs.can_change(draft, late)
    subs.withdraw(actor=vendor, submission=draft, reason="Changed our plans")
    assert draft.status == "withdrawn" and not subs.can_change(draft)


def test_other_vendor_cannot_touch_application(draft, db):
    other = make_user(email="other@example.com", roles=("vendor",))
    with pytest.raises(NotFound):
        subs.get_for_vendor(other, draft.id)
    with pytest.raises(NotFound):
        subs.save_answers(actor=other, submission=draft, answers={"summary": "mine now"})
    with pytest.raises(NotFound):
        subs.upload_file(actor=other, submission=draft, field_key="deck", filename="x.pdf",
                         stream=io.BytesIO(PDF_BYTES))


# --- files --------------------------------------------------------------------------------


def test_replacing_a_file_keeps_the_earlier_version(vendor, draft, app, db):
    first = draft.current_files()["deck"]
    second = subs.upload_file(actor=vendor, submission=draft, field_key="deck", filename="deck-v2.pdf",
                              stream=io.BytesIO(PDF_BYTES + b"% v2\n"))
    db.session.commit()
    assert first.status == "replaced" and second.status == "stored" and second.version == 2
    assert len(_storage_files(app)) == 2


MAX = 26214400
MALFORMED = [
    ("empty.pdf", b"", "empty"),
    ("page.pdf", b"<!DOCTYPE html><html><body>hi</body></html>", "web page"),
    ("page2.pdf", b"<html><script>alert(1)</script></html>", "web page"),
    ("script.pdf", b"<script>alert(1)</script>", "web page"),
    ("image.pdf", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "web page"),
    ("xml.pdf", b'<?xml version="1.0"?><svg/>', "web page"),
    ("program.pdf", b"MZ\x90\x00" + b"\x00" * 60, "program"),
    ("elf.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 60, "program"),
    ("macho.pdf", b"\xcf\xfa\xed\xfe" + b"\x00" * 60, "program"),
    ("shell.pdf", b"#!/bin/sh\nrm -rf /\n", "program"),
    ("report.pdf.exe", PDF_BYTES, "not accepted here"),
    ("report.exe", PDF_BYTES, "not accepted here"),
    ("report", PDF_BYTES, "not accepted here"),
    ("report.PDF.html", PDF_BYTES, "not accepted here"),
    ("report.docx", PDF_BYTES, "not accepted here"),
    ("picture.png", PNG, "not accepted here"),
    ("word.pdf", DOCX_HEAD, "not a real .pdf"),
    ("png-inside.pdf", PNG, "not a real .pdf"),
    ("zip.pdf", b"PK\x03\x04" + b"\x00" * 60, "not a real .pdf"),
    ("text.pdf", b"just some text, not a pdf", "not a real .pdf"),
    ("binary.pdf", b"\x00\x01\x02\x03" * 20, "not a real .pdf"),
    ("jpeg.pdf", b"\xff\xd8\xff\xe0" + b"\x00" * 40, "not a real .pdf"),
    ("mp4.pdf", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40, "not a real .pdf"),
    ("gzip.pdf", b"\x1f\x8b\x08" + b"\x00" * 40, "not a real .pdf"),
    ("almost.pdf", b"%PD" + b"F" * 40, "not a real .pdf"),
    ("space-pdf.pdf", b" %PDF-1.7\n", "not a real .pdf"),
    ("bom.pdf", b"\xef\xbb\xbf%PDF-1.7\n", "not a real .pdf"),
    ("../etc/passwd.pdf", PDF_BYTES, "without folders"),
    ("../../report.pdf", PDF_BYTES, "without folders"),
    ("/etc/report.pdf", PDF_BYTES, "without folders"),
    ("C:\\Users\\report.pdf", PDF_BYTES, "without folders"),
    ("..\\report.pdf", PDF_BYTES, "without folders"),
    ("folder/report.pdf", PDF_BYTES, "without folders"),
    (".hidden.pdf", PDF_BYTES, "without folders"),
    ("~report.pdf", PDF_BYTES, "without folders"),
    ("..", PDF_BYTES, "without folders"),
    ("report\x00.pdf", PDF_BYTES, "NUL"),
    ("\x00", PDF_BYTES, "NUL"),
    ("evil\u202efdp.exe", PDF_BYTES, "text-direction"),
    ("evil\u202dreport.pdf", PDF_BYTES, "text-direction"),
    ("evil\u2066report.pdf", PDF_BYTES, "text-direction"),
    ("evil\u200freport.pdf", PDF_BYTES, "text-direction"),
    ("tab\treport.pdf", PDF_BYTES, "control characters"),
    ("line\nreport.pdf", PDF_BYTES, "control characters"),
    ("zero\u200bwidth.pdf", PDF_BYTES, "control characters"),
    ("a" * 300 + ".pdf", PDF_BYTES, "longer than"),
    ("b" * 197 + ".pdf", PDF_BYTES, "longer than"),
    ("", PDF_BYTES, "no name"),
    ("   ", PDF_BYTES, "no name"),
    ("over.pdf", b"%PDF-" + b"x" * (MAX - 4), "larger than"),
]


def test_there_are_at_least_fifty_malformed_cases():
    assert len(MALFORMED) >= 50


@pytest.mark.parametrize(("name", "data", "text"), MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_upload_is_refused_and_leaves_nothing(vendor, phase, app, db, name, data, text):
    org = subs.save_organization(actor=vendor, legal_name="Upload Co")
    submission = subs.start_application(actor=vendor, phase=phase, organization=org)
    db.session.commit()
    before = _storage_files(app)
    with pytest.raises(ValidationFailed) as err:
        subs.upload_file(actor=vendor, submission=submission, field_key="deck", filename=name,
                         stream=io.BytesIO(data))
    assert text in err.value.errors["deck"], err.value.errors
    db.session.rollback()
    assert _storage_files(app) == before == []
    assert db.session.execute(select(func.count(SubmissionFile.id))).scalar_one() == 0
    db.session.expire_all()
    assert ("deck", "Pitch deck") in subs.missing_items(db.session.get(Submission, submission.id))


def test_exact_size_limit_is_accepted(vendor, phase, app, db):
    org = subs.save_organization(actor=vendor, legal_name="Edge Co")
    submission = subs.start_application(actor=vendor, phase=phase, organization=org)
    data = PDF_BYTES + b"x" * (MAX - len(PDF_BYTES))
    record = subs.upload_file(actor=vendor, submission=submission, field_key="deck", filename="edge.pdf",
                              stream=io.BytesIO(data))
    assert record.size == MAX


def test_sniffing_recognises_office_documents():
    assert sniff(DOCX_HEAD).endswith("wordprocessingml.document")
    assert check_content(name="proposal.docx", head=DOCX_HEAD, size=100,
                         accept=["application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
                         max_bytes=1000).endswith("document")
    assert check_name("Résumé final.pdf") == "Résumé final.pdf"
    with pytest.raises(UploadRefused):
        check_name("a/b.pdf")


# --- over HTTP ----------------------------------------------------------------------------


def test_vendor_journey_over_http(client, login_as, phase, db, app):
    vendor = login_as("vendor")
    response = client.post("/vendor/organizations/new", data={"legal_name": "Web Co", "uei": "bad",
                                                              "sam_status": "registered", "business_size": "small"})
    assert response.status_code == 400 and b"exactly 12 characters" in response.data
    client.post("/vendor/organizations/new", data={"legal_name": "Web Co", "uei": "J7M9HPTGJ1S9",
                                                   "sam_status": "registered", "business_size": "small",
                                                   "categories": ["wosb", "8a"]})
    org_id = subs.organizations_of(vendor)[0].id
    started = client.post(f"/vendor/apply/{phase.challenge.slug}/{phase.key}", data={"organization_id": org_id})
    assert started.status_code == 302
    app_url = started.headers["Location"]
    page = client.get(app_url)
    assert b"Complete: 0%" in page.data and b"Pitch deck" in page.data
    too_long = client.post(app_url, data={"summary": "x" * 2001})
    assert too_long.status_code == 400 and b"Keep this to 2000 characters" in too_long.data
    saved = client.post(app_url, data={"summary": "We detect sepsis early."}, headers={"Accept": "application/json"})
    assert saved.get_json()["saved"] is True
    bad = client.post(f"{app_url}/files/deck", data={"file": (io.BytesIO(b"MZ\x90\x00"), "deck.pdf")},
                      content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert bad.status_code == 400 and "program" in bad.get_json()["errors"]["deck"]
    good = client.post(f"{app_url}/files/deck", data={"file": (io.BytesIO(PDF_BYTES), "deck.pdf")},
                       content_type="multipart/form-data")
    assert good.status_code == 302
    early = client.post(f"{app_url}/submit")
    assert early.status_code == 400 and b"Accept the official rules" in early.data
    client.post(f"{app_url}/rules", data={"rules_version": phase.challenge.rules_version})
    done = client.post(f"{app_url}/submit")
    assert done.status_code == 302 and "/receipts/" in done.headers["Location"]
    receipt = client.get(done.headers["Location"]).text
    assert "SHA-256" in receipt and "deck.pdf" in receipt
    # Written for people: the question's label and the answer itself, the first submission called so.
    assert "Submission 1 of this application" in receipt and "We detect sepsis early." in receipt
    assert '<th scope="row">Summary</th>' in receipt and '<th scope="row">Pitch deck</th>' in receipt
    submission = db.session.execute(select(Submission)).scalar_one()
    file_id = submission.current_files()["deck"].id
    download = client.get(f"{app_url}/files/{file_id}/download")
    assert download.data == PDF_BYTES
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert db.session.execute(select(func.count(OutboxMessage.id))).scalar_one() == 1
    emailed = db.session.execute(select(OutboxMessage)).scalar_one().body_text
    assert "- Pitch deck: deck.pdf" in emailed and "- Summary: " in emailed  # labels, not internal keys
    from challenges.submissions.models import Receipt
    from challenges.timezones import format_human

    received = db.session.execute(select(Receipt)).scalar_one().received_at
    assert f"Received at:  {format_human(received, phase.challenge.timezone)}" in emailed


def test_upload_over_the_field_limit_gets_413_and_stores_nothing(client, login_as, phase, db, app):
    vendor = login_as("vendor")
    submission, _ = make_submission(vendor=vendor, phase=phase)
    big = io.BytesIO(b"%PDF-" + b"x" * (MAX + 70_000))
    response = client.post(f"/vendor/applications/{submission.id}/files/deck", data={"file": (big, "big.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert len(_storage_files(app)) == 1  # only the factory's original file


# --- reminders ----------------------------------------------------------------------------


def test_reminders_at_three_and_one_day_never_twice(vendor, draft, db, run_cli):
    from challenges.submissions.services import send_reminders

    close = draft.phase.closes_at
    assert send_reminders(now=close - timedelta(days=5)) == 0
    assert send_reminders(now=close - timedelta(days=2, hours=23)) == 1
    assert send_reminders(now=close - timedelta(days=2, hours=22)) == 0  # same window, nothing twice
    assert send_reminders(now=close - timedelta(hours=20)) == 1
    assert send_reminders(now=close - timedelta(hours=19)) == 0
    db.session.commit()
    subjects = db.session.execute(select(OutboxMessage.subject).order_by(OutboxMessage.id)).scalars().all()
    assert subjects == [f"3 days left: {draft.phase.challenge.title}", f"1 day left: {draft.phase.challenge.title}"]
    result = run_cli("submissions", "send-reminders")
    assert result.exit_code == 0 and "queued" in result.output


def test_submitted_applications_get_no_reminder(vendor, draft, db):
    from challenges.submissions.services import send_reminders

    _ready(vendor, draft)
    subs.submit(actor=vendor, submission=draft)
    assert send_reminders(now=draft.phase.closes_at - timedelta(hours=5)) == 0


# --- staff --------------------------------------------------------------------------------


def test_staff_table_screening_disqualify_over_http(client, login_as, vendor, draft, db):
    from challenges.audit import AuditEvent
    from challenges.submissions.models import Screening

    _ready(vendor, draft)
    subs.submit(actor=vendor, submission=draft)
    db.session.commit()
    login_as("staff")
    phase = draft.phase
    table = client.get(f"/staff/challenges/{phase.challenge.slug}/phases/{phase.id}/applications?status=submitted")
    assert draft.public_code.encode() in table.data and b"Submitted (1)" in table.data
    assert draft.public_code.encode() not in client.get(
        f"/staff/challenges/{phase.challenge.slug}/phases/{phase.id}/applications?q=nomatch").data
    entry = client.get(f"/staff/applications/{draft.id}")
    assert b"Our solution." in entry.data and draft.current_files()["deck"].sha256.encode() in entry.data
    bad = client.post(f"/staff/applications/{draft.id}/screening",
                      data={"sam-result": "fail", "sam-reason": "", "decision": "eligible"})
    assert bad.status_code == 400 and b"Say why" in bad.data
    good = client.post(f"/staff/applications/{draft.id}/screening", data={
        "entity-result": "pass", "sam-result": "fail", "sam-reason": "SAM registration expired",
        "decision": "ineligible", "reason": "No active SAM registration"})
    assert good.status_code == 302
    screening = db.session.execute(select(Screening)).scalar_one()
    assert screening.decision == "ineligible"
    assert screening.checklist["sam"] == {"pass": False, "reason": "SAM registration expired"}
    refused = client.post(f"/staff/applications/{draft.id}/disqualify", data={"reason": " "})
    assert refused.status_code == 400
    assert client.post(f"/staff/applications/{draft.id}/disqualify",
                       data={"reason": "Ineligible entity"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Submission, draft.id).status == "disqualified"
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "submission.screened" in actions and "submission.disqualified" in actions
    bad_time = client.post(f"/staff/applications/{draft.id}/reopen", data={"until": "tomorrow", "reason": "x"})
    assert bad_time.status_code == 400
    assert "“tomorrow” is not a date and time like 2026-01-05T09:00. (times are in America/New_York)" \
        in bad_time.get_data(as_text=True).replace("&#34;", '"')
    # An hour that clocks skip gets its own message, not "enter a date".
    gap = client.post(f"/staff/applications/{draft.id}/reopen", data={"until": "2027-03-14T02:30", "reason": "x"})
    assert gap.status_code == 400 and "does not exist in America/New_York" in gap.get_data(as_text=True)


# --- invitations --------------------------------------------------------------------------


def test_invite_co_applicant_and_accept(client, login_as, vendor, draft, db, app):
    import re

    from challenges.accounts.models import Role
    from challenges.audit import AuditEvent

    login_as(vendor)
    response = client.post(f"/vendor/organizations/{draft.organization_id}/invite",
                           data={"email": "Colleague@Example.com", "role": "contributor"})
    assert response.status_code == 302
    body = db.session.execute(select(OutboxMessage.body_text).where(OutboxMessage.to_addr == "colleague@example.com")
                              ).scalar_one()
    path = re.search(r"http://localhost(/vendor/invitations/\S+)", body).group(1)
    stranger = make_user(email="stranger@example.com", roles=("member",))
    login_as(stranger)
    assert client.post(path).status_code == 403  # the link is for one address only
    colleague = make_user(email="colleague@example.com", roles=("member",))
    login_as(colleague)
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 302
    db.session.expire_all()
    joined = db.session.get(type(colleague), colleague.id)
    assert joined.has_role(Role.VENDOR)
    assert subs.get_for_vendor(joined, draft.id).id == draft.id  # now sees the organisation's application
    assert client.post(path + "x").status_code == 400
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "organization.invited" in actions and "organization.joined" in actions


def test_only_owner_invites(vendor, draft, db):
    contributor = make_user(email="c@example.com", roles=("vendor",))
    from challenges.submissions.models import Membership

    draft.organization.memberships.append(Membership(user_id=contributor.id, role="contributor"))
    db.session.flush()
    with pytest.raises(PermissionDenied):
        subs.invite(actor=contributor, organization=draft.organization, email="x@example.com", role="owner")
    with pytest.raises(Conflict):
        subs.invite(actor=vendor, organization=draft.organization, email="c@example.com", role="owner")


# --- exports ------------------------------------------------------------------------------


def test_csv_and_xlsx_exports(client, login_as, vendor, draft, db):
    import pandas as pd

    _ready(vendor, draft)
    subs.submit(actor=vendor, submission=draft)
    db.session.commit()
    login_as("staff")
    base = f"/staff/challenges/{draft.phase.challenge.slug}/phases/{draft.phase.id}/applications"
    csv_response = client.get(f"{base}.csv")
    assert csv_response.headers["Content-Disposition"].startswith("attachment")
    frame = pd.read_csv(io.BytesIO(csv_response.data), encoding="utf-8-sig")
    assert frame.loc[0, "entry"] == draft.public_code and frame.loc[0, "Summary [summary]"] == "Our solution."
    assert frame.loc[0, "Pitch deck [deck] sha256"] == draft.current_files()["deck"].sha256
    xlsx = pd.read_excel(io.BytesIO(client.get(f"{base}.xlsx").data))
    assert list(xlsx["entry"]) == [draft.public_code]
    assert client.get(f"{base}.pdf").status_code == 404


def test_zip_of_all_files_with_manifest_is_idempotent(client, login_as, vendor, draft, db):
    import csv as csv_module
    import hashlib
    import zipfile

    _ready(vendor, draft)
    subs.submit(actor=vendor, submission=draft)
    db.session.commit()
    login_as("staff")
    base = f"/staff/challenges/{draft.phase.challenge.slug}/phases/{draft.phase.id}/applications"
    first = client.post(f"{base}/zip")
    assert first.status_code == 302 and "/staff/jobs/" in first.headers["Location"]
    page = client.get(first.headers["Location"])
    assert b"Status: <strong>done</strong>" in page.data and b"manifest.csv" in page.data
    second = client.post(f"{base}/zip")
    assert second.headers["Location"] == first.headers["Location"]  # same files → same finished job
    archive = zipfile.ZipFile(io.BytesIO(client.get(first.headers["Location"] + "/download").data))
    names = archive.namelist()
    assert f"{draft.public_code}/deck-deck.pdf" in names and "manifest.csv" in names
    rows = list(csv_module.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert rows[0]["sha256"] == hashlib.sha256(archive.read(rows[0]["path_in_zip"])).hexdigest()
    status = client.get(first.headers["Location"] + ".json").get_json()
    assert status["status"] == "done" and status["progress"] == 100 and status["result"]["files"] == 1


def test_email_a_filtered_group_once_per_person(client, login_as, vendor, draft, phase, db, smtp_sink):
    from challenges import jobs as jobs_module

    other = make_user(email="late@example.com", roles=("vendor",))
    make_submission(vendor=other, phase=phase, organization_name="Late Co")
    _ready(vendor, draft)
    subs.submit(actor=vendor, submission=draft)
    db.session.commit()
    login_as("staff")
    url = f"/staff/challenges/{phase.challenge.slug}/phases/{phase.id}/applications/email"
    empty = client.post(url, data={"group": "draft", "subject": "", "body": ""})
    assert empty.status_code == 400 and b"Enter a subject" in empty.data
    sent = client.post(url, data={"group": "draft", "subject": "Two days left", "body": "Please submit."})
    assert sent.status_code == 302
    jobs_module.dispatch_committed()
    smtp_sink.wait_for(2)  # the earlier receipt, then the group message
    messages = [m for m in smtp_sink.messages if m["Subject"] == "Two days left"]
    assert [m["To"] for m in messages] == ["late@example.com"]
    assert "Please submit." in messages[0].get_content()


def test_large_upload_with_csrf_on_as_in_production(client, login_as, vendor, draft, app, db):
    import re

    app.config["WTF_CSRF_ENABLED"] = True
    login_as(vendor)
    page = client.get(f"/vendor/applications/{draft.id}").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    big = PDF_BYTES + b"x" * (3 * 1024 * 1024)  # above the 2 MiB limit for ordinary forms
    url = f"/vendor/applications/{draft.id}/files/deck"
    without_token = client.post(url, data={"file": (io.BytesIO(big), "big.pdf")}, content_type="multipart/form-data")
    assert without_token.status_code == 400
    response = client.post(url, data={"file": (io.BytesIO(big), "big.pdf"), "csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Submission, draft.id).current_files()["deck"].size == len(big)


def test_streamed_upload_with_csrf_header(client, login_as, vendor, draft, app, db):
    import re

    app.config["WTF_CSRF_ENABLED"] = True
    login_as(vendor)
    page = client.get(f"/vendor/applications/{draft.id}").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    url = f"/vendor/applications/{draft.id}/files/deck/stream"
    big = PDF_BYTES + b"y" * (5 * 1024 * 1024)
    headers = {"X-File-Name": "r%C3%A9sum%C3%A9%20deck.pdf", "Content-Type": "application/pdf",
               "Accept": "application/json"}
    refused = client.put(url, data=big, headers=headers)
    assert refused.status_code == 400
    done = client.put(url, data=big, headers={**headers, "X-CSRFToken": token})
    assert done.status_code == 200 and done.get_json()["name"] == "résumé deck.pdf"
    assert done.get_json()["sha256"] == __import__("hashlib").sha256(big).hexdigest()
    fake = client.put(url, data=b"MZ" + b"\x00" * 100, headers={**headers, "X-CSRFToken": token})
    assert fake.status_code == 400 and "program" in fake.get_json()["errors"]["deck"]
    too_big = client.put(url, data=b"%PDF-" + b"z" * 26214400, headers={**headers, "X-CSRFToken": token})
    assert too_big.status_code == 400 and "larger than" in too_big.get_json()["error"]


def test_export_columns_never_overwrite_each_other(db, vendor, draft):
    """Two questions with one label, or a question labelled like a core column, keep their own columns."""
    from challenges.models import FormField
    from challenges.submissions.exports import applications_frame

    phase = draft.phase
    db.session.add_all([FormField(phase_id=phase.id, key="why1", label="Describe", type="text", order=20),
                        FormField(phase_id=phase.id, key="why2", label="Describe", type="text", order=21),
                        FormField(phase_id=phase.id, key="state", label="status", type="text", order=22)])
    db.session.commit()
    subs.save_answers(actor=vendor, submission=draft, answers={"why1": "first", "why2": "second", "state": "mine"})
    db.session.commit()
    frame = applications_frame(phase)
    row = frame.iloc[0]
    assert (row["Describe [why1]"], row["Describe [why2]"], row["status [state]"]) == ("first", "second", "mine")
    assert row["status"] == "draft"  # the core column is untouched


def test_exports_follow_the_list_filters(client, login_as, vendor, phase, db):
    """The CSV and Excel exports hold what the list shows: its status and search filters, one rule."""
    import io as _io

    import pandas as pd

    make_submission(vendor, phase, organization_name="Alpha Labs", submit=True)
    make_submission(vendor, phase, organization_name="Beta Works")  # a draft
    out, _ = make_submission(vendor, phase, organization_name="Gamma Ltd", submit=True)
    subs.disqualify(actor=make_user(email="filters.staff@example.gov", roles=("staff",)), submission=out,
                    reason="Wrong entity")
    db.session.commit()
    login_as("staff")
    base = f"/staff/challenges/{phase.challenge.slug}/phases/{phase.id}/applications"

    def csv_names(query: str) -> list[str]:
        response = client.get(f"{base}.csv{query}")
        assert response.status_code == 200
        return list(pd.read_csv(_io.BytesIO(response.data))["organisation"])

    assert sorted(csv_names("")) == ["Alpha Labs", "Beta Works", "Gamma Ltd"]
    assert csv_names("?status=submitted") == ["Alpha Labs"]
    assert csv_names("?status=disqualified") == ["Gamma Ltd"]
    assert csv_names("?q=beta") == ["Beta Works"]
    excel = client.get(f"{base}.xlsx?status=submitted&q=alpha")
    assert list(pd.read_excel(_io.BytesIO(excel.data))["organisation"]) == ["Alpha Labs"]

    page = client.get(f"{base}?status=submitted&q=alp").text
    assert f'href="{base}.csv?status=submitted&amp;q=alp"' in page
    assert f'href="{base}.xlsx?status=submitted&amp;q=alp"' in page
    assert "The exports hold the 1 application listed: status submitted, search “alp”." in page
    everything = client.get(base).text
    assert f'href="{base}.csv"' in everything and "The exports hold all 3 applications" in everything


def test_apply_page_of_an_upcoming_phase_says_when_it_opens(client, login_as, db):
    """Before a phase opens, its apply page (and the public page's timeline) give the opening time in the
    challenge's zone, not only the close."""
    from datetime import date as _date

    from challenges.timezones import format_human

    definition = make_definition()
    opens = _date.fromisoformat(definition["phases"][0]["closes_at"][:10]) - timedelta(days=10)
    definition["phases"][0]["opens_at"] = f"{opens}T09:00"
    challenge = make_challenge(publish=True, slug="opens-later", phases=definition["phases"])
    phase = challenge.phases[0]
    opening = format_human(phase.opens_at, challenge.timezone)
    assert opening.endswith(("9:00 AM EST", "9:00 AM EDT"))  # 09:00 New York time, not UTC
    login_as("vendor")
    page = client.get(f"/vendor/apply/{challenge.slug}/{phase.key}").text
    assert f"{phase.name} opens" in page and opening in page
    assert f"This phase is not accepting applications yet: it opens {_time_tag(phase.opens_at, opening)}" in page
    assert format_human(phase.closes_at, challenge.timezone) in page
    public = client.get(f"/challenges/{challenge.slug}").text
    assert opening in public


def _time_tag(moment, text: str) -> str:
    from challenges.timezones import to_aware_utc

    return (f'<time class="js-local-time" datetime="{to_aware_utc(moment).isoformat()}" '
            f'data-zone="America/New_York">{text}</time>')
