"""Videos, their media jobs, hashtags and content fingerprints."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from sovereel.storage.models.base import Base


class Video(Base):
    __tablename__ = "videos"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    caption: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default="public")  # public | followers | private
    status: Mapped[str] = mapped_column(String(16), default="processing")  # processing | ready | failed
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    original_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    original_name: Mapped[str] = mapped_column(String(200), default="")
    poster_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    renditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    share_count: Mapped[int] = mapped_column(Integer, default=0)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    ready_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    age_restricted: Mapped[bool] = mapped_column(
        default=False, server_default=false(), index=True
    )  # never shown under 18
    comment_policy: Mapped[str | None] = mapped_column(String(16), nullable=True)  # None: the creator's setting
    # ok | held (awaits review) | removed | not_for_you (servable by link, profile, search; never in For You)
    moderation_state: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    # Set on a public video received through the content exchange from its home region.
    origin_region: Mapped[str | None] = mapped_column(String(32), nullable=True)
    origin_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The sound the video credits (models.sounds): its own audio's, or one chosen with "Use this sound". No foreign
    # key: a sound row is never deleted, and adding one would rebuild this table (and its search triggers) on SQLite.
    sound_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    # How a chosen sound was applied: mix (with the video's own audio) | replace; None when the audio is its own.
    sound_mode: Mapped[str | None] = mapped_column(String(8), nullable=True)

    __table_args__ = (Index("ix_videos_status_visibility_created", "status", "visibility", "created_at"),)


class MediaJob(Base):
    """A transcode job: one per video, retried with backoff, visible through the video's status."""

    __tablename__ = "media_jobs"
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, index=True)
    locked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locked_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class Hashtag(Base):
    __tablename__ = "hashtags"
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)  # lower-cased, without '#'
    video_count: Mapped[int] = mapped_column(Integer, default=0)


class VideoHashtag(Base):
    __tablename__ = "video_hashtags"
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(ForeignKey("hashtags.tag", ondelete="CASCADE"), primary_key=True, index=True)


class VideoFingerprint(Base):
    """Perceptual hashes of frames sampled across a video; `blocked` ones (from removed videos) stop re-uploads.

    No foreign key: a removed video's hashes outlive the video, so deleting it does not reopen the door.
    """

    __tablename__ = "video_fingerprints"
    video_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    creator_id: Mapped[str] = mapped_column(String(32))
    hashes: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"full": [...], "cropped": [...]}: 16-digit hex pHashes
    blocked: Mapped[bool] = mapped_column(default=False, index=True)
    created_at: Mapped[float] = mapped_column(Float)
