"""The one place that says how ffmpeg and ffprobe open a stored file. Pure: no subprocess.

Left to itself ffmpeg guesses an input's format from its bytes, and some formats it may guess
(HLS and DASH playlists, the concat script, image sequences) open other files or URLs. A text
file whose bytes pass a loose sniff could then be read as a playlist naming someone else's video.
So every stored file is opened with its demuxer forced to the kind our own sniffer found, that
demuxer as the only one allowed (nested opens included), and the `file` protocol as the only
protocol. Every ffmpeg/ffprobe command in the package is built here (tests/security/
test_media_inputs.py holds that), so no call site can forget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

FFMPEG: Final = "ffmpeg"
FFPROBE: Final = "ffprobe"
FPCALC: Final = "fpcalc"

DEMUXERS: Final[dict[str, str]] = {
    # Sniffed video containers (sniff.sniff_container).
    "mp4": "mov",
    "mov": "mov",
    "webm": "matroska",
    "mkv": "matroska",
    # Sniffed still images (sniff.sniff_image): the single-image pipe demuxers, never `image2`,
    # which expands `%d` patterns and globs in the name.
    "jpeg": "jpeg_pipe",
    "png": "png_pipe",
    "webp": "webp_pipe",
}
"""Sniffed kind -> the ffmpeg demuxer that must read it."""

# Demuxer options that keep a format from reaching outside its file. MOV can point at media in
# other files through `dref` atoms; ffmpeg ignores them by default, and we say so explicitly.
_DEMUXER_OPTIONS: Final[dict[str, tuple[str, ...]]] = {"mov": ("-enable_drefs", "0", "-use_absolute_path", "0")}

_FFMPEG_BASE: Final = (FFMPEG, "-y", "-nostdin", "-hide_banner", "-loglevel", "error")
_FFPROBE_BASE: Final = (FFPROBE, "-v", "error")


class UnknownKind(ValueError):
    """A file kind no demuxer is pinned for: the file must not be handed to ffmpeg."""


def demuxer_for(kind: str) -> str:
    """Return the demuxer that reads a file of sniffed `kind`, or raise UnknownKind."""
    try:
        return DEMUXERS[kind]
    except KeyError:
        raise UnknownKind(f"no demuxer is pinned for {kind!r}") from None


def input_args(path: Path, kind: str, *before: str) -> list[str]:
    """Return the arguments that open `path` as sniffed `kind` and nothing else; `before` are extra input options."""
    demuxer = demuxer_for(kind)
    return [
        *before,
        "-f",
        demuxer,
        "-format_whitelist",
        demuxer,
        "-protocol_whitelist",
        "file",
        *_DEMUXER_OPTIONS.get(demuxer, ()),
        "-i",
        # The explicit protocol keeps a name containing ':' from being read as another protocol.
        f"file:{path}",
    ]


def lavfi_input_args(graph: str, *before: str) -> list[str]:
    """Return the arguments of a generated input (a filter graph we wrote, never user text)."""
    return [*before, "-f", "lavfi", "-i", graph]


def ffmpeg_command(*args: str) -> list[str]:
    """Return an ffmpeg command line: quiet, non-interactive, overwriting outputs, then `args`."""
    return [*_FFMPEG_BASE, *args]


def ffprobe_command(*args: str) -> list[str]:
    """Return an ffprobe command line reporting errors only, then `args`."""
    return [*_FFPROBE_BASE, *args]


def fpcalc_command(path: Path) -> list[str]:
    """Return a Chromaprint `fpcalc` command printing the raw fingerprint of `path` as JSON.

    fpcalc cannot pin a demuxer, so it is only ever given an audio file we wrote ourselves (the sound track
    copied out of a verified rendition), never an upload.
    """
    return [FPCALC, "-raw", "-json", "-length", "120", f"file:{path}"]
