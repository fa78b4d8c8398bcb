"""A scroll's next page ranked from the candidates its last page did not place, and when the sources are asked again."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sovereel.feed.interface import Engagement
from sovereel.feed.rerank import CARRY_PAGES, CARRY_TTL_S
from sovereel.foryou.carry import Carry, CarryBox
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import FeedImpression
from tests.support.api import signup
from tests.support.foryou import TOPICS, deliver, seed_ready_videos

NOW = 1_800_000_000.0
DONE = Engagement("v1", "complete", NOW - 30)


def _carry(**kw: Any) -> Carry:
    fields: dict[str, Any] = {
        "hits": {}, "made_at": NOW, "depth": 0, "signals": (), "newest": DONE, "following": frozenset()
    }  # fmt: skip
    return Carry(**(fields | kw))


def test_a_carry_serves_until_a_page_limit_an_age_an_explicit_signal_a_follow_a_first_engagement_or_a_reset() -> None:
    recent = (DONE,)
    assert _carry().fresh(NOW + 5, recent, frozenset())
    # Finishing more videos keeps it: the next page's ranking already reads them.
    assert _carry().fresh(NOW + 5, (*recent, Engagement("v2", "complete", NOW + 1)), frozenset())
    assert not _carry(depth=CARRY_PAGES).fresh(NOW + 5, recent, frozenset())
    assert not _carry().fresh(NOW + CARRY_TTL_S + 1, recent, frozenset())
    for kind in ("like", "share", "comment", "follow"):
        assert not _carry().fresh(NOW + 5, (*recent, Engagement("v2", kind, NOW + 1)), frozenset())
    assert not _carry().fresh(NOW + 5, recent, frozenset({"someone"}))
    # A new viewer's first finished video: its neighbours are retrieved at once.
    assert not _carry(newest=None).fresh(NOW + 5, recent, frozenset())
    assert _carry(newest=None).fresh(NOW + 5, (), frozenset())
    # A profile reset emptied the history the carry was retrieved for.
    assert not _carry().fresh(NOW + 5, (), frozenset())


def test_a_carry_is_taken_once_and_the_box_keeps_the_newest_scrolls() -> None:
    box = CarryBox(max_scrolls=2)
    for page in range(3):
        box.put("viewer", "chain", page, _carry(depth=page))
    assert len(box) == 2 and box.take("viewer", "chain", 0) is None
    kept = box.take("viewer", "chain", 2)
    assert kept is not None and kept.depth == 2
    assert box.take("viewer", "chain", 2) is None  # a page asked for again retrieves again
    assert box.take("someone else", "chain", 1) is None  # keyed by viewer too: a stolen cursor gets nothing


@pytest.fixture
def topic_of(sqlite_client: TestClient, sqlite_rt: RegionRuntime) -> dict[str, str]:
    ids = {}
    for topic in TOPICS:
        for k in range(2):
            headers = signup(sqlite_client, f"{topic}{k}")
            ids[f"{topic}{k}"] = sqlite_client.get("/api/me", headers=headers).json()["id"]
    return seed_ready_videos(sqlite_rt, ids, per_topic=10)


def _skip_all(client: TestClient, headers: dict[str, str], items: list[dict[str, Any]]) -> None:
    now_ms = int(time.time() * 1000)
    events = [
        {"client_id": uuid.uuid4().hex, "kind": kind, "video_id": item["id"], "ts": now_ms, "watched_s": 1.0}
        for item in items
        for kind in ("impression", "play", "skip")
    ]
    assert client.post("/api/events", headers=headers, json={"events": events}).status_code == 200


def _carried_positions(rt: RegionRuntime, viewer_id: str) -> list[bool]:
    rt.impressions.flush()
    with rt.db.session() as s:
        rows = s.scalars(select(FeedImpression).where(FeedImpression.user_id == viewer_id)).all()
        return [bool(r.reason["inputs"].get("carried")) for r in sorted(rows, key=lambda r: r.position)]


def test_a_scroll_is_ranked_from_carries_between_retrievals_and_a_like_or_a_mark_takes_effect_on_the_next_page(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, topic_of: dict[str, str]
) -> None:
    viewer = signup(sqlite_client, "scroller")
    viewer_id = sqlite_client.get("/api/me", headers=viewer).json()["id"]
    shown: list[str] = []
    cursor = None

    def page() -> list[dict[str, Any]]:
        nonlocal cursor
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = sqlite_client.get("/api/feed/foryou", params=params, headers=viewer).json()
        cursor = body["next_cursor"]
        shown.extend(i["id"] for i in body["items"])
        return list(body["items"])

    for _ in range(4):
        _skip_all(sqlite_client, viewer, page())
        deliver(sqlite_rt)
    # Page 1 retrieves; pages 2 and 3 come from carries (CARRY_PAGES in a row); page 4 retrieves again.
    assert _carried_positions(sqlite_rt, viewer_id) == [False] * 3 + [True] * 6 + [False] * 3
    # The viewer likes a video: the next page retrieves at once, rather than ranking what was kept for it.
    assert sqlite_client.post(f"/api/videos/{shown[-1]}/like", headers=viewer).status_code == 200
    deliver(sqlite_rt)
    page()
    assert _carried_positions(sqlite_rt, viewer_id)[-3:] == [False] * 3
    # A topic marked "not interested" is gone from the very next page, carried or not.
    tired = next(t for t in TOPICS if t not in {topic_of[v] for v in shown[-3:]})
    r = sqlite_client.post("/api/feed/not-interested", headers=viewer, json={"kind": "hashtag", "value": tired})
    assert r.status_code == 200, r.text
    for _ in range(2):
        items = page()
        assert len(items) == 3 and not {topic_of[i["id"]] for i in items} & {tired}
    assert _carried_positions(sqlite_rt, viewer_id)[-6:] == [True] * 6
    assert len(shown) == len(set(shown))  # a scroll never repeats itself
