"""Prometheus metrics at /metrics: request latency per route, outbox backlog and event lag, queue, model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sovereel.api.app import create_app
from sovereel.events.outbox import emit
from sovereel.events.relay import relay_once
from sovereel.runtime.region import RegionRuntime, open_runtime
from tests.support.api import signup
from tests.support.settings import make_settings


@pytest.fixture
def sqlite_client(sqlite_rt: RegionRuntime) -> Iterator[TestClient]:
    """Connected from loopback, as a local Prometheus is: /metrics answers only loopback or the metrics token."""
    with TestClient(
        create_app(sqlite_rt.settings, runtime=sqlite_rt, start_background=False), client=("127.0.0.1", 50000)
    ) as c:
        yield c


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_request_latency_is_recorded_per_route_template(sqlite_client: TestClient) -> None:
    before = scrape(sqlite_client)
    for vid in ("a1", "b2", "c3"):
        assert sqlite_client.get(f"/api/videos/{vid}").status_code == 404
    after = scrape(sqlite_client)
    key = {"route": "/api/videos/{video_id}", "method": "GET", "status": "4xx"}
    count = "sovereel_http_request_duration_seconds_count"
    assert value(after, count, **key) - value(before, count, **key) == 3
    # Raw paths never become labels (ids would make one series per video).
    assert not any("a1" in dict(labels).get("route", "") for _name, labels in after)
    bucket = value(after, "sovereel_http_request_duration_seconds_bucket", **key, le="+Inf")
    assert bucket >= 3


def test_outbox_backlog_event_lag_and_model_version(sqlite_client: TestClient, sqlite_rt: RegionRuntime) -> None:
    headers = signup(sqlite_client, "ann")
    user_id = sqlite_client.get("/api/me", headers=headers).json()["id"]
    lag_count = "sovereel_event_lag_seconds_count"
    before = scrape(sqlite_client)
    with sqlite_rt.db.transaction() as s:
        for _ in range(3):
            emit(s, "social.share", {"user_id": user_id, "video_id": "v1"})
    time.sleep(0.05)
    waiting = scrape(sqlite_client)
    assert value(waiting, "sovereel_outbox_backlog", region=sqlite_rt.region) == 3
    assert value(waiting, "sovereel_outbox_oldest_undelivered_seconds", region=sqlite_rt.region) >= 0.05
    while relay_once(sqlite_rt.db, sqlite_rt.bus):
        pass
    after = scrape(sqlite_client)
    assert value(after, "sovereel_outbox_backlog", region=sqlite_rt.region) == 0
    assert value(after, lag_count, consumer="learner") - value(before, lag_count, consumer="learner") == 3
    lag_sum = value(after, "sovereel_event_lag_seconds_sum", consumer="learner") - value(
        before, "sovereel_event_lag_seconds_sum", consumer="learner"
    )
    assert 0.15 <= lag_sum < 30  # each of the three waited at least the 50 ms before the relay ran
    assert 0 <= value(after, "sovereel_learner_last_event_age_seconds", region=sqlite_rt.region) < 5
    serving = sqlite_rt.learner.scorer.version
    assert value(after, "sovereel_model_info", region=sqlite_rt.region, serving=serving, published="") == 1
    assert value(after, "sovereel_media_queue_depth", region=sqlite_rt.region) == 0
    assert value(after, "sovereel_media_jobs", region=sqlite_rt.region, state="failed") == 0


def test_redelivered_events_are_counted_and_ignored(sqlite_client: TestClient, sqlite_rt: RegionRuntime) -> None:
    from sovereel.events.bus.interface import Message

    headers = signup(sqlite_client, "ann")
    user_id = sqlite_client.get("/api/me", headers=headers).json()["id"]
    like = Message(
        id=10_001, topic="social.like", payload={"user_id": user_id, "video_id": "v1"}, created_at=time.time()
    )
    applied = sqlite_rt.learner.state.applied
    for _ in range(3):  # an at-least-once bus may deliver the same message again
        sqlite_rt.bus.publish(like)
    assert sqlite_rt.learner.state.applied == applied + 1
    assert [e.video_id for e in sqlite_rt.learner.state.recent(user_id)] == ["v1"]
    samples = scrape(sqlite_client)
    assert value(samples, "sovereel_learner_duplicates_ignored", region=sqlite_rt.region) == 2


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    rt = open_runtime(make_settings(tmp_path, metrics_enabled=False))
    try:
        with TestClient(create_app(rt.settings, runtime=rt, start_background=False)) as client:
            r = client.get("/metrics")
            assert r.status_code == 404
            assert "SOVEREEL_METRICS_ENABLED" in r.json()["error"]["message"]
    finally:
        rt.close()
