"""Recording a watch-event batch (`actions.watch`), on SQLite and PostgreSQL: the event log keeps the batch's order
(the learner and the analytics fold replay a viewer's events in it), and the viewer's watch row of each video
keeps the furthest point reached and a completion, whatever order or batch the events come in."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select

from sovereel.actions.accounts import do_signup
from sovereel.actions.watch import WatchEvent, do_record_events
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Event, Video, Watch
from tests.support.counters import ready_video


def batch(*events: tuple[str, str, float | None]) -> list[WatchEvent]:
    now = time.time()
    return [WatchEvent(uuid.uuid4().hex, kind, vid, now, watched_s=w) for kind, vid, w in events]


def watch_rows(rt: RegionRuntime, user_id: str) -> dict[str, tuple[float, bool]]:
    with rt.db.session() as s:
        return {
            w.video_id: (w.watched_s, w.completed) for w in s.scalars(select(Watch).where(Watch.user_id == user_id))
        }


def test_the_log_keeps_the_batch_order_and_watch_rows_keep_the_furthest_point(rt: RegionRuntime) -> None:
    creator = do_signup(rt.db, "creator", "correct horse battery").id
    viewer = do_signup(rt.db, "viewer", "correct horse battery").id
    a, b, c = (ready_video(rt, creator) for _ in range(3))
    first = batch(
        ("impression", c, None), ("play", c, 0.0), ("progress", c, 6.5), ("skip", c, 2.0),  # a rewind, then away
        ("impression", a, None), ("play", a, 0.0), ("complete", a, 10.0),
        ("impression", b, None),  # on screen, never played: no watch row
    )  # fmt: skip
    assert do_record_events(rt.db, user_id=viewer, events=first).accepted == len(first)
    with rt.db.session() as s:
        logged = list(s.scalars(select(Event.client_id).where(Event.user_id == viewer).order_by(Event.seq)))
        views = {v.id: v.view_count for v in s.scalars(select(Video).where(Video.id.in_([a, b, c])))}
    assert logged == [e.client_id for e in first]
    assert watch_rows(rt, viewer) == {c: (6.5, False), a: (10.0, True)}
    assert views == {a: 1, b: 0, c: 1}

    again = batch(("play", a, 0.0), ("skip", a, 3.0), ("loop", c, 1.0), ("play", b, None))
    assert do_record_events(rt.db, user_id=viewer, events=again).accepted == len(again)
    # A later, shorter watch does not undo the furthest point or the completion; a loop completes.
    assert watch_rows(rt, viewer) == {a: (10.0, True), b: (0.0, False), c: (6.5, True)}
    with rt.db.session() as s:
        assert {v.id: v.view_count for v in s.scalars(select(Video).where(Video.id.in_([a, b, c])))} == views | {b: 1}
    # The same batch sent again is stored once.
    assert do_record_events(rt.db, user_id=viewer, events=again).duplicates == len(again)
