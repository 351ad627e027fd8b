import boto3


def test_moto_server_speaks_s3_over_http(moto_server):
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="harness-check")
    s3.put_object(Bucket="harness-check", Key="a/b.txt", Body=b"hello")
    assert s3.get_object(Bucket="harness-check", Key="a/b.txt")["Body"].read() == b"hello"
    assert moto_server.startswith("http://127.0.0.1:")
