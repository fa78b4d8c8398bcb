"""Creator analytics: aggregates of a video's audience, kept up to date from the event stream.

No table here names a viewer. Each row is a count keyed by video (or creator) and a bucket (a second of the
video, a UTC day, a view source), raised by upserts as `actions.analytics` folds bus messages in; which
messages were already folded is `analytics_applied` (outbox ids only). A viewer's account erasure therefore
leaves nothing that identifies them; a creator's erasure removes their rows through the foreign keys.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sovereel.storage.models.base import Base


class VideoStats(Base):
    """One video's running totals; `updated_at` is when the newest folded event reached them (the watermark)."""

    __tablename__ = "video_stats"
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    views: Mapped[int] = mapped_column(Integer, default=0)  # first play of a viewer in a UTC day
    viewers: Mapped[int] = mapped_column(Integer, default=0)  # distinct viewers who played it
    completed: Mapped[int] = mapped_column(Integer, default=0)  # distinct viewers who watched to the end
    watch_s: Mapped[float] = mapped_column(Float, default=0.0)  # sum over viewers of the most each watched
    new_followers: Mapped[int] = mapped_column(Integer, default=0)  # follows of the creator right after it
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)


class VideoReach(Base):
    """How many viewers got exactly to `second` of the video and no further (the retention curve's histogram)."""

    __tablename__ = "video_reach"
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    second: Mapped[int] = mapped_column(Integer, primary_key=True)
    viewers: Mapped[int] = mapped_column(Integer, default=0)


class VideoDaily(Base):
    """A video's views and watch time per UTC day (`day`: days since the epoch)."""

    __tablename__ = "video_daily"
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    views: Mapped[int] = mapped_column(Integer, default=0)
    watch_s: Mapped[float] = mapped_column(Float, default=0.0)


class VideoSource(Base):
    """A video's views by where they came from (`source`: one of `events.kinds.VIEW_SOURCES`)."""

    __tablename__ = "video_sources"
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)


class CreatorDaily(Base):
    """An account's followers gained and lost per UTC day."""

    __tablename__ = "creator_daily"
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    gained: Mapped[int] = mapped_column(Integer, default=0)
    lost: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)


class AnalyticsApplied(Base):
    """The outbox ids of the bus messages already folded into the aggregates, so a redelivery adds nothing."""

    __tablename__ = "analytics_applied"
    message_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    applied_at: Mapped[float] = mapped_column(Float, index=True)
