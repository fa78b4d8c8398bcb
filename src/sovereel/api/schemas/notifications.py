"""The inbox: notifications, the unread count, mark-read answers and the per-kind settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sovereel.actions.notifications import NotificationKind
from sovereel.api.schemas.common import Number, Public


class NotificationActor(Public):
    """Who caused a notification (the newest liker, for grouped likes)."""

    username: str
    display_name: str
    avatar_url: str | None


class NotificationPublic(Public):
    """One inbox item; likes of one video are one item (`others`: how many more liked it)."""

    id: str = Field(description="the newest notification of the item: mark it read with this id")
    kind: NotificationKind
    text: str = Field(description="the sentence shown, e.g. '@ana and 12 others liked your video'")
    actor: NotificationActor | None = Field(description="null for a moderation notice")
    others: int
    video_id: str | None
    video_caption: str | None
    comment_id: str | None
    comment_excerpt: str | None
    notice_id: str | None = Field(description="a moderation notice (see /api/me/notices to appeal)")
    created_at: Number
    read: bool


class NotificationPage(Public):
    """A page of the inbox, newest first; pass `next_cursor` as `cursor` for the next (null: no more)."""

    items: list[NotificationPublic]
    next_cursor: str | None
    unread: int


class UnreadCount(Public):
    """How many inbox items are unread."""

    unread: int


class NotificationSettingsPublic(Public):
    """Which kinds of notification are on (moderation notices always are)."""

    likes: bool
    comments: bool
    replies: bool
    mentions: bool
    followers: bool
    follow_requests: bool


class NotificationSettingsIn(BaseModel):
    """Turn kinds of notification on (true) or off (false); kinds left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    likes: bool | None = None
    comments: bool | None = None
    replies: bool | None = None
    mentions: bool | None = None
    followers: bool | None = None
    follow_requests: bool | None = None
