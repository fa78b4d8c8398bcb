"""The local-folder blob store of the embedded default (file:///abs/path)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from sovereel.storage.blobs.interface import DISK_FULL_ERRNOS, BlobError, BlobStoreFull, check_key


class LocalBlobStore:
    """Blobs as files under one root folder; writes land atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = f"file://{self.root}"

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _atomic_write(self, key: str, write: Callable[[BinaryIO], object]) -> int:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".part-", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            os.replace(tmp, dest)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            kind = BlobStoreFull if exc.errno in DISK_FULL_ERRNOS else BlobError
            raise kind(f"could not store {key}: {exc.strerror or exc}") from exc
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest.stat().st_size

    def put_file(self, key: str, src: Path, *, move: bool = False) -> int:
        """Store a file's bytes; with move=True the file itself is renamed into place when it can be."""
        if move:
            dest = self.path(key)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(src, dest)  # same filesystem: no copy at all
                return dest.stat().st_size
            except OSError:
                pass  # another filesystem: copy below, then drop the source

        def copy(out: BinaryIO) -> None:
            with src.open("rb") as f:
                shutil.copyfileobj(f, out, 1024 * 1024)

        size = self._atomic_write(key, copy)
        if move:
            src.unlink(missing_ok=True)
        return size

    def put_bytes(self, key: str, data: bytes) -> int:
        return self._atomic_write(key, lambda out: out.write(data))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobError(f"no blob {key}") from exc

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobError(f"no blob {key}") from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def iter_range(self, key: str, start: int, end: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
        """Bytes start..end inclusive."""
        with self.path(key).open("rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                data = f.read(min(chunk, left))
                if not data:
                    break
                left -= len(data)
                yield data

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        target = self.path(prefix.rstrip("/"))
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)

    def fetch_to(self, key: str, dest: Path) -> Path:
        """Return a local path with the blob's bytes (the file itself for a local store)."""
        return self.path(key)
