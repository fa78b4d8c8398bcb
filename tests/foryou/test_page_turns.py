"""For You pages of one process are ranked in the order they were asked for; one kept waiting too long gets a
503 with Retry-After (nothing half-written), and the next page is served as usual."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sovereel.api.app import create_app
from sovereel.foryou import service
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import FeedImpression
from tests.support.api import signup
from tests.support.foryou import TOPICS, seed_ready_videos


@pytest.fixture
def turns_client(
    sqlite_rt: RegionRuntime, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, list[service.PageTurns]]]:
    made: list[service.PageTurns] = []

    class Recorded(service.PageTurns):
        def __init__(self, timeout_s: float) -> None:
            super().__init__(timeout_s)
            made.append(self)

    monkeypatch.setattr(service, "PageTurns", Recorded)
    monkeypatch.setattr(service, "PAGE_WAIT_S", 0.3)
    with TestClient(create_app(sqlite_rt.settings, runtime=sqlite_rt, start_background=False)) as client:
        yield client, made


def test_a_page_that_waits_past_its_limit_is_refused_with_retry_after_and_the_next_is_served(
    sqlite_rt: RegionRuntime, turns_client: tuple[TestClient, list[service.PageTurns]]
) -> None:
    client, made = turns_client
    viewer = signup(client, "scroller")
    creators = {f"{t}{i}": signup(client, f"{t}{i}") for t in TOPICS for i in range(2)}
    ids = {k: client.get("/api/me", headers=h).json()["id"] for k, h in creators.items()}
    seed_ready_videos(sqlite_rt, ids)
    (turns,) = made
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # another page being ranked, for longer than the limit
        with turns:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    try:
        started = time.monotonic()
        r = client.get("/api/feed/foryou", headers=viewer, params={"limit": 5})
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(5)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "busy" and r.headers["Retry-After"] == "2"
    assert 0.3 <= waited < 5
    sqlite_rt.impressions.flush()
    with sqlite_rt.db.session() as s:
        assert s.query(FeedImpression).count() == 0  # the refused page recorded nothing as served
    assert turns.waiting() == 0  # it left the line: the next page does not wait behind it

    r = client.get("/api/feed/foryou", headers=viewer, params={"limit": 5})
    assert r.status_code == 200 and len(r.json()["items"]) == 5
    sqlite_rt.impressions.flush()
    with sqlite_rt.db.session() as s:
        assert s.query(FeedImpression).count() == 5


def test_pages_asked_for_together_are_all_served_none_twice(
    sqlite_rt: RegionRuntime, turns_client: tuple[TestClient, list[service.PageTurns]]
) -> None:
    client, _made = turns_client
    creators = {f"{t}{i}": signup(client, f"{t}{i}") for t in TOPICS for i in range(2)}
    seed_ready_videos(sqlite_rt, {k: client.get("/api/me", headers=h).json()["id"] for k, h in creators.items()})
    viewers = [signup(client, f"viewer{i}") for i in range(6)]
    results: list[int] = []

    def scroll(headers: dict[str, str]) -> None:
        r = client.get("/api/feed/foryou", headers=headers, params={"limit": 4})
        results.append(r.status_code if len({i["id"] for i in r.json()["items"]}) == 4 else -1)

    threads = [threading.Thread(target=scroll, args=(h,)) for h in viewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * 6
