"""A For You scroll's cursor: where the scroll stands (its seed, how far it is, the digests of what it served and
the last few ids, for spacing across the page break), packed as compact URL-safe text, and parsed back strictly:
a cursor this code did not make is refused, never half-read."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import struct
from dataclasses import dataclass

MAX_CURSOR_CHARS = 4096


class InvalidCursor(ValueError):
    """A cursor that this recommender did not make (or that was altered)."""


@dataclass(frozen=True)
class Cursor:
    """Where a scroll stands: its seed, how many items it has served, and which."""

    seed: int
    offset: int
    served: tuple[bytes, ...] = ()  # 4-byte digests of served ids, newest last
    tail: tuple[str, ...] = ()  # the last few served ids, for spacing across the page break

    def encode(self) -> str:
        """Compact URL-safe text."""
        # An id too long for a length byte is left out: spacing across the page break is best effort.
        tail = [t.encode("utf-8") for t in self.tail if len(t.encode("utf-8")) < 256]
        packed = b"".join(struct.pack(">B", len(t)) + t for t in tail)
        raw = struct.pack(">BQIB", 1, self.seed, self.offset, len(tail)) + packed + b"".join(self.served)
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor from `encode`; raises InvalidCursor on anything else."""
        if len(text) > MAX_CURSOR_CHARS:
            raise InvalidCursor("cursor too long")
        if not (text.isascii() and text.replace("-", "").replace("_", "").isalnum()):
            raise InvalidCursor("malformed cursor")  # b64decode would skip stray characters: "c\n" is not "c"
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            version, seed, offset, n_tail = struct.unpack_from(">BQIB", raw)
            at = struct.calcsize(">BQIB")
            tail = []
            for _ in range(n_tail):
                (size,) = struct.unpack_from(">B", raw, at)
                if at + 1 + size > len(raw):
                    raise InvalidCursor("malformed cursor")
                tail.append(raw[at + 1 : at + 1 + size].decode("utf-8"))
                at += 1 + size
        except (binascii.Error, struct.error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidCursor("malformed cursor") from exc
        rest = raw[at:]
        if version != 1 or len(rest) % 4:
            raise InvalidCursor("malformed cursor")
        return cls(seed, offset, tuple(rest[i : i + 4] for i in range(0, len(rest), 4)), tuple(tail))


@functools.lru_cache(maxsize=1 << 18)  # asked for every candidate of every page; the same ids recur
def served_digest(video_id: str) -> bytes:
    """What a cursor stores for a served id: 4 bytes, enough to exclude it with negligible collisions."""
    return hashlib.blake2b(video_id.encode("utf-8"), digest_size=4).digest()
