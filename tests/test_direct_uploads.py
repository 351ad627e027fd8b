"""S3 direct uploads: presigned POST and multipart against moto over HTTP, then the confirm step."""

from __future__ import annotations

import uuid

import boto3
import pytest
import requests
from sqlalchemy import func, select

from challenges.storage import init_storage
from challenges.submissions import services as subs
from challenges.submissions.models import SubmissionFile
from tests.factories import PDF_BYTES, make_challenge, make_user


@pytest.fixture
def s3_app(app, moto_server):
    bucket = f"uploads-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    app.config.update(S3_BUCKET=bucket, S3_ENDPOINT_URL=moto_server, AWS_ACCESS_KEY_ID="testing",
                      AWS_SECRET_ACCESS_KEY="testing")
    init_storage(app)
    app.bucket_client = client  # type: ignore[attr-defined]
    return app


@pytest.fixture
def setup(s3_app, db):
    vendor = make_user(email="vendor@example.gov", roles=("vendor",))
    phase = make_challenge(publish=True, slug="s3-apply").phases[0]
    org = subs.save_organization(actor=vendor, legal_name="Cloud Co")
    submission = subs.start_application(actor=vendor, phase=phase, organization=org)
    db.session.commit()
    return vendor, submission


def _objects(app) -> list[str]:
    listing = app.bucket_client.list_objects_v2(Bucket=app.config["S3_BUCKET"])
    return [o["Key"] for o in listing.get("Contents", [])]


def _post(plan, data: bytes, name: str = "deck.pdf") -> int:
    return requests.post(plan["url"], data=plan["fields"], files={"file": (name, data)}, timeout=10).status_code


def test_presigned_post_then_confirm_stores_file(setup, s3_app, db):
    vendor, submission = setup
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=len(PDF_BYTES))
    assert plan["mode"] == "post" and _post(plan, PDF_BYTES) in (200, 204)
    record = subs.confirm_upload(actor=vendor, submission=submission, file_id=plan["file_id"])
    assert record.status == "stored" and record.sha256 and record.size == len(PDF_BYTES)
    assert submission.current_files()["deck"].id == record.id


@pytest.mark.parametrize(("data", "announced", "reason"), [
    (b"<html><script>alert(1)</script></html>", None, "web page"),
    (b"MZ" + b"\x00" * 40, None, "program"),
    (PDF_BYTES + b"extra", len(PDF_BYTES), "were announced"),
])
def test_confirm_refuses_and_deletes_bad_objects(setup, s3_app, db, data, announced, reason):
    vendor, submission = setup
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=announced or len(data))
    _post(plan, data)
    record = subs.confirm_upload(actor=vendor, submission=submission, file_id=plan["file_id"])
    db.session.commit()
    assert record.status == "rejected" and reason in record.reject_reason
    assert _objects(s3_app) == []
    assert "deck" not in submission.current_files()


def test_confirm_for_key_never_uploaded(setup, s3_app, db):
    vendor, submission = setup
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=100)
    record = subs.confirm_upload(actor=vendor, submission=submission, file_id=plan["file_id"])
    assert record.status == "rejected" and "Nothing arrived" in record.reject_reason


def test_unencrypted_object_is_refused(setup, s3_app, db):
    vendor, submission = setup
    s3_app.bucket_client.delete_bucket_encryption(Bucket=s3_app.config["S3_BUCKET"])
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=len(PDF_BYTES))
    requests.post(plan["url"], data={k: v for k, v in plan["fields"].items()
                                     if k != "x-amz-server-side-encryption"},
                  files={"file": ("deck.pdf", PDF_BYTES)}, timeout=10)
    record = subs.confirm_upload(actor=vendor, submission=submission, file_id=plan["file_id"])
    assert record.status == "rejected" and "not encrypted" in record.reject_reason
    assert _objects(s3_app) == []


@pytest.mark.parametrize(("filename", "content_type", "size", "text"), [
    ("deck.exe", "application/pdf", 10, "not accepted here"),
    ("deck.pdf", "text/html", 10, "not accepted here"),
    ("deck.pdf", "application/pdf", 0, "accepts 1 to"),
    ("deck.pdf", "application/pdf", 26214401, "accepts 1 to"),
    ("../deck.pdf", "application/pdf", 10, "without folders"),
    ("evil\u202efdp.pdf", "application/pdf", 10, "text-direction"),
])
def test_announcement_checks(setup, db, filename, content_type, size, text):
    from challenges.errors import ValidationFailed

    vendor, submission = setup
    with pytest.raises(ValidationFailed) as err:
        subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename=filename,
                                 content_type=content_type, size=size)
    assert text in err.value.errors["deck"]
    db.session.rollback()
    assert db.session.execute(select(func.count(SubmissionFile.id))).scalar_one() == 0


def test_real_multipart_upload_and_confirm(setup, s3_app, db, monkeypatch):
    vendor, submission = setup
    monkeypatch.setattr(subs, "MULTIPART_THRESHOLD", 1024)
    monkeypatch.setattr(subs, "PART_SIZE", 5 * 1024 * 1024)
    data = PDF_BYTES + b"x" * (6 * 1024 * 1024)
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="big.pdf",
                                    content_type="application/pdf", size=len(data))
    assert plan["mode"] == "multipart" and len(plan["part_urls"]) == 2
    parts = []
    for number, url in enumerate(plan["part_urls"], start=1):
        chunk = data[(number - 1) * plan["part_size"]:number * plan["part_size"]]
        response = requests.put(url, data=chunk, timeout=30)
        parts.append({"PartNumber": number, "ETag": response.headers["ETag"]})
    record = subs.confirm_upload(actor=vendor, submission=submission, file_id=plan["file_id"],
                                 upload_id=plan["upload_id"], parts=parts)
    assert record.status == "stored" and record.size == len(data)


def test_other_vendor_cannot_confirm(setup, s3_app, client, login_as, db):
    vendor, submission = setup
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=len(PDF_BYTES))
    db.session.commit()
    login_as("other_vendor")
    response = client.post(f"/vendor/applications/{submission.id}/uploads/{plan['file_id']}/confirm", json={})
    assert response.status_code == 404


def test_direct_flow_over_http_and_csp_allows_bucket(setup, s3_app, client, login_as, db):
    vendor, submission = setup
    login_as(vendor)
    page = client.get(f"/vendor/applications/{submission.id}")
    assert b"data-direct=" in page.data
    assert s3_app.config["S3_ENDPOINT_URL"] in page.headers["Content-Security-Policy"]
    plan = client.post(f"/vendor/applications/{submission.id}/files/deck/direct",
                       json={"filename": "deck.pdf", "content_type": "application/pdf", "size": len(PDF_BYTES)})
    assert plan.status_code == 200
    body = plan.get_json()
    _post(body, PDF_BYTES)
    done = client.post(f"/vendor/applications/{submission.id}/uploads/{body['file_id']}/confirm", json={})
    assert done.status_code == 200 and done.get_json()["stored"] is True
    download = client.get(f"/vendor/applications/{submission.id}/files/{body['file_id']}/download")
    assert download.status_code == 302 and "response-content-disposition=attachment" in download.headers["Location"]


def test_stale_pending_uploads_are_cleaned(setup, s3_app, db):
    from datetime import timedelta

    from challenges.timezones import utcnow

    vendor, submission = setup
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=len(PDF_BYTES))
    _post(plan, PDF_BYTES)  # uploaded but never confirmed (the browser closed)
    db.session.commit()
    assert subs.cleanup_pending_uploads(now=utcnow() + timedelta(hours=2)) == 1
    db.session.commit()
    assert _objects(s3_app) == []
    assert db.session.get(SubmissionFile, plan["file_id"]).status == "rejected"


def test_large_file_is_hashed_in_a_job(setup, s3_app, db, client, login_as, monkeypatch):
    import hashlib

    from challenges import jobs

    vendor, submission = setup
    monkeypatch.setattr(subs, "HASH_IN_JOB_BYTES", 10)
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=len(PDF_BYTES))
    _post(plan, PDF_BYTES)
    record = subs.confirm_upload(actor=vendor, submission=submission, file_id=plan["file_id"])
    assert record.status == "checking" and "deck" not in submission.current_files()
    db.session.commit()
    login_as(vendor)
    assert b"is being checked" in client.get(f"/vendor/applications/{submission.id}").data
    jobs.dispatch_committed()
    db.session.expire_all()
    stored = db.session.get(SubmissionFile, plan["file_id"])
    assert stored.status == "stored" and stored.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()


def test_confirm_after_the_deadline_or_a_withdrawal_keeps_nothing(setup, s3_app, db):
    """Announcing a file before the close is not enough: it must arrive while the application may
    change, and never on a withdrawn application."""
    from datetime import timedelta

    vendor, submission = setup
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=len(PDF_BYTES))
    assert _post(plan, PDF_BYTES) in (200, 204)
    late = submission.phase.hard_close + timedelta(minutes=30)
    record = subs.confirm_upload(actor=vendor, submission=submission, file_id=plan["file_id"], now=late)
    db.session.commit()
    assert record.status == "rejected" and "arrived too late" in record.reject_reason
    assert _objects(s3_app) == [] and "deck" not in submission.current_files()

    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=len(PDF_BYTES))
    assert _post(plan, PDF_BYTES) in (200, 204)
    subs.withdraw(actor=vendor, submission=submission, reason="Changed our mind")
    record = subs.confirm_upload(actor=vendor, submission=submission, file_id=plan["file_id"])
    db.session.commit()
    assert record.status == "rejected" and "was withdrawn" in record.reject_reason
    assert _objects(s3_app) == [] and submission.working_files() == {}


def test_a_direct_upload_to_a_submitted_application_is_kept_as_a_change(setup, s3_app, db, client, login_as):
    """The confirm answer says "kept" for a file waiting as an unsubmitted change, not "refused"."""
    vendor, submission = setup
    first = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                     content_type="application/pdf", size=len(PDF_BYTES))
    _post(first, PDF_BYTES)
    subs.confirm_upload(actor=vendor, submission=submission, file_id=first["file_id"])
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "Ours."})
    subs.accept_rules(actor=vendor, submission=submission, rules_version=submission.phase.challenge.rules_version)
    subs.submit(actor=vendor, submission=submission)
    db.session.commit()
    login_as(vendor)
    plan = client.post(f"/vendor/applications/{submission.id}/files/deck/direct",
                       json={"filename": "deck2.pdf", "content_type": "application/pdf", "size": len(PDF_BYTES) + 3})
    body = plan.get_json()
    _post(body, PDF_BYTES + b"%v2")
    done = client.post(f"/vendor/applications/{submission.id}/uploads/{body['file_id']}/confirm", json={})
    assert done.status_code == 200 and done.get_json()["stored"] is True
    db.session.expire_all()
    assert db.session.get(SubmissionFile, body["file_id"]).status == "draft"
    assert submission.current_files()["deck"].id == first["file_id"]  # judges still see the submitted one


def test_the_hash_job_keeps_nothing_on_an_application_withdrawn_meanwhile(setup, s3_app, db, monkeypatch):
    from challenges import jobs

    vendor, submission = setup
    monkeypatch.setattr(subs, "HASH_IN_JOB_BYTES", 10)
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=len(PDF_BYTES))
    _post(plan, PDF_BYTES)
    assert subs.confirm_upload(actor=vendor, submission=submission, file_id=plan["file_id"]).status == "checking"
    subs.withdraw(actor=vendor, submission=submission, reason="Pulled out")
    db.session.commit()
    jobs.dispatch_committed()
    db.session.expire_all()
    record = db.session.get(SubmissionFile, plan["file_id"])
    assert record.status == "rejected" and "withdrawn" in record.reject_reason
    assert _objects(s3_app) == []
