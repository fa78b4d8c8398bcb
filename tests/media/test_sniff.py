"""sniff_container: real files of each container, and hand-made heads of things that are not videos."""

from __future__ import annotations

from pathlib import Path

import pytest

from sovereel.media.sniff import SNIFF_BYTES, ebml_doctype, sniff_container
from tests.support.media_clips import make_audio_only, make_clip


def _head(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(SNIFF_BYTES)


@pytest.mark.ffmpeg
@pytest.mark.parametrize("container", ["mp4", "mov", "webm", "mkv"])
def test_sniffs_each_container_ffmpeg_writes(tmp_path: Path, container: str) -> None:
    clip = make_clip(tmp_path / f"clip.{container}", width=96, height=64, duration_s=0.5, container=container)
    assert sniff_container(_head(clip)) == container


@pytest.mark.ffmpeg
@pytest.mark.parametrize("name", ["song.mp3", "voice.m4a"])
def test_audio_only_files_are_not_videos(tmp_path: Path, name: str) -> None:
    assert sniff_container(_head(make_audio_only(tmp_path / name, duration_s=0.5))) is None


def test_text_renamed_to_mp4_is_not_a_video(tmp_path: Path) -> None:
    fake = tmp_path / "holiday.mp4"
    fake.write_text("<html><body>definitely a video</body></html>\n" * 20)
    assert sniff_container(_head(fake)) is None


def test_zero_bytes_is_not_a_video(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    assert sniff_container(_head(empty)) is None


def _ftyp(brand: bytes) -> bytes:
    return (24).to_bytes(4, "big") + b"ftyp" + brand + b"\x00\x00\x02\x00" + b"isomiso2"


@pytest.mark.parametrize(
    ("brand", "expected"),
    [
        (b"isom", "mp4"),
        (b"mp42", "mp4"),
        (b"avc1", "mp4"),
        (b"M4V ", "mp4"),
        (b"3gp4", "mp4"),
        (b"iso6", "mp4"),
        (b"qt  ", "mov"),
        (b"M4A ", None),
        (b"heic", None),
        (b"avif", None),
    ],
)
def test_iso_bmff_major_brands(brand: bytes, expected: str | None) -> None:
    assert sniff_container(_ftyp(brand)) == expected


def _ebml(doctype: bytes) -> bytes:
    # EBMLVersion 1, then DocType with a one-byte size (0x80 | length).
    body = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body


@pytest.mark.parametrize(("doctype", "expected"), [(b"webm", "webm"), (b"matroska", "mkv"), (b"something", None)])
def test_ebml_doctypes(doctype: bytes, expected: str | None) -> None:
    assert sniff_container(_ebml(doctype)) == expected


def test_ebml_doctype_cut_short_is_not_read() -> None:
    head = _ebml(b"matroska")[:-3]
    assert ebml_doctype(head) is None
    assert sniff_container(head) is None


@pytest.mark.parametrize(
    "head",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 32,
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        b"GIF89a" + b"\x00" * 16,
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"OggS\x00\x02" + b"\x00" * 20,
        b"ID3\x03\x00\x00\x00\x00\x00\x00",
        b"fLaC\x00\x00\x00\x22",
        b"\x00\x00\x00",
        b"ftyp",
    ],
)
def test_other_formats_are_not_videos(head: bytes) -> None:
    assert sniff_container(head) is None
