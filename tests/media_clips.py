"""Make tiny real media files with ffmpeg for the media tests (no mocks: the pipeline sees real files)."""

from __future__ import annotations

import subprocess
from pathlib import Path

_X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
_VIDEO_CODECS: dict[str, list[str]] = {
    "mp4": _X264,
    "mov": _X264,
    "mkv": _X264,
    # VP8 realtime is the cheapest WebM video encoder.
    "webm": ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"],
}
_AUDIO_CODECS = {"mp4": "aac", "mov": "aac", "mkv": "aac", "webm": "libopus"}
_MUXERS = {"mp4": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm"}


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly, failing the test with its stderr if it fails."""
    cmd = ["ffmpeg", "-y", "-nostdin", "-hide_banner", "-loglevel", "error", *args]
    completed = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, f"{' '.join(cmd)}\n{completed.stderr}"


def make_clip(
    path: Path,
    *,
    width: int = 160,
    height: int = 288,
    duration_s: float = 1.0,
    audio: bool = True,
    rotate: int | None = None,
    container: str = "mp4",
    faststart: bool = False,
) -> Path:
    """Write a small test-pattern clip (with a 440 Hz tone unless audio=False) and return its path."""
    inputs = ["-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r=24:d={duration_s}"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={duration_s}"]
    codecs = [*_VIDEO_CODECS[container], *(["-c:a", _AUDIO_CODECS[container]] if audio else [])]
    flags = ["-movflags", "+faststart"] if faststart else []
    target = path if rotate is None else path.with_name(f"unrotated-{path.name}")
    ffmpeg(*inputs, *codecs, *flags, "-f", _MUXERS[container], str(target))
    if rotate is not None:
        # ffmpeg 5.1 has no -display_rotation; it turns the legacy `rotate` tag into a display
        # matrix only when stream-copying, so rotation is a second, lossless pass.
        ffmpeg("-i", str(target), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", *flags, str(path))
        target.unlink()
    return path


def make_audio_only(path: Path, *, duration_s: float = 1.0) -> Path:
    """Write an AAC-in-MP4 audio file (.m4a) or an MP3, chosen by the path's suffix."""
    codec = ["-c:a", "libmp3lame"] if path.suffix == ".mp3" else ["-c:a", "aac"]
    ffmpeg("-f", "lavfi", "-i", f"sine=f=440:sample_rate=44100:d={duration_s}", *codec, str(path))
    return path
