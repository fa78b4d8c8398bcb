"""Trust and safety for users: blocks, privacy, who may comment, comment filters, follow requests, the log."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sovereel.api.schemas.common import Number, Public


class BlockState(Public):
    """Whether the viewer now blocks the account."""

    blocked: bool


class BlockedAccount(Public):
    """An account the viewer blocked."""

    username: str
    display_name: str
    blocked_at: Number


class BlockList(Public):
    """The accounts the viewer blocked, newest first."""

    blocks: list[BlockedAccount]


class FollowRequestPublic(Public):
    """A pending request to follow the viewer's private account."""

    username: str
    display_name: str
    requested_at: Number


class SafetySettings(Public):
    """The viewer's privacy and safety settings, blocks and follow requests."""

    birth_date: str | None = Field(description="ISO date")
    age_group: str = Field(description="unknown | 13-15 | 16-17 | 18+")
    is_private: bool
    comment_policy: str = Field(description="everyone | followers | no_one")
    comment_filters: list[str]
    blocks: list[BlockedAccount]
    follow_requests: list[FollowRequestPublic]


class VideoCommentPolicy(Public):
    """Who may comment on one video; null follows the account's setting."""

    video_id: str
    comment_policy: str | None


class FollowRequests(Public):
    """Requests to follow the viewer's private account, oldest first."""

    follow_requests: list[FollowRequestPublic]


class FollowRequestAnswer(Public):
    """Whether a follow request was approved or declined."""

    approved: bool


class SafetyLogEntryPublic(Public):
    """A safety action the viewer took, or one taken on their account or comments."""

    kind: str
    actor: str | None = Field(description="username")
    subject: str | None = Field(description="username")
    by_me: bool
    detail: dict[str, Any]
    at: Number


class SafetyLog(Public):
    """The viewer's safety log, newest first."""

    entries: list[SafetyLogEntryPublic]
