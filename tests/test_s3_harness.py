"""The moto_server fixture: a real S3 API over HTTP on loopback, with boto3 unpatched."""

import os
import urllib.request

import boto3


def test_moto_server_speaks_s3_over_http(moto_server):
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")

    s3.create_bucket(Bucket="harness-check")
    s3.put_object(Bucket="harness-check", Key="a/b.txt", Body=b"hello", ContentType="text/plain")
    fetched = s3.get_object(Bucket="harness-check", Key="a/b.txt")
    listing = s3.list_objects_v2(Bucket="harness-check")

    assert moto_server.startswith("http://127.0.0.1:")
    assert fetched["Body"].read() == b"hello" and fetched["ContentType"] == "text/plain"
    assert [o["Key"] for o in listing["Contents"]] == ["a/b.txt"]


def test_moto_server_presigned_url_works_over_plain_http(moto_server):
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="harness-presign")
    s3.put_object(Bucket="harness-presign", Key="doc.pdf", Body=b"%PDF-1.7")

    url = s3.generate_presigned_url("get_object", Params={"Bucket": "harness-presign", "Key": "doc.pdf"},
                                    ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback test server
        body = response.read()

    assert url.startswith(moto_server + "/harness-presign/doc.pdf?")
    assert body == b"%PDF-1.7"


def test_moto_server_uses_fake_credentials(moto_server):
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "AWS_SESSION_TOKEN" not in os.environ
