"""Real faults, not mocks: a database that refuses a write mid-request, a file store that is down."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from challenges.storage import init_storage
from challenges.submissions import services as subs
from challenges.submissions.models import Receipt, Submission, SubmissionFile
from tests.factories import PDF_BYTES, make_challenge, make_submission, make_user


def _fail_inserts_into(db, table: str) -> None:
    """Install a trigger so the database itself rejects inserts into `table`."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("CREATE OR REPLACE FUNCTION refuse_insert() RETURNS trigger AS $$ "
                                "BEGIN RAISE EXCEPTION 'simulated database failure'; END; $$ LANGUAGE plpgsql"))
        db.session.execute(text(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                                "FOR EACH ROW EXECUTE FUNCTION refuse_insert()"))
    else:
        db.session.execute(text(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                                "BEGIN SELECT RAISE(ABORT, 'simulated database failure'); END"))
    db.session.commit()


def _drop_trigger(db, table: str) -> None:
    suffix = f" ON {table}" if db.engine.dialect.name == "postgresql" else ""
    db.session.execute(text(f"DROP TRIGGER IF EXISTS refuse_{table}{suffix}"))
    db.session.commit()


@pytest.fixture
def ready(app, db):
    vendor = make_user(email="vendor@example.gov", roles=("vendor",))
    phase = make_challenge(publish=True, slug="faults").phases[0]
    submission, _ = make_submission(vendor=vendor, phase=phase)
    subs.accept_rules(actor=vendor, submission=submission, rules_version=phase.challenge.rules_version)
    from challenges.extensions import db as _db

    _db.session.commit()
    return vendor, submission


def _files(app) -> list[Path]:
    return sorted(p for p in Path(app.config["STORAGE_DIR"]).rglob("*") if p.is_file())


def test_database_error_during_submit_leaves_the_draft_as_it_was(app, db, client, login_as, ready):
    vendor, submission = ready
    before_files = _files(app)
    version = submission.version
    _fail_inserts_into(db, "submission_receipts")
    app.config["PROPAGATE_UNEXPECTED"] = False
    try:
        login_as(vendor)
        response = client.post(f"/vendor/applications/{submission.id}/submit")
    finally:
        _drop_trigger(db, "submission_receipts")
    assert response.status_code == 500 and b"Nothing was saved" in response.data
    db.session.expire_all()
    again = db.session.get(Submission, submission.id)
    assert (again.status, again.public_code, again.submitted_at, again.version) == ("draft", None, None, version)
    assert db.session.execute(select(func.count(Receipt.id))).scalar_one() == 0
    assert _files(app) == before_files


def test_database_error_after_upload_leaves_no_orphan_file(app, db, client, login_as, ready):
    vendor, submission = ready
    before_files = _files(app)
    _fail_inserts_into(db, "submission_files")
    app.config["PROPAGATE_UNEXPECTED"] = False
    try:
        login_as(vendor)
        response = client.post(f"/vendor/applications/{submission.id}/files/deck",
                               data={"file": (io.BytesIO(PDF_BYTES + b"% new\n"), "new.pdf")},
                               content_type="multipart/form-data")
    finally:
        _drop_trigger(db, "submission_files")
    assert response.status_code == 500
    assert _files(app) == before_files  # the new file was written, then removed with the rollback
    assert db.session.execute(select(func.count(SubmissionFile.id))).scalar_one() == 1


def test_file_store_outage_during_confirm_is_a_clear_message(app, db, moto_server, ready):
    import boto3

    vendor, submission = ready
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket="outage-test")
    app.config.update(S3_BUCKET="outage-test", S3_ENDPOINT_URL=moto_server, AWS_ACCESS_KEY_ID="testing",
                      AWS_SECRET_ACCESS_KEY="testing")
    init_storage(app)
    plan = subs.begin_direct_upload(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                                    content_type="application/pdf", size=len(PDF_BYTES))
    db.session.commit()
    app.config["S3_ENDPOINT_URL"] = "http://127.0.0.1:9"  # the store goes away
    init_storage(app)
    record = subs.confirm_upload(actor=vendor, submission=submission, file_id=plan["file_id"])
    db.session.commit()
    assert record.status == "rejected" and "could not be reached" in record.reject_reason
    assert submission.status == "draft"
    assert db.session.execute(select(func.count(SubmissionFile.id)).where(SubmissionFile.status == "pending")
                              ).scalar_one() == 0
