"""Folding bus messages into the creator-analytics aggregates (`storage.models.analytics`), once each.

The analytics consumer (`runtime.analytics`) hands every `watch.events`, `social.follow` and `social.unfollow`
message here. Each fold runs in one transaction that first records the message's outbox id in
`analytics_applied`: a redelivered message finds its id there and adds nothing, whichever process folds it.

A watch batch costs a handful of statements whatever its size: one read of the batch's events, one grouped
read of what the same viewers did with the same videos before it (the state each viewer moves on from), and
one upsert statement per aggregate table, covering every (video), (video, second), (video, day) and
(video, source) the batch touched — never a statement per row or per event.
Viewers are never stored: a viewer's reach, completion and last view day come from the event log, which the
account's erasure removes; the aggregates keep only counts.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Table, and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from sovereel.actions.counting import utc_day
from sovereel.events.kinds import PLAYBACK_KINDS, VIEW_SOURCES, WATCHED_TO_END_KINDS
from sovereel.storage.db import RegionDB, upsert, upsert_for
from sovereel.storage.models import (
    AnalyticsApplied,
    Base,
    CreatorDaily,
    Event,
    User,
    Video,
    VideoDaily,
    VideoReach,
    VideoSource,
    VideoStats,
    Watch,
)

APPLIED_KEEP_S = 7 * 86400.0  # JetStream redelivers within minutes; a week of ids is far more than enough
PRUNE_EVERY = 500  # prune the ledger on one message in this many, so its cost is shared out
FOLLOW_WINDOW_S = 3600.0  # a follow counts for the creator's video its follower watched within the hour before
log = logging.getLogger(__name__)


class Folded(Protocol):
    """What a fold reads of a bus message (`events.bus.interface.Message` has it): this layer imports no bus."""

    @property
    def id(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...
    @property
    def created_at(self) -> float: ...


@dataclass
class ViewerState:
    """What one viewer has done with one video so far (read from the event log, never stored)."""

    played: bool = False
    watched_s: float = 0.0
    completed: bool = False
    last_view_day: int | None = None


@dataclass
class Deltas:
    """The increments one message adds to the aggregates."""

    stats: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    watch_s: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    reach: Counter[tuple[str, int]] = field(default_factory=Counter)
    daily_views: Counter[tuple[str, int]] = field(default_factory=Counter)
    daily_watch_s: defaultdict[tuple[str, int], float] = field(default_factory=lambda: defaultdict(float))
    sources: Counter[tuple[str, str]] = field(default_factory=Counter)


def reach_second(watched_s: float, completed: bool, duration_s: float | None) -> int:
    """The whole second of the video a viewer got to: the end once they completed it, else what they watched."""
    if duration_s is None or duration_s <= 0:
        return max(0, math.floor(watched_s))
    end = math.floor(duration_s)
    return end if completed else min(end, max(0, math.floor(watched_s)))


def step(state: ViewerState, event: Event, duration_s: float | None, deltas: Deltas) -> None:
    """Apply one event of a viewer to their state, adding what it changes to `deltas`."""
    vid = event.video_id
    if event.kind not in PLAYBACK_KINDS:
        return  # an impression: on screen, not watched
    before = reach_second(state.watched_s, state.completed, duration_s) if state.played else None
    if not state.played:
        state.played = True
        deltas.stats[vid]["viewers"] += 1
    if event.kind == "play":
        day = utc_day(event.received_at)
        if state.last_view_day != day:  # the public counter's rule: once per viewer and UTC day
            state.last_view_day = day
            deltas.stats[vid]["views"] += 1
            deltas.daily_views[(vid, day)] += 1
            deltas.sources[(vid, event.source if event.source in VIEW_SOURCES else "other")] += 1
    if event.watched_s is not None and event.watched_s > state.watched_s:
        gain = event.watched_s - state.watched_s
        state.watched_s = event.watched_s
        deltas.watch_s[vid] += gain
        deltas.daily_watch_s[(vid, utc_day(event.received_at))] += gain
    if event.kind in WATCHED_TO_END_KINDS and not state.completed:
        state.completed = True
        deltas.stats[vid]["completed"] += 1
    after = reach_second(state.watched_s, state.completed, duration_s)
    if after != before:
        if before is not None:
            deltas.reach[(vid, before)] -= 1
        deltas.reach[(vid, after)] += 1


def do_fold_messages(db: RegionDB, messages: Sequence[Folded]) -> int:
    """Fold several messages (`watch.events`, `social.follow`, `social.unfollow`) in one transaction, in order;
    returns how many were new. A relay batch then waits once for the region's write turn instead of once a
    message: on one SQLite process, folds queued one by one behind the pages' writes fell ever further behind.
    When the batch fails it is folded again message by message, so a bad message costs only itself."""
    try:
        with db.transaction() as s:
            now = time.time()
            return sum(1 for m in messages if _fold(s, m, now))
    except Exception:
        if len(messages) <= 1:
            raise
        log.warning("folding %d messages at once failed; folding them one by one", len(messages), exc_info=True)
    done = 0
    for message in messages:
        try:
            done += do_fold_messages(db, [message])
        except Exception:
            log.exception("folding %s message %s failed", message.topic, message.id)
    return done


def _fold(s: Session, m: Folded, now: float) -> bool:
    if m.topic == "watch.events":
        return _fold_watch(s, m.id, m.payload, now)
    if m.topic in ("social.follow", "social.unfollow"):
        return _fold_follow(s, m.id, m.topic, m.payload, m.created_at or now, now)
    return False  # not an analytics topic: nothing to count


def _fold_watch(s: Session, message_id: int, payload: Mapping[str, Any], now: float) -> bool:
    seqs = [int(e["seq"]) for e in payload.get("events", [])]
    if not _first_time(s, message_id, now):
        return False
    if not seqs:
        return True
    # The batch's events with their videos' length and creator, in one read (an event whose video is gone
    # counts for no one).
    rows = s.execute(
        select(Event, Video.duration_s, Video.creator_id)
        .join(Video, Video.id == Event.video_id)
        .where(Event.seq.in_(seqs))
        .order_by(Event.seq)
    ).all()
    if not rows:
        return True  # the viewer's account (or every video) was erased before this message was folded
    events = [e for e, _, _ in rows]
    duration = {e.video_id: d for e, d, _ in rows}
    creators = {e.video_id: c for e, _, c in rows}
    states = _states_before(s, events)
    deltas = Deltas()
    for e in events:
        step(states[(e.user_id, e.video_id)], e, duration[e.video_id], deltas)
    _write(s, deltas, creators, now)
    return True


def _states_before(s: Session, events: list[Event]) -> dict[tuple[str, str], ViewerState]:
    """Each (viewer, video) of the batch as it stood before the batch: one grouped read of the event log."""
    pairs = {(e.user_id, e.video_id) for e in events}
    first = min(e.seq for e in events)
    playback = Event.kind.in_(sorted(PLAYBACK_KINDS))
    rows = s.execute(
        select(
            Event.user_id,
            Event.video_id,
            func.max(case((playback, 1), else_=0)),
            func.max(case((playback, Event.watched_s), else_=None)),
            func.max(case((Event.kind.in_(sorted(WATCHED_TO_END_KINDS)), 1), else_=0)),
            func.max(case((Event.kind == "play", Event.received_at), else_=None)),
        )
        .where(_pairs_match(pairs), Event.seq < first)
        .group_by(Event.user_id, Event.video_id)
    )
    states = {pair: ViewerState() for pair in pairs}
    for user_id, video_id, played, watched, completed, last_play in rows:
        states[(user_id, video_id)] = ViewerState(
            played=bool(played),
            watched_s=float(watched or 0.0),
            completed=bool(completed),
            last_view_day=utc_day(last_play) if last_play is not None else None,
        )
    return states


def _pairs_match(pairs: set[tuple[str, str]]) -> ColumnElement[bool]:
    """Events of these (viewer, video) pairs, as one condition per viewer (a batch is one viewer's): SQLite answers
    `user_id = ? AND video_id IN (…)` from the viewer's index, where a row-value IN over both columns made it scan
    the whole event log (68 ms a batch at 100,000 events, on the path every watch batch takes)."""
    by_user: dict[str, set[str]] = {}
    for user_id, video_id in pairs:
        by_user.setdefault(user_id, set()).add(video_id)
    return or_(*(and_(Event.user_id == u, Event.video_id.in_(sorted(vs))) for u, vs in sorted(by_user.items())))


def _write(s: Session, d: Deltas, creators: dict[str, str], now: float) -> None:
    """Upsert the increments: one statement per aggregate table, its rows in key order (one lock order for every
    fold, so two folds never deadlock)."""
    stats = [
        {
            "video_id": vid,
            "views": d.stats[vid]["views"] if vid in d.stats else 0,
            "viewers": d.stats[vid]["viewers"] if vid in d.stats else 0,
            "completed": d.stats[vid]["completed"] if vid in d.stats else 0,
            "watch_s": d.watch_s.get(vid, 0.0),
            "new_followers": 0,
            "creator_id": creators[vid],
            "updated_at": now,
        }
        for vid in sorted(set(d.stats) | set(d.watch_s))
    ]
    _add_rows(s, VideoStats, ("video_id",), stats, fixed=("creator_id", "updated_at"))
    reach = [{"video_id": vid, "second": sec, "viewers": n} for (vid, sec), n in sorted(d.reach.items()) if n]
    _add_rows(s, VideoReach, ("video_id", "second"), reach)
    daily = [
        {
            "video_id": vid,
            "day": day,
            "views": d.daily_views.get((vid, day), 0),
            "watch_s": d.daily_watch_s.get((vid, day), 0.0),
            "creator_id": creators[vid],
        }
        for vid, day in sorted(set(d.daily_views) | set(d.daily_watch_s))
    ]
    _add_rows(s, VideoDaily, ("video_id", "day"), daily, fixed=("creator_id",))
    sources = [{"video_id": vid, "source": src, "views": n} for (vid, src), n in sorted(d.sources.items())]
    _add_rows(s, VideoSource, ("video_id", "source"), sources)


def _fold_follow(s: Session, message_id: int, topic: str, payload: Mapping[str, Any], at: float, now: float) -> bool:
    follower, followee = str(payload["user_id"]), str(payload["followee_id"])
    if not _first_time(s, message_id, now):
        return False
    if s.get(User, followee) is None:
        return True  # the followee's account is gone: nothing of theirs to count
    gained, lost = (1, 0) if topic == "social.follow" else (0, 1)
    _add(
        s,
        CreatorDaily,
        {"creator_id": followee, "day": utc_day(at)},
        {"gained": gained, "lost": lost},
        fixed={"updated_at": now},
    )
    if gained:
        won_by = s.scalar(
            select(Watch.video_id)
            .join(Video, Video.id == Watch.video_id)
            .where(
                Watch.user_id == follower,
                Video.creator_id == followee,
                Watch.last_at >= at - FOLLOW_WINDOW_S,
            )
            .order_by(Watch.last_at.desc())
            .limit(1)
        )
        if won_by is not None:
            _add(
                s,
                VideoStats,
                {"video_id": won_by},
                {"views": 0, "viewers": 0, "completed": 0, "watch_s": 0.0, "new_followers": 1},
                fixed={"creator_id": followee, "updated_at": now},
            )
    return True


def _first_time(s: Session, message_id: int, now: float) -> bool:
    """Record the message as folded; False when it already was (the ledger's key refuses it)."""
    table = cast(Table, AnalyticsApplied.__table__)
    stmt = upsert(s, table).values(message_id=message_id, applied_at=now).on_conflict_do_nothing()
    if s.execute(stmt.returning(table.c.message_id)).first() is None:
        return False
    if message_id % PRUNE_EVERY == 0:
        s.execute(delete(AnalyticsApplied).where(AnalyticsApplied.applied_at < now - APPLIED_KEEP_S))
    return True


def _add(
    s: Session,
    model: type[Any],
    key: dict[str, Any],
    increments: dict[str, float],
    fixed: dict[str, Any] | None = None,
) -> None:
    """INSERT the row with `increments` as its values, or add them to the row already there (one statement)."""
    _add_rows(s, model, tuple(key), [{**key, **increments, **(fixed or {})}], fixed=tuple(fixed or ()))


def _add_rows(
    s: Session, model: type[Any], key: tuple[str, ...], rows: list[dict[str, Any]], fixed: tuple[str, ...] = ()
) -> None:
    """INSERT the rows, or add each one's other columns (`col = col + excluded.col`) to the row already there, in
    one statement executed for all the rows; the `fixed` columns are set to the new values instead."""
    if rows:
        table = str(model.__tablename__)
        s.execute(_adding(s.get_bind().dialect.name, table, key, tuple(rows[0]), fixed), rows)


@functools.cache
def _adding(
    dialect: str, table_name: str, key: tuple[str, ...], columns: tuple[str, ...], fixed: tuple[str, ...]
) -> Any:
    """The upsert `_add_rows` runs, built once per shape: the rows come as executemany parameters, so the statement
    is compiled once, and neither a batch's size nor its values make a new one."""
    table = Base.metadata.tables[table_name]
    stmt = upsert_for(dialect, table)
    new = stmt.excluded
    sets = {col: new[col] if col in fixed else table.c[col] + new[col] for col in columns if col not in key}
    return stmt.on_conflict_do_update(index_elements=list(key), set_=sets)
