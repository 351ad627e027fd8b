"""With S3 settings pointing at moto, the browser uploads straight to the bucket, then the server confirms."""

from __future__ import annotations

import uuid

import boto3
from sqlalchemy import select

from challenges.extensions import db
from challenges.storage import init_storage
from challenges.submissions import services as subs
from challenges.submissions.models import Submission
from tests.factories import PDF_BYTES, make_challenge, make_user

PASSWORD = "correct horse battery staple"


def test_direct_upload_to_bucket_in_the_browser(browse, app, moto_server, live_server):
    bucket = f"browser-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [live_server], "AllowedMethods": ["POST", "PUT", "GET"], "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
    app.config.update(S3_BUCKET=bucket, S3_ENDPOINT_URL=moto_server, AWS_ACCESS_KEY_ID="testing",
                      AWS_SECRET_ACCESS_KEY="testing")
    init_storage(app)

    vendor = make_user(email="cloud@example.com", roles=("vendor",), password=PASSWORD)
    phase = make_challenge(publish=True, slug="s3-browser").phases[0]
    org = subs.save_organization(actor=vendor, legal_name="Cloud Browser Co")
    submission = subs.start_application(actor=vendor, phase=phase, organization=org)
    db.session.commit()

    person = browse()
    page = person.page
    person.sign_in(vendor.email, PASSWORD)
    person.visit(f"/vendor/applications/{submission.id}")
    with page.expect_navigation(timeout=30_000):  # choosing the file uploads it
        page.set_input_files("#file-deck", files=[{"name": "deck.pdf", "mimeType": "application/pdf",
                                                   "buffer": PDF_BYTES + b"%" * 100_000}])
    person.after_navigation()
    assert "Current file:" in page.content() and "deck.pdf" in page.content()

    db.session.expire_all()
    stored = db.session.execute(select(Submission)).scalar_one().current_files()["deck"]
    head = client.head_object(Bucket=bucket, Key=stored.storage_key)
    assert head["ContentLength"] == stored.size and head["ServerSideEncryption"] == "AES256"

    # A disguised file goes to the bucket too, and the confirm step deletes it and says why.
    page.set_input_files("#file-deck", files=[{"name": "trick.pdf", "mimeType": "application/pdf",
                                               "buffer": b"<html><script>alert(1)</script></html>"}])
    page.wait_for_function("() => document.querySelector('.site-upload-status').textContent.includes('web page')")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == [stored.storage_key]
