"""The viewer's For You controls: not interested, keyword filters, refresh, and the non-personalised mode."""

from __future__ import annotations

import time

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sovereel.errors import Invalid, NotFound
from sovereel.events.outbox import emit
from sovereel.storage.db import RegionDB
from sovereel.storage.models import FeedPreferences, Hashtag, NotInterested, User, Video

MAX_KEYWORDS = 100


def _prefs(s: Session, user_id: str) -> FeedPreferences:
    prefs = s.get(FeedPreferences, user_id)
    if prefs is None:
        prefs = FeedPreferences(
            user_id=user_id, personalised=True, keyword_filters=[], profile_reset_at=None, updated_at=time.time()
        )
        s.add(prefs)
        s.flush()
    return prefs


def _resolve(s: Session, kind: str, value: str) -> str:
    """The stored key of a not-interested mark: a video id, a creator's user id, or a lower-case hashtag."""
    if kind == "video":
        if s.get(Video, value) is None:
            raise NotFound("no such video")
        return value
    if kind == "creator":
        user = s.scalar(select(User).where(User.username_key == value.lower().lstrip("@")))
        if user is None:
            raise NotFound("no such creator")
        return user.id
    if kind == "hashtag":
        tag = value.lower().lstrip("#")
        if s.get(Hashtag, tag) is None:
            raise NotFound("no such hashtag")
        return tag
    raise Invalid("kind must be video, creator or hashtag", code="bad_kind")


def do_not_interested(db: RegionDB, *, user_id: str, kind: str, value: str, undo: bool = False) -> None:
    """Mark (or unmark) a video, creator or hashtag as not interesting; For You leaves it out from now on."""
    with db.transaction() as s:
        key = _resolve(s, kind, value)
        s.execute(
            delete(NotInterested).where(
                NotInterested.user_id == user_id, NotInterested.kind == kind, NotInterested.value == key
            )
        )
        if not undo:
            s.add(NotInterested(user_id=user_id, kind=kind, value=key, created_at=time.time()))
            emit(s, "feed.not_interested", {"user_id": user_id, "kind": kind, "value": key})


def check_keywords(words: list[str]) -> list[str]:
    cleaned = []
    for w in words:
        w = w.strip().lower()
        if not w:
            continue
        if len(w) > 50:
            raise Invalid("a keyword filter is at most 50 characters", code="keyword_too_long")
        if w not in cleaned:
            cleaned.append(w)
    if len(cleaned) > MAX_KEYWORDS:
        raise Invalid(f"at most {MAX_KEYWORDS} keyword filters", code="too_many_keywords")
    return cleaned


def do_update_feed_settings(
    db: RegionDB, *, user_id: str, personalised: bool | None = None, keyword_filters: list[str] | None = None
) -> FeedPreferences:
    """Change keyword filters or switch personalisation on/off (recorded, so it holds across sessions)."""
    with db.transaction() as s:
        prefs = _prefs(s, user_id)
        if keyword_filters is not None:
            prefs.keyword_filters = check_keywords(keyword_filters)
        if personalised is not None and personalised != prefs.personalised:
            prefs.personalised = personalised
            emit(s, "feed.personalisation", {"user_id": user_id, "personalised": personalised})
        prefs.updated_at = time.time()
        return prefs


def do_refresh_for_you(db: RegionDB, *, user_id: str) -> float:
    """Forget the learned interest profile (follows and filters stay); returns the reset time."""
    now = time.time()
    with db.transaction() as s:
        prefs = _prefs(s, user_id)
        prefs.profile_reset_at = now
        prefs.updated_at = now
        emit(s, "feed.profile_reset", {"user_id": user_id, "at": now})
    return now
