"""Reporting a video, a comment or an account; and the system's own holds that put a video in the review queue."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sovereel.actions.blocks import block_user
from sovereel.actions.moderation import record_hold
from sovereel.errors import Invalid, NotFound, TooManyRequests
from sovereel.events.outbox import emit
from sovereel.ids import new_id
from sovereel.queries.access import viewable_video
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Comment, Report, User, Video
from sovereel.textnorm import clean_text, has_visible_text

REASONS: tuple[str, ...] = (
    "spam",
    "harassment",
    "hate",
    "violence",
    "sexual_content",
    "minor_safety",
    "misinformation",
    "copyright",
    "other",
)
"""Why a person may report something; `other` needs a few words of detail."""

SYSTEM_REASONS: tuple[str, ...] = ("reupload_match", "new_upload_review")
"""Why the system itself puts a video in the queue (never chosen by a reporter)."""

TARGET_KINDS: tuple[str, ...] = ("video", "comment", "account")
MAX_DETAIL_CHARS = 1000
DAY_S = 86400.0


@dataclass(frozen=True)
class ReportOutcome:
    """A filed report (or the reporter's earlier open one on the same target) and whether a block was made."""

    report: Report
    duplicate: bool
    blocked: bool


def report_subject(s: Session, target_kind: str, target_id: str, viewer_id: str | None) -> tuple[str, str | None]:
    """Who answers for the target and, for a video or comment, the video; NotFound if the viewer cannot see it."""
    if target_kind == "video":
        video = viewable_video(s, target_id, viewer_id)
        return video.creator_id, video.id
    if target_kind == "comment":
        comment = s.get(Comment, target_id)
        if comment is None:
            raise NotFound("no such comment")
        viewable_video(s, comment.video_id, viewer_id)
        return comment.user_id, comment.video_id
    if target_kind == "account":
        user = s.get(User, target_id) or s.scalar(select(User).where(User.username_key == target_id.lower()))
        if user is None:
            raise NotFound("no such user")
        return user.id, None
    raise Invalid(f"target_kind must be one of {', '.join(TARGET_KINDS)}", code="bad_target_kind")


def check_reason(reason: str, detail: str) -> tuple[str, str]:
    """A reason from the fixed list, and its detail text (required for `other`)."""
    if reason not in REASONS:
        raise Invalid(f"reason must be one of {', '.join(REASONS)}", code="bad_reason")
    detail = clean_text(detail, multiline=True)
    detail = detail if has_visible_text(detail) else ""
    if len(detail) > MAX_DETAIL_CHARS:
        raise Invalid(f"the detail is limited to {MAX_DETAIL_CHARS} characters", code="detail_too_long")
    if reason == "other" and not detail:
        raise Invalid("say in a few words what is wrong", code="detail_required")
    return reason, detail


def do_report(
    db: RegionDB,
    *,
    reporter_id: str,
    target_kind: str,
    target_id: str,
    reason: str,
    detail: str = "",
    block: bool = False,
    per_day: int = 20,
    audit_secret: str | None = None,
) -> ReportOutcome:
    """File a report (at most `per_day` a day), optionally blocking the account at once; one transaction.

    A block made here is logged as one made from the profile is (with `audit_secret`, in the audit log too), and
    it stands even when the report itself is refused for the limit: blocking is never rate-limited.
    """
    reason, detail = check_reason(reason, detail)
    now = time.time()
    with db.transaction() as s:
        subject_id, _video_id = report_subject(s, target_kind, target_id, reporter_id)
        if subject_id == reporter_id:
            raise Invalid("you cannot report your own content or account", code="self_report")
        if target_kind == "account":
            target_id = subject_id  # reported by name or id: stored by id
        existing = s.scalar(
            select(Report).where(
                Report.reporter_id == reporter_id,
                Report.target_kind == target_kind,
                Report.target_id == target_id,
                Report.status == "open",
            )
        )
        blocked = block_user(s, reporter_id, subject_id, source="report", audit_secret=audit_secret) if block else False
        if existing is not None:
            return ReportOutcome(existing, True, blocked)
        recent = s.scalar(
            select(func.count())
            .select_from(Report)
            .where(Report.reporter_id == reporter_id, Report.created_at > now - DAY_S)
        )
        if (recent or 0) < per_day:
            report = _file(s, reporter_id, target_kind, target_id, subject_id, reason, detail)
            emit(s, "moderation.reported", {"report_id": report.id, "target_kind": target_kind, "target_id": target_id})
            return ReportOutcome(report, False, blocked)
    # Over the limit: the transaction above committed the block (if one was asked for), not a report.
    also = "; the account is blocked" if blocked else ""
    raise TooManyRequests(
        f"you have sent {per_day} reports in the last 24 hours; try again later{also}", code="report_limit"
    )


def _file(
    s: Session, reporter_id: str | None, target_kind: str, target_id: str, subject_id: str, reason: str, detail: str
) -> Report:
    """Add an open report row in the caller's transaction (reporter None: the system's own hold)."""
    now = time.time()
    report = Report(
        id=new_id(now),
        reporter_id=reporter_id,
        target_kind=target_kind,
        target_id=target_id,
        subject_user_id=subject_id,
        reason=reason,
        detail=detail,
        status="open",
        created_at=now,
    )
    s.add(report)
    return report


def hold_video(s: Session, video: Video, *, reason: str, detail: str) -> Report:
    """Hold a video for review inside the caller's transaction: only its creator sees it until a moderator acts.

    The uploader is told (a notice) and the hold is audited before the queue's report row is added.
    """
    if reason not in SYSTEM_REASONS:
        raise ValueError(f"unknown system reason {reason!r}")
    record_hold(s, region=video.region, video=video, reason=reason, detail=detail)
    video.moderation_state = "held"
    report = _file(s, None, "video", video.id, video.creator_id, reason, detail[:MAX_DETAIL_CHARS])
    emit(s, "moderation.held", {"video_id": video.id, "reason": reason})
    return report
