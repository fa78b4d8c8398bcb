"""Sampling grey thumbnails of a video's frames with ffmpeg (for perceptual fingerprints)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from sovereel.safety.fingerprint import SAMPLE, Fingerprint, GreyFrames, fingerprint, sample_rate


class FrameError(Exception):
    """ffmpeg could not decode the frames."""


def sample_frames(path: Path, duration_s: float, *, max_frames: int = 64, timeout_s: float = 120) -> GreyFrames:
    """Frames sampled evenly across the video, as SAMPLE x SAMPLE grey images (area-averaged, aspect ignored)."""
    fps = sample_rate(duration_s, max_frames=max_frames)
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), "-an", "-sn",
        "-vf", f"fps={fps:.6f},scale={SAMPLE}:{SAMPLE}:flags=area,format=gray",
        "-frames:v", str(max_frames), "-f", "rawvideo", "pipe:1",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise FrameError(done.stderr.decode("utf-8", "replace").strip()[-300:] or f"ffmpeg exit {done.returncode}")
    size = SAMPLE * SAMPLE
    n = len(done.stdout) // size
    return np.frombuffer(done.stdout[: n * size], dtype=np.uint8).reshape(n, SAMPLE, SAMPLE)


def video_fingerprint(path: Path, duration_s: float) -> Fingerprint:
    """The perceptual fingerprint of a video file."""
    return fingerprint(sample_frames(path, duration_s))
