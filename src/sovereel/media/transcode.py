"""Transcode a probed upload into verified H.264/AAC MP4 renditions and a JPEG poster.

Outputs are written under temporary names and renamed to their final names only once every
one of them has been probed and checked, so a crash or a failed check never leaves a
half-written file where the web server would serve it.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sovereel.media.ffmpeg_args import (
    POSTER_SHORT_SIDE,
    RENDITIONS,
    is_hdr,
    poster_args,
    poster_time,
    rendition_size,
    renditions_for,
    transcode_args,
)
from sovereel.media.probe import ProbeError, ProbeResult, probe_file
from sovereel.media.sniff import is_faststart, sniff_file, top_level_boxes
from sovereel.media.sounds import ChosenSound

logger = logging.getLogger(__name__)

DURATION_TOLERANCE_S: Final = 0.5
POSTER_NAME: Final = "poster.jpg"
_JPEG_MAGIC: Final = b"\xff\xd8\xff"
_DETAIL_CHARS: Final = 2000

DAMAGED: Final = "This video could not be decoded: the file is damaged. Try exporting it again from your phone."
UNSUPPORTED: Final = "This video uses a format we cannot convert. Try exporting it again as H.264 or HEVC."
TRY_LATER: Final = "The video could not be processed just now; it will be tried again."
# What ffmpeg says about an input that will fail the same way every time: the file is damaged or
# unsupported. Anything else (killed, no disk, no memory) is ours and worth another attempt.
_DAMAGED_SIGNS: Final = re.compile(
    r"invalid data found|error while decoding|decode_slice|corrupt|invalid nal|missing picture|"
    r"moov atom not found|error splitting the input|could not find codec parameters|"
    r"no frame|invalid argument|end of file|truncat|non-existing pps|illegal|overread",
    re.IGNORECASE,
)
_UNSUPPORTED_SIGNS: Final = re.compile(r"decoder .* not found|unsupported codec|not implemented", re.IGNORECASE)
_OUR_SIDE_SIGNS: Final = re.compile(
    r"no space left|cannot allocate memory|out of memory|resource temporarily unavailable|too many open files",
    re.IGNORECASE,
)


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
    """A transcode failed or produced an output that did not verify.

    `reason` is a sentence for the uploader; `detail` is the technical account (ffmpeg's stderr)
    for the log and the job row; `transient` says whether another attempt may succeed.
    """

    def __init__(self, reason: str, *, detail: str | None = None, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or reason
        self.transient = transient


def rendition_path(workdir: Path, name: str) -> Path:
    """Return the final path of rendition `name` inside `workdir`."""
    return workdir / f"{name}.mp4"


def transcode(
    src: Path,
    workdir: Path,
    probe: ProbeResult,
    *,
    container: str | None = None,
    preset: str = "veryfast",
    threads: int = 0,
    timeout_s: float = 900,
    sound: ChosenSound | None = None,
) -> TranscodeResult:
    """Encode every rendition and the poster of `src` (a sniffed `container`, or sniffed now) into `workdir`.

    With a chosen `sound` the renditions carry it (mixed with or replacing the source's audio)."""
    if container is None:
        try:
            container = sniff_file(src)
        except OSError as exc:
            raise TranscodeError(f"the source could not be read ({exc.strerror})") from exc
        if container is None:
            raise TranscodeError("the source is not an MP4, MOV, WebM or MKV container")
    workdir.mkdir(parents=True, exist_ok=True)
    names = renditions_for(probe.width, probe.height)
    finals = {name: rendition_path(workdir, name) for name in names}
    # Hidden names with a non-media suffix: nothing that lists or serves the folder picks them up.
    temps = {name: workdir / f".{name}.mp4.partial" for name in names}
    poster_final = workdir / POSTER_NAME
    poster_temp = workdir / f".{POSTER_NAME}.partial"
    deadline = time.monotonic() + timeout_s
    redact = (src, workdir)
    try:
        started = time.monotonic()
        _run_ffmpeg(
            transcode_args(src, temps, probe, container=container, preset=preset, threads=threads, sound=sound),
            deadline,
            redact,
        )
        logger.info(
            "transcode %s: encoded %d renditions%s in %.2f s",
            src.name,
            len(temps),
            " (HDR tone-mapped)" if is_hdr(probe) else "",
            time.monotonic() - started,
        )

        started = time.monotonic()
        poster_width, _ = rendition_size(probe.width, probe.height, POSTER_SHORT_SIDE)
        at_s = poster_time(probe.duration_s)
        _run_ffmpeg(
            poster_args(src, poster_temp, at_s, poster_width, container=container, probe=probe), deadline, redact
        )
        if not poster_temp.is_file() or poster_temp.stat().st_size == 0:
            # The seek landed past the last video frame (the container's duration counts a longer
            # audio track): ffmpeg then writes nothing and still exits 0. The first frame will do.
            _run_ffmpeg(
                poster_args(src, poster_temp, 0.0, poster_width, container=container, probe=probe), deadline, redact
            )
        _verify_poster(poster_temp)
        logger.info("transcode %s: poster in %.2f s", src.name, time.monotonic() - started)

        started = time.monotonic()
        renditions: dict[str, RenditionFile] = {}
        # ffprobe runs are mostly process start-up: check the renditions side by side.
        with ThreadPoolExecutor(max_workers=len(temps)) as pool:
            checked_all = pool.map(lambda p: verify_rendition(p, probe.duration_s), temps.values())
            checks = dict(zip(temps, checked_all, strict=True))
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


def verify_rendition(path: Path, source_duration_s: float | None = None) -> ProbeResult:
    """Raise TranscodeError unless `path` is a faststart H.264/AAC MP4 lasting about `source_duration_s`."""
    try:
        # The duration limit applies to uploads, not to our own outputs.
        checked = probe_file(path, max_duration_s=math.inf)
    except ProbeError as exc:
        raise TranscodeError(f"{path.name}: {exc.message}", detail=exc.detail, transient=exc.transient) from exc
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
        raise TranscodeError(TRY_LATER, detail="transcode ran out of time", transient=True)
    try:
        completed = subprocess.run(args, capture_output=True, timeout=remaining, check=False)
    except subprocess.TimeoutExpired:
        # subprocess.run has already killed ffmpeg; the partial outputs are removed by the caller.
        raise TranscodeError(
            TRY_LATER, detail=f"ffmpeg took longer than the {remaining:.0f} s left for this job", transient=True
        ) from None
    except OSError as exc:
        raise TranscodeError(TRY_LATER, detail=f"could not run ffmpeg ({exc.strerror})", transient=True) from exc
    if completed.returncode != 0:
        raise ffmpeg_failure(completed.stderr, completed.returncode, redact)


def ffmpeg_failure(stderr: bytes, returncode: int, redact: tuple[Path, ...] = ()) -> TranscodeError:
    """Classify a failed ffmpeg run: damaged or unsupported input (final) or trouble on our side (retried)."""
    text = stderr.decode("utf-8", errors="replace")
    for path in redact:
        text = text.replace(str(path), path.name)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = f"ffmpeg failed (exit {returncode}): {'; '.join(lines[-6:]) or 'no message'}"[:_DETAIL_CHARS]
    # A negative code is a signal (killed: out of memory, shutdown); 137 is the same through a shell.
    if returncode < 0 or returncode in (137, 143) or _OUR_SIDE_SIGNS.search(text):
        return TranscodeError(TRY_LATER, detail=detail, transient=True)
    if _UNSUPPORTED_SIGNS.search(text):
        return TranscodeError(UNSUPPORTED, detail=detail)
    if _DAMAGED_SIGNS.search(text) or returncode == 69:  # 69: ffmpeg's "too many decoding errors"
        return TranscodeError(DAMAGED, detail=detail)
    # An exit we cannot read: retry, in case it was ours; the attempt limit bounds the cost.
    return TranscodeError(TRY_LATER, detail=detail, transient=True)
