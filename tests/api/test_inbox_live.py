"""The inbox is live through the event bus: two API processes (two runtimes and uvicorn servers on one store,
sharing one bus, as `sovereel up` runs them on one NATS stream), a like served by one, and the liked creator's
stream held by the other hears it and sends the new unread count; a mark-read sends the count down again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.ids import new_id
from sovereel.runtime.region import open_runtime
from sovereel.storage.models import User, Video
from tests.support.scale import NATS_URL, delete_stream, nats_available, unique_region
from tests.support.settings import make_settings, require

CREDS = {"password": "correct horse battery", "birth_date": "1990-01-01"}


def _signup(base: str, name: str) -> dict[str, str]:
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/api/auth/signup", json={"username": name, **CREDS})
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The `unread` events of an SSE stream, as they come."""
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name == "unread":
            yield json.loads(line[6:])


@pytest.mark.parametrize("bus", ["memory", pytest.param("nats", marks=pytest.mark.nats)])
def test_a_like_served_by_one_process_reaches_a_stream_held_by_another(tmp_path: Path, bus: str) -> None:
    region = "default"
    if bus == "nats":  # each process its own NATS connection and consumer on the region's stream, as scaled
        require(nats_available(), f"NATS with JetStream is not reachable at {NATS_URL}")
        region = unique_region()
    url = NATS_URL if bus == "nats" else "memory://"
    first = open_runtime(make_settings(tmp_path, rate_limits=False, region=region, bus_url=url))
    # The second process: the same store, its own runtime, learner and inbox hub, and no relay of its own
    # (in memory it shares the first one's bus: one process stands for two).
    second = open_runtime(
        make_settings(tmp_path, rate_limits=False, run_relay=False, region=region, bus_url=url),
        bus=first.bus if bus == "memory" else None,
    )
    try:
        with (
            serve_in_thread(create_app(first.settings, runtime=first)) as base_a,
            serve_in_thread(create_app(second.settings, runtime=second)) as base_b,
        ):
            ana, ben = _signup(base_a, "ana"), _signup(base_a, "ben")
            vid = new_id()
            with first.db.transaction() as s:
                creator_id = s.query(User).filter_by(username_key="ana").one().id
                s.add(
                    Video(id=vid, region=first.region, creator_id=creator_id, caption="hi", visibility="public",
                          status="ready", duration_s=5.0, width=360, height=640, original_name="x.mp4",
                          renditions={}, created_at=time.time(), ready_at=time.time())
                )  # fmt: skip
            with (
                httpx.Client(base_url=base_b, timeout=httpx.Timeout(10.0)) as b,
                b.stream("GET", "/api/me/notifications/stream", headers=ana) as stream,
            ):
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                events = _events(stream.iter_lines())
                assert next(events) == {"unread": 0, "created": False, "kind": None}
                assert second.inbox.streams(creator_id) == 1
                assert first.inbox.streams(creator_id) == 0  # the stream is held by the second process only
                with httpx.Client(base_url=base_a, timeout=30) as a:
                    assert a.post(f"/api/videos/{vid}/like", headers=ben).status_code == 200
                assert next(events) == {"unread": 1, "created": True, "kind": "like"}
                with httpx.Client(base_url=base_a, timeout=30) as a:
                    page = a.get("/api/me/notifications", headers=ana).json()
                    assert a.post(f"/api/me/notifications/{page['items'][0]['id']}/read", headers=ana).is_success
                assert next(events) == {"unread": 0, "created": False, "kind": None}
    finally:
        second.close()
        first.close()
        if bus == "nats":
            delete_stream(region)


def test_the_stream_needs_a_signed_in_viewer(sqlite_client: Any) -> None:
    assert sqlite_client.get("/api/me/notifications/stream").status_code == 401


pytestmark = pytest.mark.timeout(120)
