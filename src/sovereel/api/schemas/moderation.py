"""Reports, the moderators' review queue and decisions, notices and appeals."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from sovereel.api.schemas.common import Number, Public


class ReportReasons(Public):
    """What a report may name and give as its reason."""

    reasons: list[str]
    target_kinds: list[str]


class ReportReceipt(Public):
    """A report as filed: a repeat of an open one is counted once."""

    id: str
    status: str
    duplicate: bool
    blocked: bool = Field(description="whether the account responsible was also blocked")


class QueuedReport(Public):
    """One report on a queued item."""

    id: str
    reason: str
    detail: str
    created_at: Number
    system: bool = Field(description="filed by the platform itself (a re-upload match, a new-upload review)")


class ActionPublic(Public):
    """A moderator's (or the system's) decision."""

    id: str
    action: str
    target_kind: str
    target_id: str
    reason: str
    by_system: bool
    created_at: Number


class ReportsItem(Public):
    """Open reports on one item, grouped."""

    type: Literal["reports"]
    target_kind: str
    target_id: str
    report_count: int
    latest_at: Number
    reasons: dict[str, int] = Field(description="how many reports gave each reason")
    reports: list[QueuedReport]
    target: dict[str, Any] | None = Field(description="what the moderator judges; null when it no longer exists")


class AppealItem(Public):
    """An open appeal against a decision."""

    type: Literal["appeal"]
    appeal_id: str
    target_kind: str
    target_id: str
    body: str
    created_at: Number
    action: ActionPublic
    target: dict[str, Any] | None


class ReviewQueue(Public):
    """Open reports grouped by item (most reported first), then open appeals."""

    items: list[Annotated[ReportsItem | AppealItem, Field(discriminator="type")]]


class StatusOf(Public):
    """An appeal's id and status."""

    id: str
    status: str


class AppealState(Public):
    """An appeal's status on a notice."""

    status: str
    created_at: Number


class NoticePublic(Public):
    """What a moderator decided about the user's content, account or report."""

    id: str
    message: str
    action: str
    target_kind: str
    target_id: str
    target_url: str | None
    created_at: Number
    read: bool
    can_appeal: bool
    appeal: AppealState | None


class Notices(Public):
    """The user's notices, newest first, and whether the account is suspended."""

    notices: list[NoticePublic]
    suspended: bool
