"""Storage backends against real engines: the local disk and moto's S3 server over HTTP."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from challenges.storage import LocalStorage, S3Storage, StorageError, TooLarge, new_key


@pytest.fixture
def s3(moto_server) -> S3Storage:
    bucket = f"test-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    return S3Storage(bucket=bucket, endpoint_url=moto_server, region="us-east-1",
                     access_key="testing", secret_key="testing")


def test_keys_are_random_and_never_contain_names():
    first, second = new_key("submissions/7"), new_key("submissions/7")
    assert first != second and first.startswith("submissions/7/") and len(first.rsplit("/", 1)[1]) == 32


def test_local_streams_hashes_and_cleans_up(tmp_path):
    storage = LocalStorage(tmp_path)
    data = b"x" * (3 * 1024 * 1024 + 17)
    size, digest = storage.save_stream("a/b", io.BytesIO(data), max_bytes=len(data), content_type="x")
    assert (size, digest) == (len(data), hashlib.sha256(data).hexdigest())
    assert storage.sha256("a/b") == digest and storage.read_head("a/b", 4) == b"xxxx"
    with pytest.raises(TooLarge):
        storage.save_stream("a/c", io.BytesIO(data), max_bytes=len(data) - 1, content_type="x")
    assert sorted(p.name for p in Path(tmp_path, "a").iterdir()) == ["b"]  # no partial file left
    storage.delete("a/b")
    storage.delete("a/b")  # idempotent
    assert storage.stat("a/b") is None


def test_local_refuses_keys_outside_root(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    with pytest.raises(StorageError):
        storage.stat("../outside")


def test_presigned_post_policy_has_every_condition(s3):
    key = new_key("submissions/1")
    post = s3.presigned_post(key, content_type="application/pdf", max_bytes=1000, expires=3600)
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"bucket": s3.bucket} in conditions
    assert ["eq", "$key", key] in conditions
    assert ["content-length-range", 1, 1000] in conditions
    assert ["eq", "$Content-Type", "application/pdf"] in conditions
    assert {"x-amz-server-side-encryption": "AES256"} in conditions
    # The expiry is capped at ten minutes even when more is asked for.
    from datetime import UTC, datetime

    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert (expires - datetime.now(UTC)).total_seconds() <= 600


def test_browser_style_presigned_upload_then_confirm_reads(s3):
    key = new_key("submissions/2")
    data = b"%PDF-1.7\nhello\n%%EOF\n"
    post = s3.presigned_post(key, content_type="application/pdf", max_bytes=1000)
    response = requests.post(post["url"], data=post["fields"], files={"file": ("x.pdf", data)}, timeout=10)
    assert response.status_code in (200, 204), response.text
    stat = s3.stat(key)
    # moto's server ignores the encryption field of a POST upload (real S3 honours it), so encryption
    # is asserted on the multipart and server-side paths below, where moto records it.
    assert stat.size == len(data) and stat.content_type == "application/pdf"
    assert s3.read_head(key, 5) == b"%PDF-"
    assert s3.sha256(key) == hashlib.sha256(data).hexdigest()
    url = s3.download_url(key, filename="Résumé deck.pdf", content_type="application/pdf")
    got = requests.get(url, timeout=10)
    assert got.content == data and got.headers["Content-Disposition"].startswith("attachment")
    s3.delete(key)
    assert s3.stat(key) is None


def test_real_multipart_upload_through_presigned_parts(s3):
    key = new_key("submissions/3")
    part_one, part_two = b"a" * (5 * 1024 * 1024), b"b" * 1024
    upload_id = s3.create_multipart(key, content_type="video/mp4")
    parts = []
    for number, chunk in ((1, part_one), (2, part_two)):
        url = s3.presign_part(key, upload_id=upload_id, part_number=number)
        response = requests.put(url, data=chunk, timeout=30)
        assert response.status_code == 200
        parts.append({"PartNumber": number, "ETag": response.headers["ETag"]})
    s3.complete_multipart(key, upload_id=upload_id, parts=parts)
    assert s3.stat(key).size == len(part_one) + len(part_two)
    assert s3.stat(key).encryption == "AES256"
    assert s3.sha256(key) == hashlib.sha256(part_one + part_two).hexdigest()


def test_s3_server_side_copy_refuses_oversize_and_leaves_nothing(s3):
    key = new_key("submissions/4")
    with pytest.raises(TooLarge):
        s3.save_stream(key, io.BytesIO(b"z" * 2048), max_bytes=1024, content_type="text/plain")
    assert s3.stat(key) is None
    size, digest = s3.save_stream(key, io.BytesIO(b"z" * 1024), max_bytes=1024, content_type="text/plain")
    assert size == 1024 and s3.stat(key).encryption == "AES256"
    assert digest == hashlib.sha256(b"z" * 1024).hexdigest() == s3.sha256(key)


def test_s3_outage_is_a_storage_error():
    dead = S3Storage(bucket="nope", endpoint_url="http://127.0.0.1:9", region="us-east-1",
                     access_key="x", secret_key="y")
    with pytest.raises(StorageError):
        dead.stat("any")
