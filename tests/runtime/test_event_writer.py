"""The event endpoint's writer (`runtime.event_writer`): batches that arrive while a write is under way are
stored together, each exactly as it would be alone; a refused batch is refused alone; on SQLite the group
takes one write transaction instead of one per viewer."""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import nullcontext
from typing import Any

import pytest
from sqlalchemy import event, func, select

from sovereel.actions.accounts import do_signup
from sovereel.actions.watch import RecordResult, WatchEvent
from sovereel.errors import Invalid
from sovereel.runtime.event_writer import EventWriter
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Event, Video, Watch
from tests.support.counters import ready_video


def batch(*events: tuple[str, str, float | None]) -> list[WatchEvent]:
    now = time.time()
    return [WatchEvent(uuid.uuid4().hex, kind, vid, now, watched_s=w) for kind, vid, w in events]


def record_during_a_write(
    rt: RegionRuntime, writer: EventWriter, sends: list[tuple[str, str, list[WatchEvent]]]
) -> dict[str, RecordResult | Exception]:
    """Each (key, viewer, events) sent from its own thread while another writer of this process holds the store
    (SQLite; on PostgreSQL nothing is held): the outcome of each, by key."""
    outcomes: dict[str, RecordResult | Exception] = {}

    def send(key: str, who: str, events: list[WatchEvent]) -> None:
        try:
            outcomes[key] = writer.record(who, events)
        except Exception as exc:
            outcomes[key] = exc

    threads = [threading.Thread(target=send, args=args) for args in sends]
    with rt.db._write_lock or nullcontext():  # every batch below arrives while that write runs
        for t in threads:
            t.start()
            time.sleep(0.02)
        time.sleep(0.3)
    for t in threads:
        t.join(30)
    return outcomes


def test_batches_sent_during_a_write_are_each_stored_once_and_a_refused_one_alone(rt: RegionRuntime) -> None:
    creator = do_signup(rt.db, "creator", "correct horse battery").id
    viewers = [do_signup(rt.db, f"viewer{i}", "correct horse battery").id for i in range(6)]
    clip = ready_video(rt, creator)
    sent = {v: batch(("impression", clip, None), ("play", clip, 0.0), ("complete", clip, 10.0)) for v in viewers}
    made_up = batch(("impression", clip, None), ("play", "no-such-video", 0.0))
    commits: list[int] = []

    def count(_conn: Any) -> None:
        commits.append(1)

    sends = [(v, v, sent[v]) for v in viewers] + [("made-up", viewers[0], made_up)]
    event.listen(rt.db.engine, "commit", count)
    try:
        outcomes = record_during_a_write(rt, rt.events, sends)
    finally:
        event.remove(rt.db.engine, "commit", count)

    assert isinstance(outcomes.pop("made-up"), Invalid)
    assert outcomes == {v: RecordResult(3, 0) for v in viewers}
    with rt.db.session() as s:
        logged = {
            v: list(s.scalars(select(Event.client_id).where(Event.user_id == v).order_by(Event.seq))) for v in viewers
        }
        views = s.scalar(select(Video.view_count).where(Video.id == clip))
        completed = s.scalar(select(func.count()).select_from(Watch).where(Watch.video_id == clip, Watch.completed))
    assert logged == {
        v: [e.client_id for e in sent[v]] for v in viewers
    }  # in each batch's order, nothing of the refused one
    assert views == len(viewers) and completed == len(viewers)
    if rt.db.dialect == "sqlite":
        # The first batch found no write of its own under way and waited for the store alone; the six behind it
        # went in together: two transactions (and the refused batch's reads) for seven batches.
        assert len(commits) <= 2, commits

    # Sent again (a client's retry), every batch is a duplicate, whether grouped or not.
    again: dict[str, RecordResult] = {}
    retries = [threading.Thread(target=lambda v=v: again.__setitem__(v, rt.events.record(v, sent[v]))) for v in viewers]
    for t in retries:
        t.start()
    for t in retries:
        t.join(30)
    assert again == {v: RecordResult(0, 3) for v in viewers}
    with rt.db.session() as s:
        assert s.scalar(select(Video.view_count).where(Video.id == clip)) == len(viewers)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_group_that_fails_answers_each_of_its_batches_and_the_next_group_is_written(rt: RegionRuntime) -> None:
    """A write that fails (here the store refuses every write) fails each waiting batch's request, and the
    batches that come after are written as soon as the store takes writes again."""
    creator = do_signup(rt.db, "creator", "correct horse battery").id
    viewer = do_signup(rt.db, "viewer", "correct horse battery").id
    clip = ready_video(rt, creator)

    def refuse(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            raise RuntimeError("the disk is full")

    event.listen(rt.db.engine, "before_cursor_execute", refuse)
    try:
        with pytest.raises(RuntimeError, match="disk is full"):
            rt.events.record(viewer, batch(("play", clip, 0.0)))
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", refuse)
    assert rt.events.record(viewer, batch(("play", clip, 0.0), ("complete", clip, 9.0))) == RecordResult(2, 0)
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.user_id == viewer)) == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_more_batches_than_a_group_holds_are_all_written(rt: RegionRuntime) -> None:
    """Batches queued beyond one group's size wait for the next group, never for nothing."""
    creator = do_signup(rt.db, "creator", "correct horse battery").id
    viewers = [do_signup(rt.db, f"viewer{i}", "correct horse battery").id for i in range(7)]
    clip = ready_video(rt, creator)
    writer = EventWriter(rt.db, rt.settings.secret_key, max_group=2)
    # All seven queue behind a write; groups of two then take them in turn.
    outcomes = record_during_a_write(rt, writer, [(v, v, batch(("play", clip, 0.0))) for v in viewers])
    assert outcomes == {v: RecordResult(1, 0) for v in viewers}
