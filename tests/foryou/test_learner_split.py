"""One learner per region (the scaled layout's split): a learner process learns from every event once, on real
NATS JetStream, and two serving runtimes follow it through its deltas without learning themselves.

A like and a finished video applied once by the learner change both servers' user vector, live state and next
For You page; neither server takes a gradient step; a restarted learner resumes from its durable consumer and
nothing reaches a server twice.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sovereel.actions.accounts import do_signup
from sovereel.actions.social import do_like
from sovereel.actions.watch import WatchEvent, do_record_events
from sovereel.api.app import create_app
from sovereel.events.bus.interface import Message
from sovereel.events.bus.memory import InProcessBus
from sovereel.feed.model import Event as ModelEvent
from sovereel.foryou.delta import DeltaPublisher
from sovereel.foryou.learner import Learner
from sovereel.foryou.replica import DeltaReplica
from sovereel.runtime.processes import LearnerProcess
from sovereel.runtime.region import RegionRuntime, open_runtime
from sovereel.settings import Settings
from sovereel.storage.models import VideoStats
from tests.support.api import signup
from tests.support.foryou import deliver, seed_ready_videos
from tests.support.scale import NATS_URL, delete_stream, nats_available, unique_region, wait_for
from tests.support.settings import make_settings, require

TOPICS = ("cooking", "travel", "pets", "dance")


@dataclass
class Server:
    """One serving runtime of the split layout, with what it was asked to do that only a learner should."""

    rt: RegionRuntime
    client: TestClient
    raw_topics: list[str]  # topics its Learner.on_message was handed
    steps: list[str]  # gradient steps its model took

    def vector(self, user_id: str) -> Any:
        return self.rt.learner.scorer.user_vector(user_id)

    def page(self, headers: dict[str, str]) -> list[str]:
        r = self.client.get("/api/feed/foryou", params={"limit": 10}, headers=headers)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]


class RunningLearner:
    """A `LearnerProcess` on a thread of the test (the same code `sovereel learner` runs)."""

    def __init__(self, settings: Settings) -> None:
        self.proc = LearnerProcess(settings)
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.proc.run, args=(self.stop_flag, 0.05), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_flag.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def _spy(rt: RegionRuntime) -> tuple[list[str], list[str]]:
    raw: list[str] = []
    steps: list[str] = []
    on_message = rt.learner.on_message

    def seen(msg: Message) -> None:
        raw.append(msg.topic)
        on_message(msg)

    def step(e: ModelEvent, positive: bool) -> None:
        steps.append(e.kind)

    rt.learner.on_message = seen  # type: ignore[method-assign]
    rt.learner.scorer.model._step = step  # type: ignore[method-assign]
    return raw, steps


@dataclass
class Split:
    settings: Settings
    servers: list[Server]
    topic_of: dict[str, str]


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Split]:
    require(nats_available(), f"NATS with JetStream is not reachable at {NATS_URL}")
    region = unique_region()
    settings = make_settings(
        tmp_path, region=region, bus_url=NATS_URL, run_relay=False, train_every_s=0.0, learner_process=True
    )
    runtimes = [open_runtime(settings), open_runtime(settings)]
    servers: list[Server] = []
    try:
        names = [f"{t}{k}" for t in TOPICS for k in (0, 1)]
        creators = {name: do_signup(runtimes[0].db, name, "correct horse battery").id for name in names}
        topic_of = seed_ready_videos(runtimes[0], creators)
        for rt in runtimes:
            raw, steps = _spy(rt)
            client = TestClient(create_app(settings, runtime=rt))
            client.__enter__()
            servers.append(Server(rt, client, raw, steps))
        yield Split(settings, servers, topic_of)
    finally:
        for server in servers:
            server.client.__exit__(None, None, None)
        for rt in runtimes:
            rt.close()
        delete_stream(region)


def _finish(rt: RegionRuntime, user_id: str, video_id: str) -> None:
    now = time.time()
    events = [
        WatchEvent(client_id=uuid.uuid4().hex, kind=kind, video_id=video_id, ts=now, watched_s=watched)
        for kind, watched in (("impression", 0.0), ("play", 0.0), ("complete", 10.0))
    ]
    assert do_record_events(rt.db, user_id=user_id, events=events).accepted == 3


@pytest.mark.nats
@pytest.mark.slow
def test_one_learner_changes_every_servers_next_page_and_servers_never_learn(split: Split) -> None:
    one, two = split.servers
    learner = RunningLearner(split.settings)
    try:
        viewer = signup(one.client, "viewer")
        viewer_id = one.client.get("/api/me", headers=viewer).json()["id"]
        assert wait_for(lambda: len(two.page(viewer)) >= 8, timeout_s=30)
        before = two.page(viewer)
        applied = [s.rt.learner.state.applied for s in split.servers]

        liked = next(v for v, t in split.topic_of.items() if t == "pets" and v not in before[:1])
        sent = time.monotonic()
        do_like(one.rt.db, user_id=viewer_id, video_id=liked)
        _finish(one.rt, viewer_id, liked)
        deliver(one.rt)

        def followed(server: Server) -> bool:
            mine = learner.proc.learner.scorer.user_vector(viewer_id)
            theirs = server.vector(viewer_id)
            return mine is not None and theirs is not None and np.array_equal(mine, theirs)

        assert wait_for(lambda: followed(one) and followed(two), timeout_s=10)
        assert wait_for(
            lambda: all(s.rt.learner.state.applied == a + 4 for s, a in zip(split.servers, applied, strict=True))
        )
        took = time.monotonic() - sent
        assert took < 2.0, f"the servers followed the learner only after {took:.2f}s"

        def adapted(server: Server) -> bool:
            after = server.page(viewer)
            return after != before and split.topic_of[after[0]] == "pets" and liked not in after

        assert adapted(one) and adapted(two)
        for server in split.servers:
            assert (liked, "like") in [(e.video_id, e.kind) for e in server.rt.learner.state.recent(viewer_id)]
            # The learning happened once, in the learner: no server took a step or was handed a raw event.
            assert server.steps == []
            assert set(server.raw_topics) <= {"video.ready", "video.moderated"}
            assert server.rt.replica is not None and server.rt.replica.gaps == 0
        assert learner.proc.learner.state.applied > 0
    finally:
        learner.stop()


@pytest.mark.nats
@pytest.mark.slow
def test_an_erased_account_leaves_the_learner_and_every_server(split: Split) -> None:
    """Erasure is handled by one API process; the learner process and the other server drop the user too."""
    one, two = split.servers
    learner = RunningLearner(split.settings)
    try:
        viewer = signup(one.client, "gone")
        viewer_id = one.client.get("/api/me", headers=viewer).json()["id"]
        liked = next(iter(split.topic_of))
        do_like(one.rt.db, user_id=viewer_id, video_id=liked)
        _finish(one.rt, viewer_id, liked)
        deliver(one.rt)
        holders = [learner.proc.learner, one.rt.learner, two.rt.learner]
        assert wait_for(lambda: all(h.state.recent(viewer_id) for h in holders), timeout_s=10)

        r = one.client.request("DELETE", "/api/me", headers=viewer, json={"password": "correct horse battery"})
        assert r.status_code in (200, 202, 204), r.text

        def gone(h: Learner) -> bool:  # no recent engagements, and a vector of zeros (forget_user's erasure)
            vector = h.scorer.user_vector(viewer_id)
            return not h.state.recent(viewer_id) and (vector is None or not np.any(vector))

        assert wait_for(lambda: all(gone(h) for h in holders), timeout_s=10), [gone(h) for h in holders]
    finally:
        learner.stop()


@pytest.mark.nats
@pytest.mark.slow
def test_a_restarted_learner_resumes_from_its_durable_consumer_without_applying_twice(split: Split) -> None:
    one = split.servers[0]
    first = RunningLearner(split.settings)
    viewer_id = do_signup(one.rt.db, "viewer", "correct horse battery").id
    videos = list(split.topic_of)
    try:
        do_like(one.rt.db, user_id=viewer_id, video_id=videos[0])
        deliver(one.rt)
        assert wait_for(lambda: all(len(s.rt.learner.state.recent(viewer_id)) == 1 for s in split.servers))
    finally:
        first.stop()
    # While no learner runs, events wait in the durable consumer.
    applied = [s.rt.learner.state.applied for s in split.servers]
    do_like(one.rt.db, user_id=viewer_id, video_id=videos[1])
    _finish(one.rt, viewer_id, videos[2])
    deliver(one.rt)
    time.sleep(0.5)
    assert [s.rt.learner.state.applied for s in split.servers] == applied

    second = RunningLearner(split.settings)
    try:
        assert wait_for(
            lambda: all(s.rt.learner.state.applied == a + 4 for s, a in zip(split.servers, applied, strict=True))
        )
        time.sleep(1.0)  # and nothing arrives twice later
        assert [s.rt.learner.state.applied for s in split.servers] == [a + 4 for a in applied]
        expected = sorted([(videos[0], "like"), (videos[1], "like"), (videos[2], "complete")])  # positive ones
        # The restarted learner replayed the log at start and did not apply the redelivered events again (each
        # topic prefix has its own consumer, so likes and watch events may come in either order).
        kept = sorted((e.video_id, e.kind) for e in second.proc.learner.state.recent(viewer_id))
        assert kept == expected
        mine = second.proc.learner.scorer.user_vector(viewer_id)
        for server in split.servers:
            assert sorted((e.video_id, e.kind) for e in server.rt.learner.state.recent(viewer_id)) == expected
            assert wait_for(lambda server=server: np.array_equal(server.vector(viewer_id), mine))  # type: ignore[misc]
            assert server.steps == []
    finally:
        second.stop()


@pytest.mark.nats
@pytest.mark.slow
def test_the_learner_process_folds_the_creator_analytics_and_the_servers_leave_them_to_it(split: Split) -> None:
    one = split.servers[0]
    viewer_id = do_signup(one.rt.db, "viewer", "correct horse battery").id
    videos = list(split.topic_of)

    def stats(vid: str) -> tuple[int, int, int, float] | None:
        with one.rt.db.session() as s:
            row = s.get(VideoStats, vid)
            return None if row is None else (row.views, row.viewers, row.completed, row.watch_s)

    first = RunningLearner(split.settings)  # its durable consumers start here
    try:
        _finish(one.rt, viewer_id, videos[0])
        deliver(one.rt)
        assert wait_for(lambda: stats(videos[0]) == (1, 1, 1, 10.0), timeout_s=10), stats(videos[0])
    finally:
        first.stop()
    # With no learner running, two servers see the batch relayed and neither folds it.
    _finish(one.rt, viewer_id, videos[1])
    deliver(one.rt)
    time.sleep(1.0)
    assert stats(videos[1]) is None
    second = RunningLearner(split.settings)  # resumes from its durable consumer: the batch is folded now, once
    try:
        assert wait_for(lambda: stats(videos[1]) == (1, 1, 1, 10.0), timeout_s=10), stats(videos[1])
        assert stats(videos[0]) == (1, 1, 1, 10.0)
    finally:
        second.stop()


def test_a_large_delta_is_cut_into_parts_a_gap_is_counted_and_rows_of_another_version_are_left_out(
    sqlite_rt: RegionRuntime,
) -> None:
    # The learner's side and a server's side on the in-process bus: the same code, without NATS.
    bus = InProcessBus()
    publisher = DeltaPublisher(sqlite_rt.learner, bus)
    server = Learner(sqlite_rt.db, sqlite_rt.settings.region_dir)
    server.bootstrap()
    replica = DeltaReplica(server)
    bus.listen("foryou.", replica.on_message)
    model = sqlite_rt.learner.scorer.model
    keys: list[str | int] = [f"u{i}" for i in range(5000)]  # a swap's replay can touch this many rows at once
    vectors = np.random.default_rng(1).normal(size=(len(keys), model.config.dim)).astype(np.float32)
    model.users.assign(keys, vectors, 0.0)
    parts = publisher.flush()
    assert parts > 1  # each part stays well under a NATS message's 1 MiB
    assert replica.deltas == parts and replica.gaps == 0
    mine, _ = model.users.lookup(keys)
    theirs, present = server.scorer.model.users.lookup(keys)
    assert present.all() and np.array_equal(mine, theirs)
    assert publisher.flush() == 0  # nothing new: nothing sent

    publisher.part += 1  # a delta lost on the way
    model.users.assign(["u1"], np.ones((1, model.config.dim)), 0.0)
    model.base_version = "another"  # and the learner has swapped to a version this server does not serve yet
    assert publisher.flush() == 1
    assert replica.gaps == 1 and replica.rows_skipped == 1
    assert not np.array_equal(server.scorer.model.users.get("u1"), np.ones(model.config.dim, dtype=np.float32))
    server.stop()
