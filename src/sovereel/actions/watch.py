"""Recording watch events: stored once per client id, reflected in the seen set, relayed through the outbox.

Every event is kept for learning (watch progress), but a video's public view count rises only on a viewer's
first `play` of it in a UTC day (`actions.counting`), so replaying plays under fresh client ids counts nothing.
An event naming a video the viewer may not see is refused exactly like one naming no video at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from sovereel.actions.counting import mark_first, utc_day, viewer_key
from sovereel.errors import Invalid
from sovereel.events.kinds import PLAYBACK_KINDS, WATCHED_TO_END_KINDS
from sovereel.events.outbox import emit
from sovereel.queries.access import unseen_videos
from sovereel.storage.db import RegionDB
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


def _record(db: RegionDB, user_id: str, events: list[WatchEvent], counter_secret: str) -> RecordResult:
    now = time.time()
    with db.transaction() as s:
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
        rows = [
            Event(
                region=db.region,
                user_id=user_id,
                client_id=e.client_id,
                kind=e.kind,
                video_id=e.video_id,
                client_ts=e.ts,
                received_at=now,
                watched_s=e.watched_s,
                position_s=e.position_s,
                request_id=e.request_id,
                source=e.source,
            )
            for e in fresh.values()
        ]
        s.add_all(rows)
        s.flush()
        for e in fresh.values():
            if e.kind in PLAYBACK_KINDS:
                _touch_watch(s, user_id, e, now)
        # The server's day, not the client's clock: a back-dated play cannot open another day's count.
        day = utc_day(now)
        played = {e.video_id for e in fresh.values() if e.kind == "play"}
        counted = mark_first(s, "view", played, viewer_key(counter_secret, day, user_id=user_id), day)
        for vid in counted:  # sorted: one lock order for every batch, so no deadlocks between batches
            s.execute(update(Video).where(Video.id == vid).values(view_count=Video.view_count + 1))
        emit(
            s,
            "watch.events",
            {
                "user_id": user_id,
                "events": [
                    {"seq": r.seq, "video_id": r.video_id, "kind": r.kind, "watched_s": r.watched_s, "ts": r.client_ts}
                    for r in rows
                ],
            },
        )
        return RecordResult(len(rows), len(events) - len(rows))


def _touch_watch(s: Session, user_id: str, e: WatchEvent, now: float) -> None:
    row = s.get(Watch, (user_id, e.video_id))
    if row is None:
        row = Watch(user_id=user_id, video_id=e.video_id, watched_s=0.0, completed=False, last_at=now)
        s.add(row)
    if e.watched_s is not None:
        row.watched_s = max(row.watched_s, e.watched_s)
    if e.kind in WATCHED_TO_END_KINDS:
        row.completed = True
    row.last_at = now
