"""Recording watch events: stored once per client id, reflected in the seen set, relayed through the outbox."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from sovereel.errors import Invalid
from sovereel.events.outbox import emit
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Event, Video, Watch

EVENT_KINDS = ("impression", "play", "progress", "complete", "loop", "skip")


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


@dataclass(frozen=True)
class RecordResult:
    accepted: int
    duplicates: int


def do_record_events(db: RegionDB, *, user_id: str, events: list[WatchEvent]) -> RecordResult:
    """Append a batch to the event log; a retried batch (same client ids) is stored once."""
    if not events:
        return RecordResult(0, 0)
    for attempt in range(3):
        try:
            return _record(db, user_id, events)
        except IntegrityError:
            if attempt == 2:  # a concurrent retry of the same batch won every time; report it as duplicates
                raise
        except OperationalError as exc:
            # PostgreSQL aborts one side of a lock conflict; the batch is idempotent, so run it again.
            if attempt == 2 or "deadlock" not in str(exc).lower():
                raise
    raise AssertionError("unreachable")


def _record(db: RegionDB, user_id: str, events: list[WatchEvent]) -> RecordResult:
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
        video_ids = {e.video_id for e in fresh.values()}
        existing = set(s.scalars(select(Video.id).where(Video.id.in_(video_ids))))
        missing = sorted(video_ids - existing)
        if missing:
            raise Invalid(f"events name unknown videos: {', '.join(missing[:5])}", code="unknown_video")
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
            )
            for e in fresh.values()
        ]
        s.add_all(rows)
        s.flush()
        plays: dict[str, int] = {}
        for e in fresh.values():
            if e.kind == "play":
                plays[e.video_id] = plays.get(e.video_id, 0) + 1
            if e.kind in ("play", "progress", "complete", "loop", "skip"):
                _touch_watch(s, user_id, e, now)
        for vid, n in sorted(plays.items()):  # one lock order for every batch: no deadlocks between batches
            s.execute(update(Video).where(Video.id == vid).values(view_count=Video.view_count + n))
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
    if e.kind in ("complete", "loop"):
        row.completed = True
    row.last_at = now
