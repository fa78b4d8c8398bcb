"""Caption vectors kept on disk, so a text is embedded once per region, not once per process start.

The content source searches caption and hashtag vectors (`feed.indexes.ContentIndex`). MiniLM embeds about a
hundred captions a second on one core, so a server that started with 100,000 videos spent over half an hour
embedding before its content source was whole, and every API process did it again. `TextVectorFile` wraps an
`embed_texts`: a text's vector is looked up by a digest of the text in one append-only file in the region's
folder and only texts never seen are embedded (then appended). Every process of the region reads the same file
through a read-only memory map, so the vectors are on disk and in the page cache once, not copied per process.

File layout: a 16-byte header (magic, format, dimension), then records of a 16-byte BLAKE2b digest of the text
and `dim` little-endian float32s. A record cut short by a crash is ignored on read and cut off before the next
append. Appends take an exclusive `flock`, so two processes never interleave records.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from sovereel.feed.indexes import video_text
from sovereel.feed.text_embed import EmbedTexts
from sovereel.storage.db import RegionDB

log = logging.getLogger(__name__)
MAGIC = b"SVTXTVEC"
FORMAT = 1
HEADER = struct.Struct("<8sII")  # magic, format, dim


def text_key(text: str) -> bytes:
    """The digest a text is filed under."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class TextVectorFile:
    """An `embed_texts` that remembers what it embedded in `path`, shared by the region's processes."""

    def __init__(self, embed: EmbedTexts, path: Path) -> None:
        self._embed = embed
        self.path = path
        self._lock = threading.Lock()
        self._rows: dict[bytes, int] = {}
        self._dim = 0
        self._dtype: np.dtype[Any] | None = None
        self._map: np.memmap[Any, Any] | None = None
        self._mapped = 0  # records covered by `_map` (and indexed in `_rows`)
        self.embedded = 0  # texts this process had to embed (the rest came from the file)

    def __call__(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        with self._lock:
            self._catch_up()
            missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._rows}  # a repeat once
            if missing:
                self._add(list(missing.values()), list(missing))
            if self._map is None:  # nothing was asked for: an empty answer of the embedder's width
                return np.zeros((0, self._dim), dtype=np.float32)
            rows = np.fromiter((self._rows[k] for k in keys), dtype=np.int64, count=len(keys))
            vectors: np.ndarray = np.asarray(self._map["vec"][rows], dtype=np.float32)
            return vectors

    def _catch_up(self) -> None:
        """Index the records other processes (or an earlier run) appended since the last look."""
        if not self.path.is_file():
            return
        size = self.path.stat().st_size
        if size < HEADER.size:
            return
        if self._dtype is None:
            with self.path.open("rb") as f:
                magic, fmt, dim = HEADER.unpack(f.read(HEADER.size))
            if magic != MAGIC or fmt != FORMAT or dim <= 0:
                raise ValueError(f"{self.path} is not a text vector file of format {FORMAT}")
            self._set_dim(int(dim))
        if self._dtype is None:  # set just above; this narrows the type
            return
        count = (size - HEADER.size) // self._dtype.itemsize
        if count <= self._mapped:
            return
        self._map = np.memmap(self.path, dtype=self._dtype, mode="r", offset=HEADER.size, shape=(count,))
        for i, key in enumerate(self._map["key"][self._mapped : count], start=self._mapped):
            self._rows.setdefault(bytes(key), i)
        self._mapped = count

    def _set_dim(self, dim: int) -> None:
        self._dim = dim
        self._dtype = np.dtype([("key", "V16"), ("vec", "<f4", (dim,))])

    def _add(self, texts: list[str], keys: list[bytes]) -> None:
        """Embed texts no process has filed yet and append them, holding the file's lock meanwhile."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._catch_up()  # another process may have filed some while we waited for the lock
            todo = [(t, k) for t, k in zip(texts, keys, strict=True) if k not in self._rows]
            if not todo:
                return
            vectors = np.asarray(self._embed([t for t, _ in todo]), dtype="<f4")
            if self._dtype is None:
                self._set_dim(int(vectors.shape[1]))
                os.ftruncate(fd, 0)
                os.write(fd, HEADER.pack(MAGIC, FORMAT, self._dim))  # 16 bytes: written whole
            if self._dtype is None or vectors.shape[1] != self._dim:
                raise ValueError(f"the embedder gives {vectors.shape[1]} values a text; {self.path} holds {self._dim}")
            records = np.empty(len(todo), dtype=self._dtype)
            records["key"] = np.frombuffer(b"".join(k for _, k in todo), dtype="V16")
            records["vec"] = vectors
            end = HEADER.size + self._mapped * self._dtype.itemsize
            os.ftruncate(fd, end)  # drops a record a crash cut short
            os.lseek(fd, end, os.SEEK_SET)
            data = memoryview(records.tobytes())
            while data:
                data = data[os.write(fd, data) :]
            self.embedded += len(todo)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._catch_up()


def text_vector_path(region_dir: Path, embed: EmbedTexts) -> Path:
    """Where a region keeps one embedder's vectors: one file per embedder, so switching never mixes spaces."""
    name = getattr(embed, "name", None) or type(embed).__name__.lstrip("_").lower()
    return region_dir / "text_vectors" / f"{name}.vec"


def embed_catalogue(db: RegionDB, region_dir: Path, *, progress: bool = False, batch: int = 512) -> int:
    """File the vector of every servable video's caption and hashtags ahead of serving (`sovereel world`), so
    the first server start finds them; returns how many texts had to be embedded."""
    from sovereel.feed.text_embed import default_text_embedder
    from sovereel.foryou.readers import video_infos

    embed = default_text_embedder()
    store = TextVectorFile(embed, text_vector_path(region_dir, embed))
    texts = sorted({video_text(v) for v in video_infos(db)})
    with tqdm(total=len(texts), unit="text", desc="caption vectors", disable=not progress) as bar:
        for start in range(0, len(texts), batch):
            store(texts[start : start + batch])
            bar.update(min(batch, len(texts) - start))
    return store.embedded
