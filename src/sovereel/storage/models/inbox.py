"""The inbox: notifications and each account's per-kind notification settings."""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sovereel.storage.models.base import Base


class Notification(Base):
    """Something that happened to `user_id` (the recipient), caused by `actor_id` (None for a moderation notice).

    Likes of one video share a `group_key` (`like:<video id>`) and are shown as one item ("ana and 12 others
    liked your video"), counting the likes there are now: an unlike deletes its row. Every other notification is
    its own group (its id). A moderation notice is shown through its `notice_id` (its text stays in the notice).
    Both user columns cascade, so an erased recipient's or actor's notifications go with the account."""

    __tablename__ = "notifications"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # time-sortable: the inbox's cursor
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(24))  # sovereel.actions.notifications.KINDS
    group_key: Mapped[str] = mapped_column(String(64))
    video_id: Mapped[str | None] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), nullable=True)
    comment_id: Mapped[str | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), nullable=True)
    notice_id: Mapped[str | None] = mapped_column(
        ForeignKey("moderation_notices.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[float] = mapped_column(Float)
    read_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        Index("ix_notifications_user_group", "user_id", "group_key"),
        Index("ix_notifications_user_read", "user_id", "read_at"),  # the unread badge's COUNT
    )


class NotificationSettings(Base):
    """The notification kinds an account turned off (moderation notices cannot be); no row = all on."""

    __tablename__ = "notification_settings"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    muted: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[float] = mapped_column(Float)
