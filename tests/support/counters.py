"""Shared by the counter and event-oracle tests: ready video rows (no media) and watch-event batches."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from sovereel.events.relay import relay_once
from sovereel.ids import new_id
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Video


def ready_video(rt: RegionRuntime, creator_id: str, **overrides: Any) -> str:
    """A ready video row (these tests count and rank; they never fetch media); returns its id."""
    now = time.time()
    vid = new_id(now)
    fields: dict[str, Any] = {
        "id": vid, "region": rt.region, "creator_id": creator_id, "caption": "a clip", "visibility": "public",
        "status": "ready", "duration_s": 10.0, "width": 720, "height": 1280,
        "renditions": {"720": {"key": f"videos/{vid}/720.mp4"}}, "created_at": now - 60, "ready_at": now - 30,
    }  # fmt: skip
    fields.update(overrides)
    with rt.db.transaction() as s:
        s.add(Video(**fields))
    return vid


def user_id(client: TestClient, headers: dict[str, str]) -> str:
    """The signed-in user's id."""
    return str(client.get("/api/me", headers=headers).json()["id"])


def events(video_id: str, kind: str, n: int = 1, watched_s: float = 0.0) -> dict[str, Any]:
    """A batch of `n` events of one kind, each with a fresh client id (as a replaying attacker would send)."""
    now_ms = int(time.time() * 1000)
    return {
        "events": [
            {"client_id": uuid.uuid4().hex, "kind": kind, "video_id": video_id, "ts": now_ms, "watched_s": watched_s}
            for _ in range(n)
        ]
    }


def deliver(rt: RegionRuntime) -> None:
    """Relay committed outbox rows to the bus now (the learner and the feed state read them there)."""
    while relay_once(rt.db, rt.bus):
        pass
