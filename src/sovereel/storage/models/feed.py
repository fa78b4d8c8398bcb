"""The event log and what the feed keeps per viewer: watches, impressions, preferences, the outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sovereel.storage.models.base import Base


class Event(Base):
    """The region's event log: append-only, ordered by `seq`, stored once per (user, client_id)."""

    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    video_id: Mapped[str] = mapped_column(String(32), index=True)
    client_ts: Mapped[float] = mapped_column(Float)
    received_at: Mapped[float] = mapped_column(Float)
    watched_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    position_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Where the viewer found the video (`events.kinds.VIEW_SOURCES`); None from clients that do not say.
    source: Mapped[str | None] = mapped_column(String(16), nullable=True)

    __table_args__ = (UniqueConstraint("user_id", "client_id", name="uq_events_user_client"),)


class Watch(Base):
    """What a user has watched: the seen set that For You filters on (one row per user and video)."""

    __tablename__ = "watches"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    watched_s: Mapped[float] = mapped_column(Float, default=0.0)
    completed: Mapped[bool] = mapped_column(default=False)
    last_at: Mapped[float] = mapped_column(Float)


class FeedImpression(Base):
    """One item served in a feed page, with the reason record that explains and replays it."""

    __tablename__ = "feed_impressions"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    video_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    reason: Mapped[dict[str, Any]] = mapped_column(JSON)
    served_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_feed_impressions_user_video", "user_id", "video_id"),)


class OutboxMessage(Base):
    """An event written in the same transaction as the change it describes; relayed after commit."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class FeedPreferences(Base):
    """A user's For You controls; honoured across sessions."""

    __tablename__ = "feed_preferences"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    personalised: Mapped[bool] = mapped_column(default=True)  # False: the EU DSA Art. 38 non-profiled feed
    keyword_filters: Mapped[list[Any]] = mapped_column(JSON, default=list)
    profile_reset_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # "Refresh For You"
    updated_at: Mapped[float] = mapped_column(Float)


class NotInterested(Base):
    """ "Not interested" marks: a video, a creator (user id) or a hashtag the user does not want in For You."""

    __tablename__ = "not_interested"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # video | creator | hashtag
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)
