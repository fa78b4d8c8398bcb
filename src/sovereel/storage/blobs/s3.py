"""The blob store on an S3-compatible object store (AWS S3, MinIO, Ceph RGW, Cloudflare R2, …).

URL: `s3://bucket/optional/prefix?endpoint=http://127.0.0.1:9000&region=eu-central-1&create=1`.
Credentials come from the usual AWS sources (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an
instance role); `endpoint` is left out for AWS itself. `create=1` creates the bucket when it is missing
(handy for MinIO in development; in production the bucket is provisioned with its region's policy).
Range reads are ranged GETs streamed through, so video seeking works the same as from a local folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sovereel.storage.blobs.interface import BlobError, check_key

MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in MISSING


class S3BlobStore:
    """Blobs as objects under `prefix/` in one bucket."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"an S3 media URL looks like s3://bucket/prefix, not {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.url = url
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=query.get("endpoint") or None,
            region_name=query.get("region") or None,
            config=Config(retries={"max_attempts": 4, "mode": "standard"}, s3={"addressing_style": "path"}),
        )
        if query.get("create") in ("1", "true", "yes"):
            self._ensure_bucket(query.get("region") or "")

    def _ensure_bucket(self, region: str) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if not _missing(exc):
                raise
            args: dict[str, Any] = {"Bucket": self.bucket}
            if region and region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": region}
            self._client.create_bucket(**args)

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, src: Path, *, move: bool = False) -> int:
        """Upload a file (multipart above 8 MiB); with move=True the local file is removed afterwards."""
        try:
            self._client.upload_file(str(src), self.bucket, self.object_key(key))
            size = src.stat().st_size
        except (ClientError, BotoCoreError, OSError) as exc:
            raise BlobError(f"could not store {key}: {exc}") from exc
        if move:
            src.unlink(missing_ok=True)
        return size

    def put_bytes(self, key: str, data: bytes) -> int:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise BlobError(f"could not store {key}: {exc}") from exc
        return len(data)

    def get_bytes(self, key: str) -> bytes:
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=self.object_key(key))["Body"]
            data: bytes = body.read()
            return data
        except ClientError as exc:
            raise BlobError(f"no blob {key}" if _missing(exc) else f"could not read {key}: {exc}") from exc

    def size(self, key: str) -> int:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            raise BlobError(f"no blob {key}" if _missing(exc) else f"could not read {key}: {exc}") from exc
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
            return True
        except BlobError:
            return False

    def iter_range(self, key: str, start: int, end: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
        """Bytes start..end inclusive, as one ranged GET streamed in chunks."""
        try:
            obj = self._client.get_object(Bucket=self.bucket, Key=self.object_key(key), Range=f"bytes={start}-{end}")
        except ClientError as exc:
            raise BlobError(f"no blob {key}" if _missing(exc) else f"could not read {key}: {exc}") from exc
        body = obj["Body"]
        try:
            yield from body.iter_chunks(chunk)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object under `prefix` (a folder-like key) and the object named `prefix` itself."""
        base = self.object_key(prefix.rstrip("/"))
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base + "/"):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
        self._client.delete_object(Bucket=self.bucket, Key=base)

    def fetch_to(self, key: str, dest: Path) -> Path:
        """Download the blob to `dest` (workers transcode from a local file)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".part-", delete=False) as tmp:
            part = Path(tmp.name)
        try:
            self._client.download_file(self.bucket, self.object_key(key), str(part))
            part.replace(dest)
        except ClientError as exc:
            part.unlink(missing_ok=True)
            raise BlobError(f"no blob {key}" if _missing(exc) else f"could not read {key}: {exc}") from exc
        return dest
