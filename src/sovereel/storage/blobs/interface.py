"""The blob store of a region's media: one small interface and `open_blob_store(url)` (file:// or s3://)."""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}\Z")


class BlobError(Exception):
    """A blob could not be stored or read (disk full, missing object)."""


class BlobStoreFull(BlobError):
    """The store has no room (ENOSPC, EDQUOT): nothing was kept of the blob being written."""


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def check_key(key: str) -> str:
    """Refuse keys that could escape the store (keys are made by the platform, never by users)."""
    if not _KEY_RE.fullmatch(key) or ".." in key.split("/") or key.startswith("/"):
        raise ValueError(f"invalid blob key: {key!r}")
    return key


class BlobStore(Protocol):
    url: str

    def put_file(self, key: str, src: Path, *, move: bool = False) -> int: ...
    def put_bytes(self, key: str, data: bytes) -> int: ...
    def get_bytes(self, key: str) -> bytes: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def iter_range(self, key: str, start: int, end: int, chunk: int = 256 * 1024) -> Iterator[bytes]: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def fetch_to(self, key: str, dest: Path) -> Path: ...


def open_blob_store(url: str) -> BlobStore:
    """Open a blob store by URL: file:///abs/path or s3://bucket/prefix?endpoint=…&region=…."""
    if url.startswith("file://"):
        from sovereel.storage.blobs.local import LocalBlobStore

        return LocalBlobStore(Path(url[len("file://") :]))
    if url.startswith("s3://"):
        from sovereel.storage.blobs.s3 import S3BlobStore

        return S3BlobStore(url)
    raise ValueError(f"unsupported media URL {url!r} (use file:///abs/path or s3://bucket/prefix)")
