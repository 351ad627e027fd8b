"""File storage: local disk by default, S3 through boto3 when S3_BUCKET is set.

Rules that hold for both backends:
- keys are random (`new_key`), never derived from what a user called the file;
- local writes stream in chunks to a temporary file and are renamed into place only when
  complete, so a failed or oversized upload leaves nothing behind;
- downloads are always attachments with `X-Content-Type-Options: nosniff` (S3: a short-lived
  presigned GET that forces the same headers).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote

from flask import Flask, Response, current_app, redirect, send_file

CHUNK = 1024 * 1024
PRESIGN_EXPIRY = 600  # ten minutes: the upper bound for presigned uploads
DOWNLOAD_EXPIRY = 120


class StorageError(Exception):
    """The storage backend failed (disk, network, S3)."""


class TooLarge(StorageError):
    """More bytes arrived than the field allows; nothing was kept."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    content_type: str | None = None
    encryption: str | None = None


def new_key(prefix: str) -> str:
    """A random key under `prefix`; the user's file name never appears in it."""
    return f"{prefix.strip('/')}/{uuid.uuid4().hex}"


def attachment_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


class Storage(Protocol):
    kind: str

    def save_stream(self, key: str, stream: BinaryIO, *, max_bytes: int, content_type: str) -> tuple[int, str]: ...
    def stat(self, key: str) -> StoredObject | None: ...
    def read_head(self, key: str, size: int = 8192) -> bytes: ...
    def sha256(self, key: str) -> str: ...
    def open(self, key: str) -> BinaryIO: ...
    def delete(self, key: str) -> None: ...
    def download_response(self, key: str, *, filename: str, content_type: str) -> Response: ...


class LocalStorage:
    """Files under a directory; keys map to paths that cannot escape it."""

    kind = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise StorageError("storage key escapes the storage root")
        return path

    def save_stream(self, key: str, stream: BinaryIO, *, max_bytes: int, content_type: str) -> tuple[int, str]:
        """Copy in chunks, hashing as it goes; never holds the whole file in memory."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        digest = hashlib.sha256()
        size = 0
        try:
            with open(partial, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"file is larger than {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return size, digest.hexdigest()

    def stat(self, key: str) -> StoredObject | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return StoredObject(key=key, size=path.stat().st_size)

    def read_head(self, key: str, size: int = 8192) -> bytes:
        with open(self._path(key), "rb") as handle:
            return handle.read(size)

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with open(self._path(key), "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def download_response(self, key: str, *, filename: str, content_type: str) -> Response:
        response = send_file(self._path(key), mimetype=content_type, as_attachment=True, download_name=filename,
                             conditional=True, max_age=0)
        response.headers["Content-Disposition"] = attachment_disposition(filename)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-store"
        return response


class S3Storage:
    """An S3 bucket through boto3; the browser uploads directly with presigned requests."""

    kind = "s3"

    def __init__(self, *, bucket: str, endpoint_url: str | None, region: str,
                 access_key: str | None = None, secret_key: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound") and method in ("head_object", "get_object"):
                return None
            raise StorageError(f"S3 {method} failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {method} failed: {exc}") from exc

    def save_stream(self, key: str, stream: BinaryIO, *, max_bytes: int, content_type: str) -> tuple[int, str]:
        """Server-side copy into S3 (used for imports and tests; vendors upload directly)."""
        from boto3.s3.transfer import TransferConfig

        digest = hashlib.sha256()
        size = 0

        class _Counting:
            def read(self, n: int = -1) -> bytes:
                nonlocal size
                chunk = stream.read(n if n and n > 0 else CHUNK)
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"file is larger than {max_bytes} bytes")
                digest.update(chunk)
                return chunk

        try:
            self.client.upload_fileobj(
                _Counting(), self.bucket, key,
                ExtraArgs={"ContentType": content_type, "ServerSideEncryption": "AES256"},
                Config=TransferConfig(multipart_threshold=8 * CHUNK, use_threads=False),
            )
        except TooLarge:
            self.delete(key)
            raise
        except Exception as exc:
            self.delete(key)
            raise StorageError(f"S3 upload failed: {exc}") from exc
        return size, digest.hexdigest()

    def stat(self, key: str) -> StoredObject | None:
        head = self._call("head_object", Key=key)
        if head is None:
            return None
        return StoredObject(key=key, size=head["ContentLength"], content_type=head.get("ContentType"),
                            encryption=head.get("ServerSideEncryption"))

    def read_head(self, key: str, size: int = 8192) -> bytes:
        body = self._call("get_object", Key=key, Range=f"bytes=0-{size - 1}")
        if body is None:
            raise StorageError("object not found")
        return body["Body"].read()

    def sha256(self, key: str) -> str:
        body = self._call("get_object", Key=key)
        if body is None:
            raise StorageError("object not found")
        digest = hashlib.sha256()
        for chunk in body["Body"].iter_chunks(CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def open(self, key: str) -> BinaryIO:
        body = self._call("get_object", Key=key)
        if body is None:
            raise StorageError("object not found")
        return body["Body"]

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=key)

    def presigned_post(self, key: str, *, content_type: str, max_bytes: int,
                       expires: int = PRESIGN_EXPIRY) -> dict[str, Any]:
        """A browser-to-bucket upload bound to one key, a size range, a type and encryption."""
        fields = {"Content-Type": content_type, "x-amz-server-side-encryption": "AES256"}
        conditions: list[Any] = [
            {"bucket": self.bucket},
            ["eq", "$key", key],
            ["content-length-range", 1, max_bytes],
            ["eq", "$Content-Type", content_type],
            {"x-amz-server-side-encryption": "AES256"},
        ]
        return self.client.generate_presigned_post(
            Bucket=self.bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=min(expires, PRESIGN_EXPIRY)
        )

    def create_multipart(self, key: str, *, content_type: str) -> str:
        result = self._call("create_multipart_upload", Key=key, ContentType=content_type,
                            ServerSideEncryption="AES256")
        return result["UploadId"]

    def presign_part(self, key: str, *, upload_id: str, part_number: int, expires: int = PRESIGN_EXPIRY) -> str:
        return self.client.generate_presigned_url(
            "upload_part",
            Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number},
            ExpiresIn=min(expires, PRESIGN_EXPIRY),
        )

    def complete_multipart(self, key: str, *, upload_id: str, parts: list[dict[str, Any]]) -> None:
        self._call("complete_multipart_upload", Key=key, UploadId=upload_id,
                   MultipartUpload={"Parts": sorted(parts, key=lambda p: p["PartNumber"])})

    def abort_multipart(self, key: str, *, upload_id: str) -> None:
        self._call("abort_multipart_upload", Key=key, UploadId=upload_id)

    def download_url(self, key: str, *, filename: str, content_type: str, expires: int = DOWNLOAD_EXPIRY) -> str:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key,
                    "ResponseContentDisposition": attachment_disposition(filename),
                    "ResponseContentType": content_type},
            ExpiresIn=expires,
        )

    def download_response(self, key: str, *, filename: str, content_type: str) -> Response:
        response = redirect(self.download_url(key, filename=filename, content_type=content_type), code=302)
        response.headers["Cache-Control"] = "private, no-store"
        return response


def track_new_object(session: Any, key: str) -> None:
    """Remember an object written inside this transaction; a rollback deletes it (no orphans)."""
    session.info.setdefault("storage_new_keys", []).append(key)


def _register_transaction_cleanup() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    @event.listens_for(Session, "after_commit")
    def _keep(session: Session) -> None:
        session.info.pop("storage_new_keys", None)

    @event.listens_for(Session, "after_soft_rollback")
    def _discard(session: Session, previous_transaction: Any) -> None:
        keys = session.info.pop("storage_new_keys", None)
        if not keys:
            return
        storage = get_storage()
        for key in keys:
            try:
                storage.delete(key)
            except StorageError:
                current_app.logger.warning("could not delete %s after rollback; cleanup will retry", key)


_register_transaction_cleanup()


def build_storage(config: dict[str, Any]) -> Storage:
    if config.get("S3_BUCKET"):
        return S3Storage(
            bucket=config["S3_BUCKET"], endpoint_url=config.get("S3_ENDPOINT_URL"),
            region=config.get("S3_REGION") or "us-east-1", access_key=config.get("AWS_ACCESS_KEY_ID"),
            secret_key=config.get("AWS_SECRET_ACCESS_KEY"),
        )
    return LocalStorage(config["STORAGE_DIR"])


def init_storage(app: Flask) -> None:
    """Bind the configured backend; constructing it does no I/O."""
    app.extensions["storage"] = build_storage(app.config)


def get_storage() -> Storage:
    return current_app.extensions["storage"]
