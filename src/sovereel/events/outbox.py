"""Writing events into the outbox, in the same transaction as the change they describe.

The topics, their payloads, and who emits and consumes each are declared once, in `events.topics`; `emit`
refuses any other topic, or a payload whose fields are not its topic's. One overload a topic lets mypy check
each call's payload against its declared type (tests/backends/test_topics.py keeps them in step with `TOPICS`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal, overload

from sqlalchemy.orm import Session

from sovereel.events import topics as t
from sovereel.storage.models import OutboxMessage

_FIELDS = {name: topic.fields for name, topic in t.TOPICS.items()}


@overload
def emit(session: Session, topic: Literal["video.uploaded"], payload: t.VideoUploaded) -> None: ...


@overload
def emit(session: Session, topic: Literal["video.ready"], payload: t.VideoReady) -> None: ...


@overload
def emit(session: Session, topic: Literal["video.failed"], payload: t.VideoFailed) -> None: ...


@overload
def emit(session: Session, topic: Literal["video.deleted"], payload: t.VideoDeleted) -> None: ...


@overload
def emit(session: Session, topic: Literal["video.moderated"], payload: t.VideoModerated) -> None: ...


@overload
def emit(session: Session, topic: Literal["watch.events"], payload: t.WatchEvents) -> None: ...


@overload
def emit(session: Session, topic: Literal["social.like"], payload: t.Like) -> None: ...


@overload
def emit(session: Session, topic: Literal["social.unlike"], payload: t.Unlike) -> None: ...


@overload
def emit(session: Session, topic: Literal["social.follow"], payload: t.Follow) -> None: ...


@overload
def emit(session: Session, topic: Literal["social.unfollow"], payload: t.Follow) -> None: ...


@overload
def emit(session: Session, topic: Literal["social.follow_request"], payload: t.FollowRequest) -> None: ...


@overload
def emit(session: Session, topic: Literal["social.comment"], payload: t.Comment) -> None: ...


@overload
def emit(session: Session, topic: Literal["social.share"], payload: t.Share) -> None: ...


@overload
def emit(session: Session, topic: Literal["safety.block"], payload: t.Block) -> None: ...


@overload
def emit(session: Session, topic: Literal["safety.unblock"], payload: t.Unblock) -> None: ...


@overload
def emit(session: Session, topic: Literal["moderation.reported"], payload: t.ModerationReported) -> None: ...


@overload
def emit(session: Session, topic: Literal["moderation.held"], payload: t.ModerationHeld) -> None: ...


@overload
def emit(session: Session, topic: Literal["moderation.action"], payload: t.ModerationAction) -> None: ...


@overload
def emit(session: Session, topic: Literal["moderation.appealed"], payload: t.ModerationAppealed) -> None: ...


@overload
def emit(session: Session, topic: Literal["feed.not_interested"], payload: t.NotInterested) -> None: ...


@overload
def emit(session: Session, topic: Literal["feed.personalisation"], payload: t.Personalisation) -> None: ...


@overload
def emit(session: Session, topic: Literal["feed.profile_reset"], payload: t.ProfileReset) -> None: ...


@overload
def emit(session: Session, topic: Literal["notification.created"], payload: t.NotificationCreated) -> None: ...


@overload
def emit(session: Session, topic: Literal["notification.cleared"], payload: t.NotificationCleared) -> None: ...


def emit(session: Session, topic: str, payload: Mapping[str, Any]) -> None:
    """Queue an event; it leaves only after the surrounding transaction commits."""
    fields = _FIELDS.get(topic)
    if fields is None:
        raise ValueError(f"unknown bus topic {topic!r}: declare it in sovereel.events.topics")
    if payload.keys() != fields:
        raise ValueError(f"{topic} payload has fields {sorted(payload)}; {sorted(fields)} are declared")
    session.add(OutboxMessage(topic=topic, payload=dict(payload), created_at=time.time()))
