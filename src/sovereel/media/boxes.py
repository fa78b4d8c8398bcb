"""Walk the top-level boxes (atoms) of an ISO-BMFF / QuickTime file.

Used to check faststart (`moov` before `mdat`, so a player can start before the whole file
arrives) and to catch truncated uploads whose index survived but whose media data did not.
Only box headers are read, never payloads, so this is cheap on multi-hundred-MB files.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class Box:
    """One top-level box: its four-character type, byte offset, declared size, and whether it fits the file."""

    kind: str
    offset: int
    size: int
    complete: bool


def read_boxes(stream: BinaryIO, file_size: int, *, limit: int = 4096) -> list[Box]:
    """Return the top-level boxes of an open ISO-BMFF stream, stopping at a malformed or overrunning box."""
    boxes: list[Box] = []
    offset = 0
    while offset + 8 <= file_size and len(boxes) < limit:
        stream.seek(offset)
        header = stream.read(16)
        if len(header) < 8:
            break
        size, raw_kind = struct.unpack(">I4s", header[:8])
        kind = raw_kind.decode("latin-1")
        header_len = 8
        if size == 1:
            # 64-bit "largesize" follows the type: how big files (>4 GiB mdat) are written.
            if len(header) < 16:
                break
            (size,) = struct.unpack(">Q", header[8:16])
            header_len = 16
        elif size == 0:
            # Size 0 means "extends to the end of the file"; only legal for the last box.
            size = file_size - offset
        if size < header_len:
            boxes.append(Box(kind, offset, size, complete=False))
            break
        complete = offset + size <= file_size
        boxes.append(Box(kind, offset, size, complete))
        if not complete:
            break
        offset += size
    return boxes


def top_level_boxes(path: Path) -> list[Box]:
    """Return the top-level boxes of the MP4/MOV file at `path`."""
    file_size = path.stat().st_size
    with path.open("rb") as stream:
        return read_boxes(stream, file_size)


def is_faststart(boxes: list[Box]) -> bool:
    """True when a `moov` box comes before the first `mdat` box (and both exist)."""
    kinds = [box.kind for box in boxes]
    if "moov" not in kinds or "mdat" not in kinds:
        return False
    return kinds.index("moov") < kinds.index("mdat")


def is_truncated(boxes: list[Box]) -> bool:
    """True when the last box claims more bytes than the file holds, or the walk found no box at all."""
    return not boxes or not boxes[-1].complete
