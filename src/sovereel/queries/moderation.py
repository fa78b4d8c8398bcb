"""Reading the review queue, a moderator's view of one reported item, and a user's notices.

A moderator sees what was reported (or held, or appealed) and nothing else: the reported video or comment,
the reported account's public profile; never anyone's private videos, watch history or settings.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sovereel.queries.videos import user_view
from sovereel.storage.models import (
    Appeal,
    Comment,
    ModerationAction,
    ModerationNotice,
    Report,
    User,
    Video,
)


def _video_summary(s: Session, video: Video) -> dict[str, Any]:
    creator = s.get(User, video.creator_id)
    media = {name: f"/api/moderation/videos/{video.id}/media/{name}" for name in sorted(video.renditions or {})}
    return {
        "id": video.id,
        "caption": video.caption,
        "creator": user_view(creator) if creator else None,
        "status": video.status,
        "moderation_state": video.moderation_state,
        "age_restricted": bool(video.age_restricted),
        "visibility": video.visibility,
        "duration_s": video.duration_s,
        "media": media,
        "poster_url": f"/api/moderation/videos/{video.id}/media/poster" if video.poster_key else None,
        "created_at": video.created_at,
    }


def target_summary(s: Session, target_kind: str, target_id: str) -> dict[str, Any] | None:
    """What the moderator needs to judge one reported item (None when it no longer exists)."""
    if target_kind == "video":
        video = s.get(Video, target_id)
        return _video_summary(s, video) if video else None
    if target_kind == "comment":
        comment = s.get(Comment, target_id)
        if comment is None:
            return None
        author = s.get(User, comment.user_id)
        return {
            "id": comment.id,
            "body": comment.body,
            "author": user_view(author) if author else None,
            "video_id": comment.video_id,
            "created_at": comment.created_at,
        }
    if target_kind == "account":
        user = s.get(User, target_id)
        if user is None:
            return None
        return {**user_view(user), "suspended": user.suspended_at is not None}
    return None


def review_queue(s: Session, limit: int = 50) -> list[dict[str, Any]]:
    """Open reports grouped by target (most-reported, then newest, first), followed by open appeals."""
    groups = s.execute(
        select(
            Report.target_kind,
            Report.target_id,
            func.count().label("n"),
            func.max(Report.created_at).label("latest"),
        )
        .where(Report.status == "open")
        .group_by(Report.target_kind, Report.target_id)
        .order_by(func.count().desc(), func.max(Report.created_at).desc())
        .limit(limit)
    ).all()
    items: list[dict[str, Any]] = []
    for kind, target_id, n, latest in groups:
        reports = list(
            s.scalars(
                select(Report)
                .where(Report.target_kind == kind, Report.target_id == target_id, Report.status == "open")
                .order_by(Report.created_at.desc())
                .limit(20)
            )
        )
        reasons: dict[str, int] = {}
        for r in reports:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
        items.append(
            {
                "type": "reports",
                "target_kind": kind,
                "target_id": target_id,
                "report_count": int(n),
                "latest_at": float(latest),
                "reasons": reasons,
                "reports": [
                    {
                        "id": r.id,
                        "reason": r.reason,
                        "detail": r.detail,
                        "created_at": r.created_at,
                        "system": r.reporter_id is None,
                    }
                    for r in reports
                ],
                "target": target_summary(s, kind, target_id),
            }
        )
    appeals = list(
        s.scalars(select(Appeal).where(Appeal.status == "open").order_by(Appeal.created_at.desc()).limit(limit))
    )
    for appeal in appeals:
        action = s.get(ModerationAction, appeal.action_id)
        if action is None:
            continue
        items.append(
            {
                "type": "appeal",
                "appeal_id": appeal.id,
                "target_kind": action.target_kind,
                "target_id": action.target_id,
                "body": appeal.body,
                "created_at": appeal.created_at,
                "action": action_view(action),
                "target": target_summary(s, action.target_kind, action.target_id),
            }
        )
    return items


def action_view(action: ModerationAction) -> dict[str, Any]:
    return {
        "id": action.id,
        "action": action.action,
        "target_kind": action.target_kind,
        "target_id": action.target_id,
        "reason": action.reason,
        "by_system": action.moderator_id is None,
        "created_at": action.created_at,
    }


def under_review(s: Session, video_id: str) -> bool:
    """Whether a video was ever reported, held or acted on: only then may a moderator open its media."""
    reported = s.scalar(select(Report.id).where(Report.target_kind == "video", Report.target_id == video_id).limit(1))
    acted = s.scalar(
        select(ModerationAction.id)
        .where(ModerationAction.target_kind == "video", ModerationAction.target_id == video_id)
        .limit(1)
    )
    return reported is not None or acted is not None


def notices_for(s: Session, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The user's moderation notices, newest first, with whether they can still appeal."""
    rows = list(
        s.execute(
            select(ModerationNotice, ModerationAction)
            .join(ModerationAction, ModerationAction.id == ModerationNotice.action_id)
            .where(ModerationNotice.user_id == user_id)
            .order_by(ModerationNotice.created_at.desc())
            .limit(limit)
        ).all()
    )
    action_ids = [a.id for _n, a in rows]
    appeals = {a.action_id: a for a in s.scalars(select(Appeal).where(Appeal.action_id.in_(action_ids)))}
    out = []
    for notice, action in rows:
        own_subject = action.subject_user_id == user_id
        appeal = appeals.get(action.id) if own_subject else None
        out.append(
            {
                "id": notice.id,
                "message": notice.message,
                "action": action.action,
                "target_kind": action.target_kind,
                "target_id": action.target_id,
                "target_url": f"/v/{action.target_id}" if action.target_kind == "video" and own_subject else None,
                "created_at": notice.created_at,
                "read": notice.read_at is not None,
                "can_appeal": bool(notice.appealable and appeal is None),
                "appeal": {"status": appeal.status, "created_at": appeal.created_at} if appeal else None,
            }
        )
    return out
