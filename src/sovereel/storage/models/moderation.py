"""Trust and safety: reports, moderation actions and notices, appeals, the safety log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sovereel.storage.models.base import Base


class Report(Base):
    """A report of a video, a comment or an account; `reporter_id` is None for the system's own holds."""

    __tablename__ = "reports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reporter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    target_kind: Mapped[str] = mapped_column(String(16))  # video | comment | account
    target_id: Mapped[str] = mapped_column(String(32))
    subject_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # whose content or account
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    created_at: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    action_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        Index("ix_reports_target", "target_kind", "target_id"),
        Index("ix_reports_reporter_created", "reporter_id", "created_at"),
        Index("ix_reports_status", "status"),
    )


class ModerationAction(Base):
    """One decision by a moderator (or by the system, `moderator_id` None): the record of what was done and why."""

    __tablename__ = "moderation_actions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    moderator_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(32))
    subject_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_moderation_actions_target", "target_kind", "target_id"),)


class ModerationNotice(Base):
    """What the affected user is told about an action on their content or account."""

    __tablename__ = "moderation_notices"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("moderation_actions.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(Text)
    appealable: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[float] = mapped_column(Float)
    read_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Appeal(Base):
    """The affected user's one appeal against an action; it goes back to the review queue."""

    __tablename__ = "appeals"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("moderation_actions.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | upheld | granted
    created_at: Mapped[float] = mapped_column(Float)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    decision_action_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class SafetyLogEntry(Base):
    """One trust-and-safety action (block, unblock, settings, comment removal, follow request), as it happened."""

    __tablename__ = "safety_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    # An erased account leaves the other party's record, without itself.
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    subject_id: Mapped[str | None] = mapped_column(  # the affected user
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)
