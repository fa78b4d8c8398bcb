"""Build ffmpeg command lines for renditions and posters. Pure: no subprocess, no file access.

Keeping argument building pure lets the tests pin down exactly what we ask ffmpeg for, and lets
the worker log the command it is about to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sovereel.media.probe import ProbeResult

RENDITIONS: Final[dict[str, int]] = {"720": 720, "360": 360}
"""Rendition name -> length of its short side in pixels (720x1280 portrait, 1280x720 landscape)."""

AUDIO_SAMPLE_RATE: Final = 48000
KEYFRAME_INTERVAL_S: Final = 2
_BASE_ARGS: Final = ("ffmpeg", "-y", "-nostdin", "-hide_banner", "-loglevel", "error")


@dataclass(frozen=True)
class RenditionQuality:
    """Encoder targets of one rendition: x264 CRF, a VBV cap on peaks, and the AAC bitrate."""

    crf: int
    maxrate_kbps: int
    audio_kbps: int


QUALITY: Final[dict[str, RenditionQuality]] = {
    "720": RenditionQuality(crf=23, maxrate_kbps=2500, audio_kbps=128),
    "360": RenditionQuality(crf=26, maxrate_kbps=800, audio_kbps=96),
}


def rendition_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Scale (width, height) so the short side is `short_side`, never upscaling; both results even."""
    if width <= 0 or height <= 0 or short_side <= 0:
        raise ValueError(f"sizes must be positive, got {width}x{height} -> {short_side}")
    source_short = min(width, height)
    if source_short <= short_side:
        # Smaller than the target: keep the source size; H.264 4:2:0 still needs even sides.
        return _even_floor(width), _even_floor(height)
    scale = short_side / source_short
    if width <= height:
        return _even_floor(short_side), _even_round(height * scale)
    return _even_round(width * scale), _even_floor(short_side)


def transcode_args(src: Path, out: dict[str, Path], probe: ProbeResult, *, preset: str, threads: int) -> list[str]:
    """Return one ffmpeg command that encodes every rendition in `out` (name -> path) as H.264/AAC MP4."""
    if not out:
        raise ValueError("at least one rendition is required")
    unknown = sorted(set(out) - set(RENDITIONS))
    if unknown:
        raise ValueError(f"unknown renditions: {', '.join(unknown)}")
    args = list(_BASE_ARGS)
    thread_args = ["-threads", str(threads)] if threads > 0 else []
    # Decoding threads belong before -i; encoder threads are per output below.
    args += [*thread_args, "-i", str(src)]
    if probe.has_audio:
        audio_map = "0:a:0"
    else:
        # Every rendition carries AAC even for silent sources: some players (and MSE) stall on
        # video-only MP4s, and the web player can then treat all renditions alike.
        args += ["-f", "lavfi", "-t", f"{probe.duration_s:.3f}", "-i", _silence()]
        audio_map = "1:a:0"
    if threads > 0:
        args += ["-filter_complex_threads", str(threads)]
    args += ["-filter_complex", _split_and_scale(out, probe)]
    for index, (name, path) in enumerate(out.items()):
        quality = QUALITY[name]
        args += ["-map", f"[v{index}]", "-map", audio_map]
        args += [*_video_codec_args(quality, preset), *thread_args]
        args += ["-c:a", "aac", "-b:a", f"{quality.audio_kbps}k", "-ac", "2", "-ar", str(AUDIO_SAMPLE_RATE)]
        args += [*_container_args(), str(path)]
    return args


def poster_time(duration_s: float) -> float:
    """Return where to take the poster frame: one second in, or a third of the way for short clips."""
    return min(1.0, duration_s / 3)


def poster_args(src: Path, out: Path, at_s: float, width: int) -> list[str]:
    """Return an ffmpeg command writing one JPEG frame of `src` at `at_s` seconds, `width` pixels wide."""
    return [
        *_BASE_ARGS,
        # -ss before -i seeks by keyframe then decodes forward: fast and frame-accurate.
        "-ss",
        f"{max(at_s, 0.0):.3f}",
        "-i",
        str(src),
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-vf",
        f"scale={_even_floor(width)}:-2:flags=bicubic",
        "-q:v",
        "3",
        "-map_metadata",
        "-1",
        "-c:v",
        "mjpeg",
        "-f",
        "image2",
        "-update",
        "1",
        str(out),
    ]


def _split_and_scale(out: dict[str, Path], probe: ProbeResult) -> str:
    # ffmpeg autorotates on decode, so [0:v:0] already has the display orientation and
    # the probe's display dimensions are the right ones to scale from.
    labels = "".join(f"[s{i}]" for i in range(len(out)))
    chains = [f"[0:v:0]split={len(out)}{labels}"]
    for index, name in enumerate(out):
        w, h = rendition_size(probe.width, probe.height, RENDITIONS[name])
        chains.append(f"[s{index}]scale={w}:{h}:flags=bicubic,setsar=1,format=yuv420p[v{index}]")
    return ";".join(chains)


def _video_codec_args(quality: RenditionQuality, preset: str) -> list[str]:
    return [
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-crf",
        str(quality.crf),
        # CRF alone lets busy scenes spike; a VBV cap keeps mobile playback from stalling.
        "-maxrate",
        f"{quality.maxrate_kbps}k",
        "-bufsize",
        f"{quality.maxrate_kbps * 2}k",
        # Regular keyframes make seeking and feed preloading land quickly whatever the frame rate.
        "-force_key_frames",
        f"expr:gte(t,n_forced*{KEYFRAME_INTERVAL_S})",
    ]


def _container_args() -> list[str]:
    return [
        # Drop the source's global tags and chapters: phone clips carry GPS location in them.
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        # Frames are already upright; make sure no rotation flag survives to rotate them twice.
        "-metadata:s:v:0",
        "rotate=0",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
    ]


def _silence() -> str:
    return f"anullsrc=channel_layout=stereo:sample_rate={AUDIO_SAMPLE_RATE}"


def _even_floor(value: int) -> int:
    return max(2, value - value % 2)


def _even_round(value: float) -> int:
    return max(2, round(value / 2) * 2)
