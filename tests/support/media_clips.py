"""Make tiny real media files with ffmpeg for the media tests (no mocks: the pipeline sees real files)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from sovereel.media.sniff import top_level_boxes

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


PATTERN = "testsrc2=s={w}x{h}:r={r}:d={d}"
"""The lavfi source every generated clip shows, so a test can rebuild the SDR picture it started from."""


def make_bt709_clip(path: Path, *, width: int = 320, height: int = 180, duration_s: float = 1.0) -> Path:
    """Write PATTERN as SDR BT.709 (converted with the BT.709 matrix and tagged so), as an HD phone clip is."""
    ffmpeg(
        "-f", "lavfi", "-i", PATTERN.format(w=width, h=height, r=24, d=duration_s),
        "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p", *_X264,
        "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv", str(path),
    )  # fmt: skip
    return path


def make_hdr_clip(
    path: Path, *, transfer: str = "arib-std-b67", width: int = 320, height: int = 180, duration_s: float = 1.0
) -> Path:
    """Write a 10-bit HEVC BT.2020 clip with an HLG (arib-std-b67) or PQ (smpte2084) transfer, as phones record.

    The picture is PATTERN in SDR placed the way BT.2408 says SDR content sits in HDR: its white at
    the HDR reference white (203 cd/m²), so a correct tone-mapping gives back about the SDR picture.
    """
    to_hdr = (
        f"zscale=tin=bt709:pin=bt709:min=bt709:rin=limited:t={transfer}:p=bt2020:m=bt2020nc:r=limited:npl=203,"
        "format=yuv420p10le"
    )
    ffmpeg(
        "-f", "lavfi", "-i", PATTERN.format(w=width, h=height, r=24, d=duration_s),
        "-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={duration_s}",
        "-vf", to_hdr, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
        "-tag:v", "hvc1", "-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc",
        "-c:a", "aac", str(path),
    )  # fmt: skip
    return path


def make_anamorphic_clip(
    path: Path, *, width: int = 720, height: int = 540, sar: str = "4/3", rotate: int | None = None
) -> Path:
    """Write a clip stored `width`x`height` with non-square pixels (`sar`), e.g. 16:9 HDV stored 1440x1080."""
    target = path if rotate is None else path.with_name(f"unrotated-{path.name}")
    ffmpeg(
        "-f", "lavfi", "-i", PATTERN.format(w=width, h=height, r=24, d=1),
        "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=1",
        "-vf", f"setsar={sar}", *_X264, "-c:a", "aac", str(target),
    )  # fmt: skip
    if rotate is not None:
        ffmpeg("-i", str(target), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(path))
        target.unlink()
    return path


def make_mixed_rate_clip(path: Path, *, rates: tuple[int, ...] = (24, 60), width: int = 160, height: int = 288) -> Path:
    """Write a clip of one-second parts at each of `rates` (a phone switching to slow motion), joined losslessly."""
    parts = []
    for index, rate in enumerate(rates):
        part = path.with_name(f"part{index}-{path.name}")
        ffmpeg(
            "-f", "lavfi", "-i", PATTERN.format(w=width, h=height, r=rate, d=1),
            "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=1",
            *_X264, "-c:a", "aac", "-video_track_timescale", "600", str(part),
        )  # fmt: skip
        parts.append(part)
    listing = path.with_name(f"parts-{path.stem}.txt")
    listing.write_text("".join(f"file '{part.name}'\n" for part in parts))
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(path))
    for leftover in (*parts, listing):
        leftover.unlink()
    return path


def make_two_audio_tracks(path: Path, *, default: int = 1) -> Path:
    """Write an MP4 whose first audio track is silent and second a loud tone; track `default` is marked default."""
    ffmpeg(
        "-f", "lavfi", "-i", PATTERN.format(w=160, h=288, r=24, d=1),
        "-f", "lavfi", "-i", "anullsrc=channel_layout=stereo:sample_rate=48000",
        "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=1",
        "-map", "0:v", "-map", "1:a", "-map", "2:a", "-t", "1", *_X264, "-c:a", "aac",
        f"-disposition:a:{default}", "default", f"-disposition:a:{1 - default}", "0", str(path),
    )  # fmt: skip
    return path


def corrupt_media_data(path: Path, *, keep_fraction: float = 1 / 3, seed: int = 15) -> Path:
    """Overwrite an MP4's media data after its first `keep_fraction` with random bytes; the boxes stay intact."""
    data = bytearray(path.read_bytes())
    mdat = next(box for box in top_level_boxes(path) if box.kind == "mdat")
    start = mdat.offset + 16 + int((mdat.size - 16) * keep_fraction)
    end = mdat.offset + mdat.size
    data[start:end] = random.Random(seed).randbytes(end - start)
    path.write_bytes(data)
    return path


def frame_count(path: Path) -> int:
    """Count the video frames ffprobe finds in `path` (decoding packets, not trusting the header)."""
    out = _ffprobe("-count_packets", "-select_streams", "v:0", "-show_entries", "stream=nb_read_packets", path)
    return int(out.strip())


def stream_field(path: Path, field: str, stream: str = "v:0") -> str:
    """Return one field of one stream as ffprobe reports it (e.g. color_transfer, sample_aspect_ratio)."""
    return _ffprobe("-select_streams", stream, "-show_entries", f"stream={field}", path).strip()


def _ffprobe(*args: str | Path) -> str:
    cmd = ["ffprobe", "-v", "error", *map(str, args[:-1]), "-of", "default=nw=1:nk=1", str(args[-1])]
    completed = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, f"{' '.join(cmd)}\n{completed.stderr}"
    return completed.stdout


def rgb_thumbnail(
    path: Path, *, at_s: float = 0.0, vf: str = "", width: int = 32, height: int = 18
) -> np.ndarray[Any, Any]:
    """The frame of `path` at `at_s` s (or its image), area-averaged to width x height RGB, as floats."""
    chain = (vf + "," if vf else "") + f"scale={width}:{height}:flags=area,format=rgb24"
    seek = ["-ss", f"{at_s:.3f}"] if at_s else []  # a still image has no time to seek to
    cmd = ["ffmpeg", "-v", "error", *seek, "-i", str(path), "-frames:v", "1", "-vf", chain]
    cmd += ["-f", "rawvideo", "-"]
    completed = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr.decode()
    return np.frombuffer(completed.stdout, np.uint8).reshape(height, width, 3).astype(float)


def mean_volume_db(path: Path) -> float:
    """Mean volume of the first audio track of `path`, in dB (about -91 for silence)."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path), "-map", "0:a:0", "-af", "volumedetect"]
    cmd += ["-f", "null", "-"]
    completed = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    line = next(line for line in completed.stderr.splitlines() if "mean_volume" in line)
    return float(line.split("mean_volume:")[1].split("dB")[0])
