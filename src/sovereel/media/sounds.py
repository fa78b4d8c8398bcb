"""The audio work of sounds: a chosen sound laid under a new video, a finished video's track copied out as its
sound, and that track's Chromaprint fingerprint.

The filter graph for a chosen sound is built here (pure) and joined into the one transcode command
(`ffmpeg_args.transcode_args`), so a video made with a sound is encoded once. `replace` puts the sound where the
video's own audio was; `mix` lays the video's own audio, lowered (`OWN_AUDIO_IN_MIX`), under the sound, with a
limiter so peaks cannot clip. Either way the sound starts with the video, and is cut (or padded with silence) to
the video's length.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from sovereel.media.inputs import ffmpeg_command, fpcalc_command, input_args

SOUND_MODES: Final = ("mix", "replace")
SoundMode = Literal["mix", "replace"]
SOUND_FILE: Final = "audio.m4a"
OWN_AUDIO_IN_MIX: Final = 0.3
"""Level of the video's own audio under a mixed-in sound (about -10 dB): the sound leads, the voice-over stays
audible, and the sound is still recognised as itself (its fingerprint matches; tests/sounds/test_use_sound.py)."""
_SAMPLE_RATE: Final = 48000


class SoundError(Exception):
    """The track could not be copied out or fingerprinted (ours to log; the video is published without it)."""


@dataclass(frozen=True)
class ChosenSound:
    """A stored sound's audio (AAC in MP4, written by `extract_args`) to use for a new video, and how."""

    path: Path
    mode: SoundMode


def sound_audio_graph(
    *, source_audio: str | None, sound_input: int, duration_s: float, outputs: int
) -> tuple[str, list[str]]:
    """The filter graph giving `outputs` copies of a new video's audio, and their labels.

    `source_audio` is the video's own track (`0:a:N`), None when it has none or the sound replaces it;
    `sound_input` the index of the sound's input.
    """
    if outputs < 1:
        raise ValueError("at least one output is required")
    labels = [f"sa{i}" for i in range(outputs)]
    fit = f"aresample={_SAMPLE_RATE},aformat=channel_layouts=stereo,apad,atrim=end={duration_s:.3f}"
    chains = [f"[{sound_input}:a:0]{fit}[snd]"]
    if source_audio is None:
        last = "snd"
    else:
        chains.append(f"[{source_audio}]{fit},volume={OWN_AUDIO_IN_MIX}[own]")
        chains.append(
            "[own][snd]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,alimiter=limit=0.9[mixed]"
        )
        last = "mixed"
    chains.append(f"[{last}]asplit={outputs}{''.join(f'[{label}]' for label in labels)}")
    return ";".join(chains), labels


def extract_args(rendition: Path, out: Path) -> list[str]:
    """Return an ffmpeg command copying the AAC track of one of our renditions into an audio-only MP4 (no re-encode)."""
    return ffmpeg_command(
        *input_args(rendition, "mp4"),
        "-map",
        "0:a:0",
        "-vn",
        "-c:a",
        "copy",
        "-map_metadata",
        "-1",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(out),
    )


def extract_sound(rendition: Path, out: Path, *, timeout_s: float = 120) -> Path:
    """Copy a verified rendition's audio track to `out`."""
    _run(extract_args(rendition, out), timeout_s)
    if not out.is_file() or out.stat().st_size == 0:
        raise SoundError("ffmpeg wrote no audio track")
    return out


def fingerprint_audio(path: Path, *, timeout_s: float = 120) -> list[int]:
    """The raw Chromaprint fingerprint of an audio file we wrote (`fpcalc -raw`): unsigned 32-bit words."""
    # fpcalc exits 3 ("Error decoding audio frame (End of file)") at the end of many AAC files after printing a
    # whole fingerprint: what it printed is what counts.
    completed = _run(fpcalc_command(path), timeout_s, check=False)
    try:
        found = json.loads(completed.stdout)["fingerprint"]
    except (ValueError, KeyError, TypeError) as exc:
        tail = completed.stderr.decode("utf-8", errors="replace").strip()[-300:]
        raise SoundError(f"fpcalc printed no fingerprint (exit {completed.returncode}): {tail}") from exc
    if not isinstance(found, list) or not all(isinstance(x, int) for x in found):
        raise SoundError("fpcalc printed a fingerprint that is not a list of integers")
    return [x & 0xFFFFFFFF for x in found]


def _run(args: list[str], timeout_s: float, *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    try:
        completed = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SoundError(f"{args[0]} could not run: {exc}") from exc
    if check and completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", errors="replace").strip()[-500:]
        raise SoundError(f"{args[0]} failed (exit {completed.returncode}): {tail}")
    return completed
