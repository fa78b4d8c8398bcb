"""The analytics fold: a redelivered bus message is counted once (by this process or another, on SQLite and
PostgreSQL alike), erasing a viewer leaves nothing of them in the aggregates, and the residency scan and data
export cover the new tables."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from sovereel.actions.analytics import reach_second
from sovereel.events.bus.interface import Message
from sovereel.governance.residency import user_columns
from sovereel.governance.rights import collect_user_data
from sovereel.queries.analytics import retention_curve
from sovereel.runtime.analytics import AnalyticsConsumer
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import CreatorDaily, OutboxMessage, VideoReach, VideoStats
from tests.support.api import signup
from tests.support.counters import deliver, ready_video, user_id

ANALYTICS_TABLES = ("video_stats", "video_reach", "video_daily", "video_sources", "creator_daily", "analytics_applied")


def send(client: TestClient, headers: dict[str, str], vid: str, watched_s: float) -> None:
    now = int(time.time() * 1000)
    batch = [
        {"client_id": uuid.uuid4().hex, "kind": "play", "video_id": vid, "ts": now, "source": "search"},
        {"client_id": uuid.uuid4().hex, "kind": "skip", "video_id": vid, "ts": now, "watched_s": watched_s},
    ]
    assert client.post("/api/events", headers=headers, json={"events": batch}).status_code == 200


def snapshot(rt: RegionRuntime, vid: str) -> tuple[tuple[int, int, float], dict[int, int]]:
    with rt.db.session() as s:
        st = s.get(VideoStats, vid)
        assert st is not None
        reach = {r.second: r.viewers for r in s.scalars(select(VideoReach).where(VideoReach.video_id == vid))}
        return (st.views, st.viewers, st.watch_s), reach


def test_a_redelivered_message_is_counted_once(client: TestClient, rt: RegionRuntime) -> None:
    creator = signup(client, "creator")
    vid = ready_video(rt, user_id(client, creator), duration_s=8.0)
    viewer = signup(client, "viewer")
    send(client, viewer, vid, 3.4)
    deliver(rt)
    before = snapshot(rt, vid)
    assert before == ((1, 1, 3.4), {3: 1})
    with rt.db.session() as s:
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "watch.events")).one()
        message = Message(id=row.id, topic=row.topic, payload=row.payload, created_at=row.created_at)
    rt.bus.publish(message)  # the bus delivers it again (a NATS redelivery after a lost ack)
    AnalyticsConsumer(rt.db)(message)  # and another API process's consumer gets it too
    assert snapshot(rt, vid) == before
    # A later visit moves the viewer along the curve instead of adding one.
    send(client, viewer, vid, 7.9)
    deliver(rt)
    assert snapshot(rt, vid) == ((1, 1, 7.9), {3: 0, 7: 1})


def test_a_relay_batch_is_folded_in_one_write_and_a_bad_message_costs_only_itself(
    client: TestClient, rt: RegionRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    creator = signup(client, "creator")
    vid = ready_video(rt, user_id(client, creator), duration_s=8.0)
    viewers = [signup(client, f"viewer{i}") for i in range(3)]
    for i, viewer in enumerate(viewers):
        send(client, viewer, vid, 2.0 + i)
    assert client.post("/api/users/creator/follow", headers=viewers[0]).status_code == 200
    with rt.db.session() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None)).order_by(OutboxMessage.id))
        messages = [Message(id=r.id, topic=r.topic, payload=r.payload, created_at=r.created_at) for r in rows]
    folded = [m for m in messages if m.topic in ("watch.events", "social.follow")]
    assert len(folded) == 4

    writes = []
    transaction = rt.db.transaction

    @contextlib.contextmanager
    def counted() -> Iterator[Any]:
        writes.append(1)
        with transaction() as s:
            yield s

    monkeypatch.setattr(rt.db, "transaction", counted)
    consumer = AnalyticsConsumer(rt.db)
    consumer.batch(folded[:2])
    assert len(writes) == 1  # two messages, one write
    # A message the fold cannot read (a seq that is no number) fails its batch: the others are still folded.
    bad = Message(id=10**9, topic="watch.events", payload={"events": [{"seq": "x"}]}, created_at=time.time())
    consumer.batch([folded[2], bad, folded[3]])
    with rt.db.session() as s:
        stats = s.get(VideoStats, vid)
        assert stats is not None and (stats.views, stats.viewers, stats.new_followers) == (3, 3, 1)
        assert s.scalars(select(CreatorDaily.gained)).all() == [1]  # the follow, won by the video viewer0 watched
    consumer.batch(folded)  # redelivered: nothing counted twice
    with rt.db.session() as s:
        again = s.get(VideoStats, vid)
        assert again is not None and (again.views, again.viewers) == (3, 3)


def test_erasing_a_viewer_leaves_counts_that_name_no_one(sqlite_client: TestClient, sqlite_rt: RegionRuntime) -> None:
    client, rt = sqlite_client, sqlite_rt
    creator = signup(client, "creator")
    creator_id = user_id(client, creator)
    vid = ready_video(rt, creator_id, duration_s=8.0)
    viewer = signup(client, "viewer", password="viewer password 1")
    viewer_id = user_id(client, viewer)
    send(client, viewer, vid, 5.0)
    assert client.post("/api/users/creator/follow", headers=viewer).status_code == 200
    deliver(rt)
    r = client.request("DELETE", "/api/me", headers=viewer, json={"password": "viewer password 1"})
    assert r.status_code == 200, r.text
    deliver(rt)
    with rt.db.session() as s:
        for table in ANALYTICS_TABLES:
            dump = " ".join(str(row) for row in s.execute(text(f"SELECT * FROM {table}")))
            assert viewer_id not in dump, table
        assert s.get(VideoStats, vid) is not None  # the creator keeps the anonymous count
        export = collect_user_data(s, creator_id)["analytics"]
    assert export["videos"][0]["viewers"] == 1 and export["followers_by_day"][0]["gained"] == 1
    # The creator's own erasure takes their aggregates with the account.
    assert (
        client.request("DELETE", "/api/me", headers=creator, json={"password": "correct horse battery"}).status_code
        == 200
    )
    with rt.db.session() as s:
        for table in ANALYTICS_TABLES[:-1]:
            assert s.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table


def test_residency_scan_covers_the_aggregates() -> None:
    scanned = set(user_columns())
    assert {("video_stats", "creator_id"), ("video_daily", "creator_id"), ("creator_daily", "creator_id")} <= scanned


def test_reach_and_retention_arithmetic() -> None:
    assert reach_second(3.99, False, 10.0) == 3
    assert reach_second(25.0, False, 10.0) == 10  # loops cap at the end
    assert reach_second(4.0, True, 10.4) == 10  # completed: the end, whatever was counted
    curve = retention_curve({0: 1, 2: 2, 4: 1}, 4, 4.0)
    assert [p["share"] for p in curve] == [1.0, 0.75, 0.75, 0.25, 0.25]
    assert retention_curve({}, 0, 4.0) == []
