"""Generated audio for sound tests and bench/sound_match.py: distinct, structured signals and clips carrying them.

A steady tone or white noise is useless for telling recordings apart (every second looks like every other), so
each signal here is a seeded "melody": notes of random pitch and length with a few harmonics, syllable-like
amplitude swells and short noise bursts, which is closer to music and speech.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from tests.support.media_clips import ffmpeg

RATE = 44100


def melody(seed: int, duration_s: float) -> np.ndarray:
    """A seeded melody-like mono signal in [-1, 1]."""
    rng = np.random.default_rng(seed)
    total = int(duration_s * RATE)
    out = np.zeros(total)
    at = 0
    while at < total:
        n = min(int(rng.uniform(0.08, 0.45) * RATE), total - at)
        t = np.arange(n) / RATE
        f0 = 110 * 2 ** (rng.integers(0, 36) / 12)
        note = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 5))
        envelope = np.sin(np.pi * np.arange(n) / max(n, 1)) ** rng.uniform(0.3, 2.0)
        if rng.random() < 0.2:  # a consonant-like burst of noise
            note = note + rng.normal(0, 0.6, n)
        out[at : at + n] = note * envelope * rng.uniform(0.3, 1.0)
        at += n
    return out / max(float(np.abs(out).max()), 1e-9) * 0.8


def write_wav(path: Path, signal: np.ndarray) -> Path:
    """Write a mono 16-bit WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def make_melody_wav(path: Path, *, seed: int, duration_s: float) -> Path:
    """Write a seeded melody (see `melody`) as a WAV file."""
    return write_wav(path, melody(seed, duration_s))


def make_clip_with_audio(
    path: Path, audio: Path, *, duration_s: float, width: int = 180, height: int = 320, pattern: str = "testsrc2"
) -> Path:
    """Write an H.264/AAC MP4 clip of a test pattern carrying `audio` (cut or padded to `duration_s`)."""
    ffmpeg(
        "-f", "lavfi", "-i", f"{pattern}=size={width}x{height}:rate=24:duration={duration_s}",
        "-i", str(audio),
        "-filter_complex", f"[1:a]apad,atrim=end={duration_s}[a]",
        "-map", "0:v", "-map", "[a]",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
        "-t", str(duration_s), str(path),
    )  # fmt: skip
    return path


def make_melody_clip(path: Path, *, seed: int, duration_s: float = 6.0, **kw: object) -> Path:
    """A clip whose audio is the melody of `seed`."""
    wav = make_melody_wav(path.with_suffix(".wav"), seed=seed, duration_s=duration_s)
    return make_clip_with_audio(path, wav, duration_s=duration_s, **kw)  # type: ignore[arg-type]


def fpcalc_raw(path: Path) -> list[int]:
    """The raw Chromaprint fingerprint of any audio or video file (tests only: sovereel runs it on its own files)."""
    import json
    import subprocess

    completed = subprocess.run(["fpcalc", "-raw", "-json", str(path)], capture_output=True, timeout=60, check=False)
    return [int(x) & 0xFFFFFFFF for x in json.loads(completed.stdout)["fingerprint"]]
