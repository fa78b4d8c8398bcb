"""Helpers for the trust-and-safety tests: distinct clips, transformed copies, moderators, relaying events."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sovereel.actions.moderation import do_set_role
from sovereel.demo.clips import ClipSpec, generate_clip
from sovereel.events.relay import relay_once
from sovereel.runtime.region import RegionRuntime
from tests.support.api import signup
from tests.support.media_clips import ffmpeg

# Different patterns, tints, titles and tones: videos that must never be taken for one another.
DISTINCT = [
    ClipSpec(160, 288, 4.0, "#d04040", "mandelbrot", "Garden party", 330),
    ClipSpec(160, 288, 4.0, "#40a0d0", "life", "Night bus", 440),
    ClipSpec(160, 288, 4.0, "#60c060", "gradients", "Cake time", 262),
    ClipSpec(160, 288, 4.0, "#c0a040", "plasma", "Surf school", 523),
]


def distinct_clip(tmp_path: Path, index: int) -> Path:
    """A small demo-style clip, different from every other index."""
    out = tmp_path / f"distinct-{index}.mp4"
    if not out.exists():
        generate_clip(DISTINCT[index], out)
    return out


def reencoded_copy(src: Path, out: Path) -> Path:
    """What a re-uploader does: crop a little, resize, re-encode at another bitrate."""
    ffmpeg("-i", str(src), "-vf", "crop=iw*0.92:ih*0.92,scale=144:-2", "-c:v", "libx264", "-b:v", "120k", str(out))
    return out


def moderator(client: TestClient, rt: RegionRuntime, username: str = "mod") -> dict[str, str]:
    """Sign up an account and make it a moderator (as `sovereel user role` does)."""
    headers = signup(client, username)
    do_set_role(rt.db, audit_secret=rt.settings.secret_key, username=username, role="moderator")
    return headers


def relay_all(rt: RegionRuntime) -> None:
    """Deliver every committed event now (tests run without the background relay)."""
    while relay_once(rt.db, rt.bus):
        pass
