"""Read container structure from raw bytes, without ffmpeg.

`sniff_container` decides an upload's container from its first bytes, before anything is
stored or probed, and `sniff_image` does the same for avatar images. Both are exact: the kind
they return is the demuxer ffmpeg is then forced to use (media/inputs.py), so a file that only
looks a little like a video or an image is refused here rather than guessed at by ffmpeg.

`top_level_boxes` walks the top-level boxes of an MP4/MOV to check faststart (`moov` before
`mdat`, so playback starts before the whole file arrives), and `file_ending` tells truncated uploads
(whose index survived but whose media data did not) from harmless stray bytes after the last box.
Only box headers are read, never payloads.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

SNIFF_BYTES: Final = 4096
"""How many leading bytes of an upload `sniff_container` needs."""

EBML_MAGIC: Final = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID: Final = b"\x42\x82"

# ISO-BMFF major brands that announce something other than a video: audio-only iTunes/Flash files
# and still images (HEIF/AVIF/JPEG-XL/Canon raw) share the `ftyp` box with MP4.
_NON_VIDEO_BRANDS: Final = frozenset(
    {
        b"M4A ",
        b"M4B ",
        b"M4P ",
        b"F4A ",
        b"F4B ",
        b"heic",
        b"heix",
        b"heim",
        b"heis",
        b"hevc",
        b"hevx",
        b"hevm",
        b"hevs",
        b"mif1",
        b"msf1",
        b"avif",
        b"avis",
        b"jxl ",
        b"crx ",
    }
)
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_IHDR: Final = b"\x00\x00\x00\x0dIHDR"  # the first chunk of every PNG, always 13 bytes long
_JPEG_SOI: Final = b"\xff\xd8\xff"
_WEBP_CHUNKS: Final = frozenset({b"VP8 ", b"VP8L", b"VP8X"})

# QuickTime files written before `ftyp` existed open straight with one of these atoms.
_LEGACY_QUICKTIME_ATOMS: Final = frozenset({b"moov", b"mdat", b"wide", b"pnot"})


def sniff_container(head: bytes) -> str | None:
    """Return 'mp4', 'mov', 'webm' or 'mkv' for a video container's leading bytes, else None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _NON_VIDEO_BRANDS:
            return None
        return "mov" if brand == b"qt  " else "mp4"
    if len(head) >= 8 and head[4:8] in _LEGACY_QUICKTIME_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return "mov"
    if head.startswith(EBML_MAGIC):
        doctype = ebml_doctype(head)
        if doctype == "webm":
            return "webm"
        if doctype == "matroska":
            return "mkv"
    return None


def sniff_file(path: Path) -> str | None:
    """Return the video container of the file at `path` (see sniff_container), or None."""
    with path.open("rb") as stream:
        return sniff_container(stream.read(SNIFF_BYTES))


def sniff_image(data: bytes) -> str | None:
    """Return 'jpeg', 'png' or 'webp' for a whole image file's bytes, else None."""
    if data.startswith(_JPEG_SOI):
        return "jpeg"
    if data.startswith(PNG_SIGNATURE) and data[8:16] == _PNG_IHDR:
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:16] in _WEBP_CHUNKS:
        # The RIFF size counts everything after its own field; a real WebP holds at least one
        # chunk header, and never claims more bytes than the file has.
        riff_size = int.from_bytes(data[4:8], "little")
        if 12 <= riff_size <= len(data) - 8:
            return "webp"
    return None


def ebml_doctype(head: bytes) -> str | None:
    """Return the DocType string declared in an EBML header ('webm', 'matroska', …), or None if absent."""
    # The DocType element sits inside the EBML header, a few dozen bytes in; scan only that far
    # so a stray 0x4282 deep inside media data is never read as one.
    window = head[: min(len(head), 256)]
    at = window.find(_EBML_DOCTYPE_ID, len(EBML_MAGIC))
    if at < 0:
        return None
    size_at = at + len(_EBML_DOCTYPE_ID)
    decoded = _read_vint(window, size_at)
    if decoded is None:
        return None
    size, width = decoded
    start = size_at + width
    raw = window[start : start + size]
    if len(raw) != size:
        return None
    # DocType is an ASCII string, optionally padded with NULs.
    return raw.rstrip(b"\x00").decode("ascii", errors="replace")


def _read_vint(data: bytes, at: int) -> tuple[int, int] | None:
    """Decode an EBML variable-length size at `at`: (value, bytes used), or None when malformed."""
    if at >= len(data) or data[at] == 0:
        return None
    first = data[at]
    width = 1
    mask = 0x80
    while not first & mask:
        width += 1
        mask >>= 1
    if at + width > len(data):
        return None
    value = first & (mask - 1)
    for byte in data[at + 1 : at + width]:
        value = (value << 8) | byte
    return value, width


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


# Box types that appear at the top level of real MP4/MOV files. An incomplete box of one of these
# kinds is a file cut short; anything else after the last whole box is stray bytes.
TOP_LEVEL_KINDS: Final = frozenset(
    {"ftyp", "styp", "moov", "mdat", "moof", "mfra", "free", "skip", "wide", "pnot", "uuid", "meta", "udta",
     "pdin", "sidx", "ssix", "prft", "emsg", "junk", "PICT"}
)  # fmt: skip


def file_ending(boxes: list[Box], file_size: int) -> tuple[str, int]:
    """Say how an MP4/MOV file ends: ('whole', 0), ('trailing', stray byte count) or ('truncated', bytes missing).

    Truncated: no box at all, a real box (by its type) running past the end of the file, or no
    complete `mdat` (the media data is gone). Trailing: after the last whole box come bytes that
    are no box, which players and ffmpeg ignore.
    """
    whole = [box for box in boxes if box.complete]
    if not whole:
        return "truncated", 0
    last = boxes[-1]
    if not last.complete and last.kind in TOP_LEVEL_KINDS:
        return "truncated", max(0, last.offset + last.size - file_size)
    if "mdat" not in {box.kind for box in whole}:
        return "truncated", 0
    end = whole[-1].offset + whole[-1].size
    return ("trailing", file_size - end) if end < file_size else ("whole", 0)
