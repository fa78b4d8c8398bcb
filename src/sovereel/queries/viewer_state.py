"""What a For You page needs to know about its viewer, read in one round trip to the store.

A page used to ask the store a dozen small questions (follows, watch history, the scroll's served videos, "not
interested" marks, preferences, blocks, age, and the region's private, teen and age-restricted sets), each a
statement of its own through the ORM. On the embedded default every statement costs more interpreter time
than the store's work, so they are one `UNION ALL` of `(tag, value)` rows here, read with Core, and sorted
into a `ViewerState` in Python. The rules they feed are unchanged: `FeedGate` is the same gate
`queries.safety.feed_gate` builds, from the same conditions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import String, cast, literal, select, union_all
from sqlalchemy.orm import Session

from sovereel.queries.safety import (
    FeedGate,
    private_users_sql,
    protected_teens_sql,
    today_utc,
)
from sovereel.safety.rules import is_adult
from sovereel.storage.models import (
    Block,
    FeedImpression,
    FeedPreferences,
    Follow,
    NotInterested,
    User,
    Video,
    Watch,
)

MARK_KINDS = ("video", "creator", "hashtag")


@dataclass(frozen=True)
class ViewerState:
    """The viewer's side of a page: who they follow, what they watched and were served, their controls."""

    following: frozenset[str]
    watched: frozenset[str]
    served: frozenset[str]  # already on this scroll's earlier pages (written ones; queued ones are added by the caller)
    personalised: bool
    keywords: tuple[str, ...]
    not_interested: dict[str, frozenset[str]]
    gate: FeedGate


def _tagged(tag: str, column: Any) -> Any:
    """A select's one column as text, behind a constant tag naming what it is."""
    return (literal(tag, String).label("tag"), cast(column, String).label("value"))


def viewer_state(s: Session, viewer_id: str, chain: str, today: date | None = None) -> ViewerState:
    """Everything `FeedService.for_you` reads about a signed-in viewer, in one statement."""
    day = today or today_utc()
    parts = [
        select(*_tagged("follow", Follow.followee_id)).where(Follow.follower_id == viewer_id),
        select(*_tagged("watched", Watch.video_id)).where(Watch.user_id == viewer_id),
        select(*_tagged("served", FeedImpression.video_id)).where(FeedImpression.request_id == chain),
        select(literal("mark", String).label("tag"), (NotInterested.kind + ":" + NotInterested.value)).where(
            NotInterested.user_id == viewer_id
        ),
        select(*_tagged("personalised", FeedPreferences.personalised)).where(FeedPreferences.user_id == viewer_id),
        select(*_tagged("keywords", FeedPreferences.keyword_filters)).where(FeedPreferences.user_id == viewer_id),
        select(*_tagged("blocked", Block.blocked_id)).where(Block.blocker_id == viewer_id),
        select(*_tagged("blocked", Block.blocker_id)).where(Block.blocked_id == viewer_id),
        select(*_tagged("born", User.birth_date)).where(User.id == viewer_id),
        select(*_tagged("age_restricted", Video.id)).where(Video.age_restricted.is_(True)),
        select(*_tagged("followers_only", private_users_sql().subquery().c.id)),
        select(*_tagged("followers_only", protected_teens_sql(day).subquery().c.id)),
    ]
    rows: dict[str, list[str]] = {}
    for tag, value in s.execute(union_all(*parts)):
        if value is not None:
            rows.setdefault(tag, []).append(value)
    marks: dict[str, set[str]] = {kind: set() for kind in MARK_KINDS}
    for mark in rows.get("mark", ()):
        kind, _, value = mark.partition(":")
        if kind in marks:
            marks[kind].add(value)
    # A boolean read as text is "1"/"0" on SQLite and "true"/"false" on PostgreSQL.
    personalised = rows.get("personalised", ["1"])[0].lower() in ("1", "true")
    keywords = tuple(str(k) for k in json.loads(rows["keywords"][0] or "[]")) if "keywords" in rows else ()
    born = rows.get("born") or []
    gate = FeedGate(
        blocked=frozenset(rows.get("blocked", ())),
        adult=bool(born) and is_adult(date.fromisoformat(born[0][:10]), day),
        age_restricted=frozenset(rows.get("age_restricted", ())),
        followers_only_creators=frozenset(rows.get("followers_only", ())),
    )
    return ViewerState(
        following=frozenset(rows.get("follow", ())),
        watched=frozenset(rows.get("watched", ())),
        served=frozenset(rows.get("served", ())),
        personalised=personalised,
        keywords=keywords,
        not_interested={kind: frozenset(values) for kind, values in marks.items()},
        gate=gate,
    )
