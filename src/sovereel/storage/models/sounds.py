"""Sounds: the audio of an upload, reusable by other videos ("original sound – @ana"), and who may reuse it.

A sound is made from the first upload of its audio (`original_video_id`); later uploads whose audio matches its
Chromaprint fingerprint, and videos made with "Use this sound", point at it through `videos.sound_id`. The row
outlives its original video: when that video is deleted or its creator erased, `original_video_id` and
`creator_id` become NULL, the audio and fingerprint are dropped, and the sound page says the original is gone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column

from sovereel.storage.models.base import Base


class Sound(Base):
    __tablename__ = "sounds"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    creator_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    original_video_id: Mapped[str | None] = mapped_column(
        ForeignKey("videos.id", ondelete="SET NULL"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(100), default="original sound")
    audio_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # AAC in MP4; None once erased
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Chromaprint's raw fingerprint (`fpcalc -raw`): 32-bit sub-fingerprints, about 8 a second. None once erased.
    fingerprint: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, index=True)


class SoundPreferences(Base):
    """A creator's choice about their original sounds; no row means the default (others may use them)."""

    __tablename__ = "sound_preferences"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    allow_reuse: Mapped[bool] = mapped_column(default=True, server_default=true())
    updated_at: Mapped[float] = mapped_column(Float)
