"""Transcode a probed upload into verified H.264/AAC MP4 renditions and a JPEG poster.

Outputs are written under temporary names and renamed to their final names only once every
one of them has been probed and checked, so a crash or a failed check never leaves a
half-written file where the web server would serve it.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sovereel.media.ffmpeg_args import RENDITIONS, poster_args, poster_time, rendition_size, transcode_args
from sovereel.media.probe import ProbeError, ProbeResult, probe_file
from sovereel.media.sniff import is_faststart, top_level_boxes

logger = logging.getLogger(__name__)

DURATION_TOLERANCE_S: Final = 0.5
POSTER_NAME: Final = "poster.jpg"
_JPEG_MAGIC: Final = b"\xff\xd8\xff"
_REASON_CHARS: Final = 400


@dataclass(frozen=True)
class RenditionFile:
    """One verified rendition on disk."""

    name: str
    path: Path
    width: int
    height: int
    bytes: int
    bitrate_kbps: int


@dataclass(frozen=True)
class TranscodeResult:
    """Every rendition of one upload (by name), its poster, and the source duration."""

    renditions: dict[str, RenditionFile]
    poster: Path
    duration_s: float


class TranscodeError(Exception):
    """A transcode failed or produced an output that did not verify; `reason` is short human text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def rendition_path(workdir: Path, name: str) -> Path:
    """Return the final path of rendition `name` inside `workdir`."""
    return workdir / f"{name}.mp4"


def transcode(
    src: Path,
    workdir: Path,
    probe: ProbeResult,
    *,
    preset: str = "veryfast",
    threads: int = 0,
    timeout_s: float = 900,
) -> TranscodeResult:
    """Encode every rendition and the poster of `src` into `workdir`, verify them, then publish them."""
    workdir.mkdir(parents=True, exist_ok=True)
    finals = {name: rendition_path(workdir, name) for name in RENDITIONS}
    # Hidden names with a non-media suffix: nothing that lists or serves the folder picks them up.
    temps = {name: workdir / f".{name}.mp4.partial" for name in RENDITIONS}
    poster_final = workdir / POSTER_NAME
    poster_temp = workdir / f".{POSTER_NAME}.partial"
    deadline = time.monotonic() + timeout_s
    redact = (src, workdir)
    try:
        started = time.monotonic()
        _run_ffmpeg(transcode_args(src, temps, probe, preset=preset, threads=threads), deadline, redact)
        logger.info("transcode %s: encoded %d renditions in %.2f s", src.name, len(temps), time.monotonic() - started)

        started = time.monotonic()
        poster_width, _ = rendition_size(probe.width, probe.height, max(RENDITIONS.values()))
        _run_ffmpeg(poster_args(src, poster_temp, poster_time(probe.duration_s), poster_width), deadline, redact)
        if not poster_temp.is_file() or poster_temp.stat().st_size == 0:
            # The seek landed past the last video frame (the container's duration counts a longer
            # audio track): ffmpeg then writes nothing and still exits 0. The first frame will do.
            _run_ffmpeg(poster_args(src, poster_temp, 0.0, poster_width), deadline, redact)
        _verify_poster(poster_temp)
        logger.info("transcode %s: poster in %.2f s", src.name, time.monotonic() - started)

        started = time.monotonic()
        renditions: dict[str, RenditionFile] = {}
        # ffprobe runs are mostly process start-up: check the renditions side by side.
        with ThreadPoolExecutor(max_workers=len(temps)) as pool:
            checks = dict(zip(temps, pool.map(lambda p: _verify(p, probe.duration_s), temps.values()), strict=True))
        for name, temp in temps.items():
            checked = checks[name]
            expected = rendition_size(probe.width, probe.height, RENDITIONS[name])
            if (checked.width, checked.height) != expected:
                raise TranscodeError(
                    f"rendition {name} is {checked.width}x{checked.height}, expected {expected[0]}x{expected[1]}"
                )
            size = temp.stat().st_size
            renditions[name] = RenditionFile(
                name=name,
                path=finals[name],
                width=checked.width,
                height=checked.height,
                bytes=size,
                bitrate_kbps=round(size * 8 / checked.duration_s / 1000),
            )
        logger.info("transcode %s: verified in %.2f s", src.name, time.monotonic() - started)

        # Renditions first, poster last: a reader that sees the poster can rely on the videos.
        for name, temp in temps.items():
            os.replace(temp, finals[name])
        os.replace(poster_temp, poster_final)
    finally:
        for leftover in (*temps.values(), poster_temp):
            leftover.unlink(missing_ok=True)
    return TranscodeResult(renditions=renditions, poster=poster_final, duration_s=probe.duration_s)


def verify_rendition(path: Path, *, source_duration_s: float | None = None) -> None:
    """Raise TranscodeError unless `path` is a faststart H.264/AAC MP4 lasting about `source_duration_s`."""
    _verify(path, source_duration_s)


def _verify(path: Path, source_duration_s: float | None) -> ProbeResult:
    try:
        # The duration limit applies to uploads, not to our own outputs.
        checked = probe_file(path, max_duration_s=math.inf)
    except ProbeError as exc:
        raise TranscodeError(f"{path.name}: {exc.message}") from exc
    if checked.video_codec != "h264":
        raise TranscodeError(f"{path.name}: video codec is {checked.video_codec}, expected h264")
    if checked.audio_codec != "aac":
        raise TranscodeError(f"{path.name}: audio codec is {checked.audio_codec or 'missing'}, expected aac")
    if source_duration_s is not None and abs(checked.duration_s - source_duration_s) > DURATION_TOLERANCE_S:
        raise TranscodeError(
            f"{path.name}: lasts {checked.duration_s:.2f} s but the source lasts {source_duration_s:.2f} s"
        )
    if checked.rotation != 0:
        raise TranscodeError(f"{path.name}: still carries a {checked.rotation}° rotation flag")
    if not is_faststart(top_level_boxes(path)):
        raise TranscodeError(f"{path.name}: not faststart (moov atom does not precede mdat)")
    return checked


def _verify_poster(path: Path) -> None:
    try:
        with path.open("rb") as stream:
            head = stream.read(len(_JPEG_MAGIC))
    except OSError as exc:
        raise TranscodeError(f"poster was not written ({exc.strerror})") from exc
    if head != _JPEG_MAGIC:
        raise TranscodeError("poster is not a JPEG image")


def _run_ffmpeg(args: list[str], deadline: float, redact: tuple[Path, ...]) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TranscodeError("transcode ran out of time")
    try:
        completed = subprocess.run(args, capture_output=True, timeout=remaining, check=False)
    except subprocess.TimeoutExpired:
        # subprocess.run has already killed ffmpeg; the partial outputs are removed by the caller.
        raise TranscodeError(f"ffmpeg took longer than the {remaining:.0f} s left for this job") from None
    except OSError as exc:
        raise TranscodeError(f"could not run ffmpeg ({exc.strerror})") from exc
    if completed.returncode != 0:
        raise TranscodeError(_stderr_reason(completed.stderr, completed.returncode, redact))


def _stderr_reason(stderr: bytes, returncode: int, redact: tuple[Path, ...]) -> str:
    # Uploaders see this: keep the last few lines, and never a server-side path.
    text = stderr.decode("utf-8", errors="replace")
    for path in redact:
        text = text.replace(str(path), path.name)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    tail = "; ".join(lines[-3:]) or "no message"
    return f"ffmpeg failed (exit {returncode}): {tail}"[:_REASON_CHARS]
