"""Public counters count a viewer once per video per UTC day: the marks that say who was already counted.

A view (the first `play`) or a share raises a video's public counter only the first time that viewer does it
on that video on that UTC day; repeats are recorded where learning needs them but counted no more. The viewer
is the signed-in account, or for an anonymous request its network address, and is remembered only as a keyed
hash of (day, viewer) in `counter_marks`: neither ids nor addresses are stored there, and one day's keys cannot
be linked to another's. The marks are written in the transaction that raises the counter, under a unique key,
so several API processes (SQLite or PostgreSQL) never count the same viewer twice.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, delete
from sqlalchemy.orm import Session

from sovereel.storage.db import upsert_for
from sovereel.storage.models import CounterMark

DAY_S = 86400
COUNTER_KINDS = ("view", "share")


def utc_day(ts: float) -> int:
    """Days since the epoch (UTC) of an epoch-seconds time: the period a viewer is counted once in."""
    return int(ts // DAY_S)


def viewer_key(secret: str, day: int, *, user_id: str | None, address: str | None = None) -> str:
    """The keyed hash naming one viewer for one day: the account when signed in, else the request's address."""
    who = f"user:{user_id}" if user_id else f"addr:{address or 'unknown'}"
    return hmac.new(secret.encode(), f"counter-mark|{day}|{who}".encode(), hashlib.sha256).hexdigest()[:48]


def mark_first(s: Session, kind: str, video_ids: Iterable[str], key: str, day: int) -> list[str]:
    """Mark the viewer as counted on these videos today; returns those not marked before (count them now), sorted.

    One INSERT … ON CONFLICT DO NOTHING of every video, in sorted order: a concurrent request of the same viewer
    cannot also count one (the unique key refuses the second), and two transactions take the keys in one order."""
    if kind not in COUNTER_KINDS:
        raise ValueError(f"unknown counter kind {kind!r}")
    # Older days' marks can never match again; yesterday's stay for a process whose clock is a little behind.
    s.execute(delete(CounterMark).where(CounterMark.day < day - 1))
    vids = sorted(set(video_ids))
    if not vids:
        return []
    marks = [{"kind": kind, "video_id": vid, "viewer_key": key, "day": day} for vid in vids]
    # RETURNING, not rowcount: PostgreSQL drivers need not report a row count for a skipped insert.
    return sorted(s.scalars(_marking(s.get_bind().dialect.name), marks))


@functools.cache
def _marking(dialect: str) -> Any:
    """`mark_first`'s insert, built once (the marks come as executemany parameters, sent as one multi-row INSERT)."""
    table = cast(Table, CounterMark.__table__)
    return upsert_for(dialect, table).on_conflict_do_nothing().returning(table.c.video_id)
