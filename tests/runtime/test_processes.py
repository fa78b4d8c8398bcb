"""The scaled layout's own processes: the trainer publishes versions that serving processes swap in, and the
relay process publishes the outbox to NATS and marks it delivered."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sovereel.actions.accounts import do_signup
from sovereel.actions.watch import WatchEvent, do_record_events
from sovereel.events.bus.interface import Message, open_bus
from sovereel.events.outbox import emit
from sovereel.foryou.readers import event_log_size
from sovereel.foryou.training import train_if_due
from sovereel.governance.model_registry import ModelRegistry
from sovereel.runtime.processes import run_relay, run_trainer
from sovereel.runtime.region import RegionRuntime, open_runtime
from sovereel.storage.models import OutboxMessage
from tests.support.foryou import TOPICS, seed_ready_videos
from tests.support.scale import NATS_URL, delete_stream, nats_available, unique_region, wait_for
from tests.support.settings import make_settings, require


def watch_everything(rt: RegionRuntime, topic_of: dict[str, str], users: list[str]) -> int:
    now = time.time()
    sent = 0
    for user_id in users:
        events = [
            WatchEvent(client_id=uuid.uuid4().hex, kind="complete", video_id=vid, ts=now, watched_s=10.0)
            for vid in topic_of
        ]
        sent += do_record_events(rt.db, user_id=user_id, events=events).accepted
    return sent


def test_the_trainer_publishes_when_enough_new_events_came_and_serving_swaps_it_in(sqlite_rt: RegionRuntime) -> None:
    rt = sqlite_rt
    assert train_if_due(rt.db, rt.settings.region_dir, 0, min_new_events=10) == 0  # an empty log trains nothing
    assert ModelRegistry(rt.settings.region_dir).current() is None
    creators = {f"{t}{k}": do_signup(rt.db, f"{t}{k}", "correct horse battery").id for t in TOPICS for k in (0, 1)}
    topic_of = seed_ready_videos(rt, creators)
    sent = watch_everything(rt, topic_of, list(creators.values())[:2])
    assert event_log_size(rt.db) == sent
    rt.learner.watch_registry(interval_s=0.1)  # a serving process polls the registry
    size = train_if_due(rt.db, rt.settings.region_dir, 0, min_new_events=10)
    assert size == sent
    first = ModelRegistry(rt.settings.region_dir).current()
    assert first is not None
    assert wait_for(lambda: rt.learner.scorer.version.startswith(first), timeout_s=30)
    # Too few new events since: the published version stays.
    watch_everything(rt, dict(list(topic_of.items())[:3]), list(creators.values())[2:3])
    assert train_if_due(rt.db, rt.settings.region_dir, size, min_new_events=10) == size
    assert ModelRegistry(rt.settings.region_dir).current() == first


def test_the_trainer_loop_trains_at_start_when_nothing_is_published(sqlite_rt: RegionRuntime) -> None:
    rt = sqlite_rt
    creators = {f"{t}{k}": do_signup(rt.db, f"{t}{k}", "correct horse battery").id for t in TOPICS for k in (0, 1)}
    watch_everything(rt, seed_ready_videos(rt, creators), list(creators.values())[:1])
    stop = threading.Event()
    loop = threading.Thread(target=run_trainer, args=(rt.settings, stop, 3600.0, 100))
    loop.start()
    try:
        assert wait_for(lambda: ModelRegistry(rt.settings.region_dir).current() is not None, timeout_s=60)
    finally:
        stop.set()
        loop.join(timeout=30)
    assert not loop.is_alive()  # stops promptly although its next check is an hour away


@pytest.mark.nats
def test_the_relay_process_publishes_the_outbox_to_nats(tmp_path: Path) -> None:
    require(nats_available(), f"NATS with JetStream is not reachable at {NATS_URL}")
    region = unique_region()
    settings = make_settings(tmp_path, region=region, bus_url=NATS_URL, run_relay=False)
    rt = open_runtime(settings)  # an API process: writes the outbox, relays nothing itself
    received: list[Message] = []
    consumer = open_bus(NATS_URL, region=region)
    consumer.subscribe("social.", received.append)
    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(settings, stop, 0.05))
    try:
        with rt.db.transaction() as s:
            for i in range(5):
                emit(s, "social.share", {"user_id": "u", "video_id": f"v{i}"})
        relay.start()
        assert wait_for(lambda: len(received) == 5)
        assert [m.payload["video_id"] for m in received] == [f"v{i}" for i in range(5)]
        assert all(m.created_at > 0 for m in received)

        def drained() -> bool:
            with rt.db.session() as s:
                return s.scalar(select(func.count()).where(OutboxMessage.delivered_at.is_(None))) == 0

        assert wait_for(drained)
    finally:
        stop.set()
        if relay.is_alive():
            relay.join(timeout=15)
        consumer.close()
        rt.close()
        delete_stream(region)


def test_the_relay_refuses_an_in_process_bus(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="SOVEREEL_BUS_URL=nats://"):
        run_relay(make_settings(tmp_path), threading.Event())
