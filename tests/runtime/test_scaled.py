"""The scaled layout for real: two API processes (uvicorn subprocesses) and a relay process on PostgreSQL, Redis
and NATS JetStream. A like sent to one process changes the next For You page served by the other, and no
event is lost or doubled, in the event log or in either process's learner."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select, text

from sovereel.actions.accounts import do_signup
from sovereel.api.server import free_port
from sovereel.runtime.region import RegionRuntime, open_runtime
from sovereel.storage.models import Event, Like, OutboxMessage
from tests.support.api import ADULT_BIRTH_DATE
from tests.support.foryou import TOPICS, seed_ready_videos
from tests.support.scale import (
    NATS_URL,
    REDIS_URL,
    delete_stream,
    nats_available,
    redis_available,
    unique_region,
    wait_for,
)
from tests.support.settings import PG_URL, make_settings, postgres_available, require

pytestmark = [pytest.mark.postgres, pytest.mark.nats, pytest.mark.redis, pytest.mark.slow]


@dataclass
class Layout:
    env: dict[str, str]
    rt: RegionRuntime  # the test's own view of the region (seeding, reading the event log)
    logs: Path
    procs: list[subprocess.Popen[bytes]]

    def start(self, name: str, argv: list[str]) -> None:
        out = (self.logs / f"{name}.log").open("wb")
        self.procs.append(subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT))

    def start_api(self, name: str) -> str:
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "--factory", "sovereel.api.asgi:app_from_env"]
        self.start(name, [*argv, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"])
        return f"http://127.0.0.1:{port}"

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.logs.glob("*.log")))


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[Layout]:
    require(postgres_available(), f"PostgreSQL is not reachable at {PG_URL}")
    require(nats_available(), f"NATS with JetStream is not reachable at {NATS_URL}")
    require(redis_available(), f"Redis is not reachable at {REDIS_URL}")
    schema, region = f"t_{secrets.token_hex(6)}", unique_region()
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db_url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    overrides: dict[str, Any] = {
        "region": region,
        "database_url": db_url,
        "bus_url": NATS_URL,
        "hot_state_url": REDIS_URL,
        "run_relay": False,
        "train_every_s": 0.0,
    }
    settings = make_settings(tmp_path, **overrides)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOVEREEL_", "PROMETHEUS_"))}
    env.update({f"SOVEREEL_{k.upper()}": str(v) for k, v in overrides.items()})
    env.update(
        {
            "SOVEREEL_DATA_DIR": str(settings.data_dir),
            "SOVEREEL_ENVIRONMENT": "test",
            "SOVEREEL_RUN_WORKERS": "false",
            "SOVEREEL_RATE_LIMITS": "false",
        }
    )
    rt = open_runtime(settings)
    logs = tmp_path / "logs"
    logs.mkdir()
    lay = Layout(env=env, rt=rt, logs=logs, procs=[])
    try:
        yield lay
    finally:
        for proc in lay.procs:
            proc.terminate()
        for proc in lay.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        rt.close()
        delete_stream(region)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def metrics(client: httpx.Client) -> dict[str, float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    return {
        s.name: s.value for f in text_string_to_metric_families(r.text) for s in f.samples if not s.labels.get("le")
    }


def applied(client: httpx.Client) -> float:
    return metrics(client)["sovereel_learner_signals_applied"]


def page(client: httpx.Client, headers: dict[str, str]) -> list[str]:
    r = client.get("/api/feed/foryou", params={"limit": 10}, headers=headers)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def watch_batch(video_id: str) -> list[dict[str, Any]]:
    now = int(time.time() * 1000)
    return [
        {"client_id": uuid.uuid4().hex, "kind": kind, "video_id": video_id, "ts": now, "watched_s": watched}
        for kind, watched in (("impression", 0.0), ("play", 0.0), ("complete", 10.0))
    ]


def test_a_like_on_one_api_process_changes_the_feed_served_by_another(layout: Layout) -> None:
    rt = layout.rt
    creators = {
        f"{topic}{k}": do_signup(rt.db, f"{topic}{k}", "correct horse battery").id for topic in TOPICS for k in (0, 1)
    }
    topic_of = seed_ready_videos(rt, creators)  # rows + video.ready outbox events, waiting for the relay
    one_url, two_url = layout.start_api("api1"), layout.start_api("api2")
    layout.start("relay", [sys.executable, "-m", "sovereel.cli", "relay", "--interval", "0.05"])
    with httpx.Client(base_url=one_url, timeout=30) as one, httpx.Client(base_url=two_url, timeout=30) as two:

        def up() -> bool:
            try:
                return one.get("/metrics").status_code == 200 and two.get("/metrics").status_code == 200
            except httpx.TransportError:
                return False

        assert wait_for(up, timeout_s=180, every_s=0.5), layout.log_tail()
        r = one.post(
            "/api/auth/signup",
            json={"username": "viewer", "password": "correct horse battery", "birth_date": ADULT_BIRTH_DATE},
        )
        assert r.status_code == 201, r.text
        viewer = {"Authorization": f"Bearer {r.json()['token']}"}
        assert wait_for(lambda: len(page(two, viewer)) >= 8, timeout_s=30), layout.log_tail()
        before = page(two, viewer)
        start_one, start_two = applied(one), applied(two)
        assert start_one == start_two  # both replayed the same event log at start

        liked = next(v for v, t in topic_of.items() if t == "pets" and v not in before[:1])
        batch = watch_batch(liked)
        sent_at = time.monotonic()
        assert one.post(f"/api/videos/{liked}/like", headers=viewer).status_code == 200
        assert one.post("/api/events", headers=viewer, json={"events": batch}).json()["accepted"] == 3
        # The page retried the same batch against the other process (a lost response): stored once.
        assert two.post("/api/events", headers=viewer, json={"events": batch}).json()["duplicates"] == 3

        def adapted() -> bool:
            after = page(two, viewer)
            return after != before and topic_of[after[0]] == "pets" and liked not in after

        assert wait_for(adapted, timeout_s=10, every_s=0.1), layout.log_tail()
        took = time.monotonic() - sent_at
        assert took < 5.0, f"process 2 adapted only after {took:.1f}s"
        lag = metrics(two)
        mean_lag = lag["sovereel_event_lag_seconds_sum"] / max(1.0, lag["sovereel_event_lag_seconds_count"])
        print(f"\nprocess 2 served an adapted page {took:.2f}s after the like; mean commit→learner lag {mean_lag:.3f}s")

        # Every signal (1 like + 3 watch events) reached both learners exactly once.
        assert wait_for(lambda: applied(one) == start_one + 4 and applied(two) == start_two + 4, timeout_s=10)
        time.sleep(1.0)  # and nothing arrives twice later
        assert applied(one) == start_one + 4 and applied(two) == start_two + 4
    with rt.db.session() as s:
        client_ids = list(s.scalars(select(Event.client_id).where(Event.video_id == liked)))
        assert sorted(client_ids) == sorted(e["client_id"] for e in batch)
        assert s.scalar(select(func.count()).select_from(Like)) == 1
        undelivered = s.scalar(select(func.count()).where(OutboxMessage.delivered_at.is_(None)))
        assert undelivered == 0  # the relay process published everything, the API processes only wrote it
