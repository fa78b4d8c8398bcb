"""Sampling grey thumbnails of a video's frames with ffmpeg (for perceptual fingerprints)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from sovereel.media.inputs import ffmpeg_command, input_args
from sovereel.media.sniff import sniff_file
from sovereel.safety.fingerprint import SAMPLE, Fingerprint, GreyFrames, fingerprint, sample_rate


class FrameError(Exception):
    """ffmpeg could not decode the frames."""


def frames_args(path: Path, container: str, fps: float, max_frames: int) -> list[str]:
    """Return the ffmpeg command writing `max_frames` grey SAMPLE x SAMPLE frames of `path` to stdout."""
    return ffmpeg_command(
        *input_args(path, container), "-an", "-sn",
        "-vf", f"fps={fps:.6f},scale={SAMPLE}:{SAMPLE}:flags=area,format=gray",
        "-frames:v", str(max_frames), "-f", "rawvideo", "pipe:1",
    )  # fmt: skip


def sample_frames(
    path: Path, duration_s: float, *, container: str | None = None, max_frames: int = 64, timeout_s: float = 120
) -> GreyFrames:
    """Frames sampled evenly across the video, as SAMPLE x SAMPLE grey images (area-averaged, aspect ignored)."""
    fps = sample_rate(duration_s, max_frames=max_frames)
    container = container or sniff_file(path)
    if container is None:
        raise FrameError("not an MP4, MOV, WebM or MKV container")
    done = subprocess.run(
        frames_args(path, container, fps, max_frames), capture_output=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise FrameError(done.stderr.decode("utf-8", "replace").strip()[-300:] or f"ffmpeg exit {done.returncode}")
    size = SAMPLE * SAMPLE
    n = len(done.stdout) // size
    return np.frombuffer(done.stdout[: n * size], dtype=np.uint8).reshape(n, SAMPLE, SAMPLE)


def video_fingerprint(path: Path, duration_s: float, *, container: str | None = None) -> Fingerprint:
    """The perceptual fingerprint of a video file (its container sniffed when not given)."""
    return fingerprint(sample_frames(path, duration_s, container=container))
