"""Probe an upload with ffprobe and decide whether it is a video we accept.

`parse_probe` is the pure core (ffprobe's JSON in, a verdict out); `probe_file` is the edge
that runs ffprobe. Every rejection is a `ProbeError` whose message is shown to the uploader.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sovereel.media.sniff import is_truncated, top_level_boxes

MIN_DIMENSION: Final = 64
MAX_DIMENSION: Final = 8192
MIN_DURATION_S: Final = 0.5
_STDERR_DETAIL_CHARS: Final = 300


@dataclass(frozen=True)
class ProbeResult:
    """What the pipeline needs to know about a video.

    width/height are display dimensions (after rotation); rotation is the clockwise turn a
    player applies to the coded frames (0, 90, 180 or 270); format_name is ffprobe's.
    """

    duration_s: float
    width: int
    height: int
    rotation: int
    video_codec: str
    has_audio: bool
    audio_codec: str | None
    format_name: str


class ProbeError(Exception):
    """An upload was rejected; `code` is machine-readable, `message` is a sentence for the uploader."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def probe_args(path: Path) -> list[str]:
    """Return the ffprobe command line that describes `path` as JSON."""
    return ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)]


def parse_probe(data: dict[str, Any], *, max_duration_s: float) -> ProbeResult:
    """Turn ffprobe's JSON into a ProbeResult, or raise ProbeError saying why the video is refused."""
    streams: list[dict[str, Any]] = list(data.get("streams") or [])
    fmt: dict[str, Any] = dict(data.get("format") or {})
    video = next((s for s in streams if _is_video(s)), None)
    if video is None:
        raise ProbeError("no_video_stream", "The file has no video stream (is it audio only or an image?).")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)

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
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)

    duration = _duration(fmt, video)
    if duration is None:
        raise ProbeError("no_duration", "The video's duration could not be determined.")
    if duration > max_duration_s:
        raise ProbeError(
            "too_long",
            f"The video is {duration:.1f} s long; the limit is {max_duration_s:g} s.",
        )
    if duration < MIN_DURATION_S:
        raise ProbeError(
            "too_short",
            f"The video is {duration:.2f} s long; it must be at least {MIN_DURATION_S:g} s.",
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
    )


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


def probe_file(path: Path, *, max_duration_s: float, timeout_s: float = 30) -> ProbeResult:
    """Run ffprobe on `path` and return its ProbeResult, or raise ProbeError."""
    try:
        completed = subprocess.run(probe_args(path), capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ProbeError("unreadable", f"video file unreadable: ffprobe took longer than {timeout_s:g} s") from None
    except OSError as exc:
        raise ProbeError("unreadable", f"video file unreadable: could not run ffprobe ({exc.strerror})") from exc
    if completed.returncode != 0:
        raise ProbeError("unreadable", f"video file unreadable: {_detail(completed.stderr, path)}")
    try:
        data = json.loads(completed.stdout)
    except ValueError:
        raise ProbeError("unreadable", "video file unreadable: ffprobe gave no description") from None
    if not isinstance(data, dict) or not data.get("format"):
        raise ProbeError("unreadable", "video file unreadable: no container format recognised")
    result = parse_probe(data, max_duration_s=max_duration_s)
    # ffprobe reads only the index: an MP4 whose `moov` came first but whose media data was cut
    # off still "probes" fine, so check that the last box really fits in the file.
    if _is_iso_bmff(result.format_name) and is_truncated(top_level_boxes(path)):
        raise ProbeError("unreadable", "video file unreadable: the file is truncated (incomplete upload?)")
    return result


def _is_video(stream: dict[str, Any]) -> bool:
    # Cover art in MP4/MKV/MP3 is a one-frame "video" stream flagged attached_pic; it is no video.
    disposition = stream.get("disposition") or {}
    return stream.get("codec_type") == "video" and not disposition.get("attached_pic")


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
    # The uploader sees this text: never show them where the file sits on the server.
    text = stderr.decode("utf-8", errors="replace").replace(str(path), "input")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = "; ".join(lines[-3:]) or "ffprobe failed without a message"
    return text[:_STDERR_DETAIL_CHARS]
