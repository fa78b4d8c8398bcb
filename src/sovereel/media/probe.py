"""Probe an upload with ffprobe and decide whether it is a video we accept.

`parse_probe` is the pure core (ffprobe's JSON in, a verdict out); `probe_file` is the edge
that runs ffprobe. Every rejection is a `ProbeError` whose message is shown to the uploader.
"""

from __future__ import annotations

import json
import logging
import math
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from sovereel.media.inputs import ffprobe_command, input_args
from sovereel.media.sniff import file_ending, sniff_file, top_level_boxes

logger = logging.getLogger(__name__)

MIN_DIMENSION: Final = 64
MAX_DIMENSION: Final = 8192
MIN_DURATION_S: Final = 0.5
# A pixel aspect outside this range is a broken tag, not a real anamorphic format: it is ignored.
_SAR_RANGE: Final = (Fraction(1, 4), Fraction(4, 1))
_STDERR_DETAIL_CHARS: Final = 300
_TRUNCATED: Final = "video file unreadable: the file ends before its data does (incomplete upload?)"
# "[h264 @ 0x55d0c8a1e2c0] " prefixes carry memory addresses: never part of a message.
_LOG_PREFIX: Final = re.compile(r"\[[^\]]*@ 0x[0-9a-fA-F]+\]\s*")


@dataclass(frozen=True)
class ProbeResult:
    """What the pipeline needs to know about a video.

    width/height are display dimensions (the coded size stretched by the pixel aspect, then
    rotated); rotation is the clockwise turn a player applies to the coded frames (0, 90, 180 or
    270); format_name is ffprobe's. The colour fields are ffprobe's names (None when untagged);
    frame_rate is the average rate; audio_stream is the index, among audio streams, of the track
    players pick (the container's default); trailing_bytes counts ignored bytes after an MP4's
    last box.
    """

    duration_s: float
    width: int
    height: int
    rotation: int
    video_codec: str
    has_audio: bool
    audio_codec: str | None
    format_name: str
    color_transfer: str | None = None
    color_primaries: str | None = None
    color_matrix: str | None = None
    color_range: str | None = None
    frame_rate: float | None = None
    audio_stream: int = 0
    trailing_bytes: int = 0


class ProbeError(Exception):
    """An upload was rejected; `code` is machine-readable, `message` is a sentence for the uploader.

    `transient` marks a failure of ours (ffprobe could not run or timed out), not of the file:
    worth retrying. `detail` is technical text for the log, never shown to the uploader.
    """

    def __init__(self, code: str, message: str, *, transient: bool = False, detail: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient
        self.detail = detail


def probe_args(path: Path, container: str) -> list[str]:
    """Return the ffprobe command line that describes `path`, read as sniffed `container`, as JSON."""
    return ffprobe_command("-print_format", "json", "-show_streams", "-show_format", *input_args(path, container))


def parse_probe(data: dict[str, Any], *, max_duration_s: float) -> ProbeResult:
    """Turn ffprobe's JSON into a ProbeResult, or raise ProbeError saying why the video is refused."""
    streams: list[dict[str, Any]] = list(data.get("streams") or [])
    fmt: dict[str, Any] = dict(data.get("format") or {})
    video = next((s for s in streams if _is_video(s)), None)
    if video is None:
        raise ProbeError("no_video_stream", "The file has no video stream (is it audio only or an image?).")
    audio_streams = [s for s in streams if s.get("codec_type") == "audio"]
    audio_stream = _default_track(audio_streams)
    audio = audio_streams[audio_stream] if audio_streams else None

    coded_w = _as_int(video.get("width"))
    coded_h = _as_int(video.get("height"))
    if coded_w is None or coded_h is None:
        raise ProbeError("bad_dimensions", "The video's dimensions could not be read.")
    for side in (coded_w, coded_h):
        if not MIN_DIMENSION <= side <= MAX_DIMENSION:
            raise ProbeError(
                "bad_dimensions",
                f"The video is {coded_w}x{coded_h}; each side must be between {MIN_DIMENSION} "
                f"and {MAX_DIMENSION} pixels.",
            )
    rotation = stream_rotation(video)
    # Anamorphic video (1440x1080 shown 16:9) stores non-square pixels: the picture is as wide as
    # its pixels times their aspect. The stretch applies to the coded frame, before rotation.
    display_w = max(2, round(coded_w * sample_aspect(video)))
    width, height = (coded_h, display_w) if rotation in (90, 270) else (display_w, coded_h)

    duration = _duration(fmt, video)
    if duration is None:
        raise ProbeError("no_duration", "The video's duration could not be determined.")
    if duration > max_duration_s:
        raise ProbeError(
            "too_long",
            f"The video is {seconds_beyond(duration, max_duration_s)} s long; the limit is {max_duration_s:g} s.",
        )
    if duration < MIN_DURATION_S:
        raise ProbeError(
            "too_short",
            f"The video is {seconds_beyond(duration, MIN_DURATION_S)} s long; "
            f"it must be at least {MIN_DURATION_S:g} s.",
        )
    return ProbeResult(
        duration_s=duration,
        width=width,
        height=height,
        rotation=rotation,
        video_codec=str(video.get("codec_name") or "unknown"),
        has_audio=audio is not None,
        audio_codec=str(audio.get("codec_name") or "unknown") if audio is not None else None,
        format_name=str(fmt.get("format_name") or "unknown"),
        color_transfer=_tag(video.get("color_transfer")),
        color_primaries=_tag(video.get("color_primaries")),
        color_matrix=_tag(video.get("color_space")),
        color_range=_tag(video.get("color_range")),
        frame_rate=_rate(video.get("avg_frame_rate")),
        audio_stream=audio_stream,
    )


def seconds_beyond(value: float, limit: float) -> str:
    """Format `value` seconds with the fewest decimals (1 to 3) that do not make it look equal to `limit`."""
    # 180.02 s against a 180 s limit must not read "180.0 s long; the limit is 180 s".
    for digits in (1, 2, 3):
        shown = f"{value:.{digits}f}"
        if float(shown) != limit and (float(shown) > limit) == (value > limit):
            return shown
    step = 1000
    nudged = math.ceil(value * step) / step if value > limit else math.floor(value * step) / step
    return f"{nudged:.3f}"


def sample_aspect(stream: dict[str, Any]) -> Fraction:
    """Return the stream's pixel aspect (width of a pixel over its height); 1 when absent or implausible."""
    raw = stream.get("sample_aspect_ratio")
    if not isinstance(raw, str) or ":" not in raw:
        return Fraction(1)
    num, _, den = raw.partition(":")
    try:
        ratio = Fraction(int(num), int(den))
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    return ratio if _SAR_RANGE[0] <= ratio <= _SAR_RANGE[1] else Fraction(1)


def stream_rotation(stream: dict[str, Any]) -> int:
    """Return the clockwise rotation a player applies to this stream, normalised to 0, 90, 180 or 270."""
    # Newer ffprobe reports the Display Matrix as side data whose `rotation` is counter-clockwise
    # (an iPhone portrait clip shows -90); older ffprobe exposes the legacy clockwise `rotate` tag.
    # The side data is what the decoder actually applies, so it wins when both are present.
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            degrees = _as_float(side.get("rotation"))
            if degrees is not None:
                return _quarter_turns(-degrees)
    tags = stream.get("tags") or {}
    degrees = _as_float(tags.get("rotate"))
    return _quarter_turns(degrees) if degrees is not None else 0


def probe_file(
    path: Path, *, max_duration_s: float, container: str | None = None, timeout_s: float = 30
) -> ProbeResult:
    """Run ffprobe on `path`, read as `container` (sniffed from the file when None); return its ProbeResult."""
    if container is None:
        # Re-sniffing is cheap and exact; a file that is no container we accept never reaches ffprobe.
        try:
            container = sniff_file(path)
        except OSError as exc:
            raise ProbeError("unreadable", f"video file unreadable: {exc.strerror}") from exc
        if container is None:
            raise ProbeError("unreadable", "video file unreadable: not an MP4, MOV, WebM or MKV container")
    try:
        completed = subprocess.run(probe_args(path, container), capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ProbeError(
            "unreadable", "The video could not be checked in time; please try again.", transient=True
        ) from None
    except OSError as exc:
        raise ProbeError(
            "unreadable",
            "The video could not be checked just now; please try again.",
            transient=True,
            detail=f"could not run ffprobe ({exc.strerror})",
        ) from exc
    if completed.returncode != 0:
        detail = _detail(completed.stderr, path)
        logger.info("ffprobe refused %s: %s", path.name, detail)
        if container in ("mp4", "mov") and _ending(path)[0] == "truncated":
            # A moov-at-end file cut short loses its index: say it is incomplete, not damaged.
            raise ProbeError("unreadable", _TRUNCATED, detail=detail)
        raise ProbeError("unreadable", "video file unreadable: it is damaged or not a complete video.", detail=detail)
    try:
        data = json.loads(completed.stdout)
    except ValueError:
        raise ProbeError("unreadable", "video file unreadable: ffprobe gave no description") from None
    if not isinstance(data, dict) or not data.get("format"):
        raise ProbeError("unreadable", "video file unreadable: no container format recognised")
    result = parse_probe(data, max_duration_s=max_duration_s)
    if not _is_iso_bmff(result.format_name):
        return result
    # ffprobe reads only the index: an MP4 whose `moov` came first but whose media data was cut
    # off still "probes" fine, so check that the boxes really fit in the file. Bytes after the
    # last whole box that are no box at all (an editor's padding, a stray write) are harmless.
    state, extra = _ending(path)
    if state == "truncated":
        raise ProbeError("unreadable", _TRUNCATED, detail=f"{extra} bytes are missing or the last box is cut off")
    if state == "trailing":
        logger.info("%s: %d trailing bytes ignored", path.name, extra)
        return ProbeResult(**{**result.__dict__, "trailing_bytes": extra})
    return result


def _is_video(stream: dict[str, Any]) -> bool:
    # Cover art in MP4/MKV/MP3 is a one-frame "video" stream flagged attached_pic; it is no video.
    disposition = stream.get("disposition") or {}
    return stream.get("codec_type") == "video" and not disposition.get("attached_pic")


def _ending(path: Path) -> tuple[str, int]:
    return file_ending(top_level_boxes(path), path.stat().st_size)


def _default_track(streams: list[dict[str, Any]]) -> int:
    # Players pick the track the container marks default; the first one when none (or all) are.
    for index, stream in enumerate(streams):
        if (stream.get("disposition") or {}).get("default"):
            return index
    return 0


def _tag(raw: object) -> str | None:
    if not isinstance(raw, str) or raw in ("", "unknown", "unspecified", "reserved"):
        return None
    return raw


def _rate(raw: object) -> float | None:
    if not isinstance(raw, str) or "/" not in raw:
        return None
    num, _, den = raw.partition("/")
    try:
        value = Fraction(int(num), int(den))
    except (ValueError, ZeroDivisionError):
        return None
    return float(value) if value > 0 else None


def _duration(fmt: dict[str, Any], video: dict[str, Any]) -> float | None:
    # Matroska streams carry no per-stream duration, MP4 edits can make the container's longer;
    # the container value is what players show, the stream value is the fallback.
    for raw in (fmt.get("duration"), video.get("duration")):
        value = _as_float(raw)
        if value is not None and value > 0:
            return value
    return None


def _quarter_turns(degrees: float) -> int:
    return (round(degrees / 90) * 90) % 360


def _as_float(raw: object) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _as_int(raw: object) -> int | None:
    value = _as_float(raw)
    return int(value) if value is not None else None


def _is_iso_bmff(format_name: str) -> bool:
    return bool({"mov", "mp4"} & set(format_name.split(",")))


def _detail(stderr: bytes, path: Path) -> str:
    # For the log and the job row only; still without the server path or memory addresses.
    text = _LOG_PREFIX.sub("", stderr.decode("utf-8", errors="replace").replace(str(path), "input"))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = "; ".join(lines[-3:]) or "ffprobe failed without a message"
    return text[:_STDERR_DETAIL_CHARS]
