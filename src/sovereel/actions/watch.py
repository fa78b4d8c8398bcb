"""Recording watch events: stored once per client id, reflected in the seen set, relayed through the outbox.

Every event is kept for learning (watch progress), but a video's public view count rises only on a viewer's
first `play` of it in a UTC day (`actions.counting`), so replaying plays under fresh client ids counts nothing.
An event naming a video the viewer may not see is refused exactly like one naming no video at all.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from sovereel.actions.counting import mark_first, utc_day, viewer_key
from sovereel.errors import Invalid
from sovereel.events.kinds import PLAYBACK_KINDS, WATCHED_TO_END_KINDS
from sovereel.events.outbox import emit
from sovereel.queries.access import unseen_videos
from sovereel.storage.db import RegionDB, upsert_for
from sovereel.storage.models import Event, Video, Watch


@dataclass(frozen=True)
class WatchEvent:
    """One event as the page reports it (validated by the API schema)."""

    client_id: str
    kind: str
    video_id: str
    ts: float  # client time, epoch seconds
    watched_s: float | None = None
    position_s: float | None = None
    request_id: str | None = None
    source: str | None = None  # where the viewer found the video (`events.kinds.VIEW_SOURCES`)


@dataclass(frozen=True)
class RecordResult:
    accepted: int
    duplicates: int


def do_record_events(db: RegionDB, *, user_id: str, events: list[WatchEvent], counter_secret: str = "") -> RecordResult:
    """Append a batch to the event log; a retried batch (same client ids) is stored once.

    `counter_secret` keys the hash that remembers whom a view was counted for (the region's secret key)."""
    if not events:
        return RecordResult(0, 0)
    for attempt in range(3):
        try:
            return _record(db, user_id, events, counter_secret)
        except IntegrityError:
            if attempt == 2:  # a concurrent retry of the same batch won every time; report it as duplicates
                raise
        except OperationalError as exc:
            # PostgreSQL aborts one side of a lock conflict; the batch is idempotent, so run it again.
            if attempt == 2 or "deadlock" not in str(exc).lower():
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class ViewerBatch:
    """One viewer's batch, as one of several recorded in one transaction (`do_record_event_batches`)."""

    user_id: str
    events: list[WatchEvent]


def do_record_event_batches(
    db: RegionDB, batches: list[ViewerBatch], counter_secret: str
) -> list[RecordResult | Invalid]:
    """Record several viewers' batches in one transaction: each one's result, or the `Invalid` that refused it.

    The same statements per batch as `do_record_events`, and the same outcome, but one write turn and one commit
    for the lot (the event endpoint groups the batches that arrive while a write is under way:
    `runtime.event_writer`). A refused batch has written nothing when it is refused (its checks come before its
    writes), so the others still commit. Anything else (a concurrent retry of the same batch in another process,
    a deadlock) fails the whole transaction: the caller records those batches one by one instead."""
    results: list[RecordResult | Invalid] = []
    with db.transaction() as s:
        for batch in batches:
            if not batch.events:
                results.append(RecordResult(0, 0))
                continue
            try:
                results.append(_record_in(s, db.region, batch.user_id, batch.events, counter_secret))
            except Invalid as refused:
                results.append(refused)
    return results


def _record(db: RegionDB, user_id: str, events: list[WatchEvent], counter_secret: str) -> RecordResult:
    with db.transaction() as s:
        return _record_in(s, db.region, user_id, events, counter_secret)


def _record_in(s: Session, region: str, user_id: str, events: list[WatchEvent], counter_secret: str) -> RecordResult:
    # A handful of statements whatever the batch's size (the phone app sends one after every page): one read of
    # known client ids, one visibility check for all the batch's videos, one insert of the events, one upsert of
    # the watch rows, one of the counter marks and one executemany of the view counters. Nothing is written
    # before the checks: a refused batch leaves the transaction as it found it.
    now = time.time()
    ids = [e.client_id for e in events]
    known = set(s.scalars(select(Event.client_id).where(Event.user_id == user_id, Event.client_id.in_(ids))))
    fresh: dict[str, WatchEvent] = {}
    for e in events:
        if e.client_id not in known and e.client_id not in fresh:
            fresh[e.client_id] = e
    if not fresh:
        return RecordResult(0, len(events))
    missing = unseen_videos(s, {e.video_id for e in fresh.values()}, user_id)
    if missing:
        # No ids in the message: it must read the same for a hidden video as for a made-up one.
        raise Invalid("an event names a video that does not exist", code="unknown_video")
    table = cast(Table, Event.__table__)
    rows = [
        {
            "region": region,
            "user_id": user_id,
            "client_id": e.client_id,
            "kind": e.kind,
            "video_id": e.video_id,
            "client_ts": e.ts,
            "received_at": now,
            "watched_s": e.watched_s,
            "position_s": e.position_s,
            "request_id": e.request_id,
            "source": e.source,
        }
        for e in fresh.values()
    ]
    # One multi-row INSERT, whose rows take their sequence numbers in the batch's order (the order the log's
    # consumers replay a viewer's events in); each comes back with its client id, which is unique in the batch.
    # PostgreSQL is told to keep that order explicitly, which SQLAlchemy does within the one statement; SQLite
    # inserts the rows in order anyway, and asked to keep it would send one INSERT per row.
    ordered = s.get_bind().dialect.name == "postgresql"
    stmt = insert(table).returning(table.c.seq, table.c.client_id, sort_by_parameter_order=ordered)
    seq_of = {client_id: seq for seq, client_id in s.execute(stmt, rows)}
    _touch_watches(s, user_id, list(fresh.values()), now)
    # The server's day, not the client's clock: a back-dated play cannot open another day's count.
    day = utc_day(now)
    played = {e.video_id for e in fresh.values() if e.kind == "play"}
    counted = mark_first(s, "view", played, viewer_key(counter_secret, day, user_id=user_id), day)
    if counted:  # sorted: one lock order for every batch, so no deadlocks between batches
        bump = update(Video).where(Video.id == bindparam("vid")).values(view_count=Video.view_count + 1)
        s.connection().execute(bump, [{"vid": vid} for vid in counted])
    emit(
        s,
        "watch.events",
        {
            "user_id": user_id,
            "events": [
                {
                    "seq": int(seq_of[e.client_id]),
                    "video_id": e.video_id,
                    "kind": e.kind,
                    "watched_s": e.watched_s,
                    "ts": e.ts,
                }
                for e in fresh.values()
            ],
        },
    )
    return RecordResult(len(rows), len(events) - len(rows))


def _touch_watches(s: Session, user_id: str, fresh: list[WatchEvent], now: float) -> None:
    """Upsert the viewer's watch row of every video the batch played, in one statement: the furthest second
    watched only grows, a video watched to the end stays completed, and `last_at` is now."""
    watched: dict[str, float] = {}
    completed: dict[str, bool] = {}
    for e in fresh:
        if e.kind not in PLAYBACK_KINDS:
            continue
        watched[e.video_id] = max(watched.get(e.video_id, 0.0), e.watched_s or 0.0)
        completed[e.video_id] = completed.get(e.video_id, False) or e.kind in WATCHED_TO_END_KINDS
    if not watched:
        return
    rows = [
        {"user_id": user_id, "video_id": v, "watched_s": watched[v], "completed": completed[v], "last_at": now}
        for v in sorted(watched)  # one lock order for every batch
    ]
    s.execute(_watch_upsert(s.get_bind().dialect.name), rows)


@functools.cache
def _watch_upsert(dialect: str) -> Any:
    """The upsert `_touch_watches` runs, built once: the rows come as executemany parameters."""
    table = cast(Table, Watch.__table__)
    ins = upsert_for(dialect, table)
    new = ins.excluded
    return ins.on_conflict_do_update(
        index_elements=["user_id", "video_id"],
        set_={
            "watched_s": case((new.watched_s > table.c.watched_s, new.watched_s), else_=table.c.watched_s),
            "completed": or_(table.c.completed, new.completed),
            "last_at": new.last_at,
        },
    )
