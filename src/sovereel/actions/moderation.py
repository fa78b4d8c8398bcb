"""Moderation decisions, notices to the people affected, appeals, and the moderator role.

Every decision writes, in one transaction: the `moderation_actions` row, the target's new state, the resolution
of the target's open reports, a notice to the affected user (and a short one to each reporter), an audit-log
entry (`moderation.<action>`) and outbox events: `moderation.action` always, `video.moderated` when a video's
state changed (the feed snapshot and the learner's catalogue follow it). The system's holds of new uploads
(`record_hold`) and users' appeals are audited too (`moderation.hold`, `moderation.appeal`), so every step of a
case is in the log, and the uploader of a held video gets a notice saying why.

Audit entries name an account only by its pseudonym (`user:<pseudonym>`, an HMAC of its id with the region's
`audit_secret`, as the `account.*` entries do), never by its id or username; videos and comments by their ids.
Suspending an account hides its videos from everyone but itself and moderators (`queries.access`,
and the feed snapshot marks them "suspended"); lifting the suspension brings them back.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sovereel.actions.notifications import notify_notice, read_notice
from sovereel.errors import Conflict, Invalid, NotFound
from sovereel.events.outbox import emit
from sovereel.governance.audit import append_audit, pseudonym
from sovereel.ids import new_id
from sovereel.queries.access import require_moderator
from sovereel.storage.db import RegionDB
from sovereel.storage.models import (
    Appeal,
    Comment,
    ModerationAction,
    ModerationNotice,
    Report,
    User,
    Video,
    VideoFingerprint,
)
from sovereel.textnorm import clean_text, has_visible_text

ROLES = ("user", "moderator")
ACTIONS: dict[str, tuple[str, ...]] = {
    "video": ("dismiss", "remove", "age_restrict", "not_for_you", "restore"),
    "comment": ("dismiss", "remove"),
    "account": ("dismiss", "suspend", "restore"),
}
"""What a moderator may do to each kind of target; `restore` undoes an earlier decision."""

MAX_REASON_CHARS = 1000
_VIDEO_MESSAGES = {
    "remove": "Your video was removed for breaking the community guidelines",
    "age_restrict": "Your video is now shown only to viewers aged 18 or over",
    "not_for_you": "Your video stays on your profile, in search and by link, but will not be recommended in For You",
    "restore": "Your video was reviewed again and restored",
    "dismiss": "Your video was reviewed and published",
}


def _tell(s: Session, notice: ModerationNotice) -> None:
    """Add a notice and show it in its recipient's inbox (the inbox refers to it; its text stays here)."""
    s.add(notice)
    s.flush()  # the inbox row refers to the notice
    notify_notice(s, notice)


def _check_reason(reason: str) -> str:
    reason = clean_text(reason, multiline=True)
    if not has_visible_text(reason):
        raise Invalid("a reason is required for every moderation action", code="reason_required")
    if len(reason) > MAX_REASON_CHARS:
        raise Invalid(f"the reason is limited to {MAX_REASON_CHARS} characters", code="reason_too_long")
    return reason


def _set_video_state(s: Session, video: Video, state: str, *, block_reuploads: bool | None = None) -> None:
    video.moderation_state = state
    if block_reuploads is not None:
        s.execute(update(VideoFingerprint).where(VideoFingerprint.video_id == video.id).values(blocked=block_reuploads))
    emit(s, "video.moderated", {"video_id": video.id, "state": state, "creator_id": video.creator_id})


def _apply_video(s: Session, video: Video, action: str, previous: dict[str, Any]) -> str | None:
    """Change the video; returns the message for its creator (None when they need not be told)."""
    previous.update(state=video.moderation_state, age_restricted=bool(video.age_restricted))
    if action == "remove":
        _set_video_state(s, video, "removed", block_reuploads=True)
    elif action == "not_for_you":
        _set_video_state(s, video, "not_for_you")
    elif action == "age_restrict":
        video.age_restricted = True
        emit(
            s,
            "video.moderated",
            {"video_id": video.id, "state": video.moderation_state, "creator_id": video.creator_id},
        )
    elif action == "restore":
        video.age_restricted = False
        _set_video_state(s, video, "ok", block_reuploads=False)
    elif action == "dismiss":
        if video.moderation_state != "held":
            return None  # nothing changed for the creator: only the reporters hear back
        _set_video_state(s, video, "ok")
    return _VIDEO_MESSAGES[action]


def _apply_comment(s: Session, comment: Comment, action: str, previous: dict[str, Any]) -> str | None:
    if action == "dismiss":
        return None
    previous.update(body=comment.body, video_id=comment.video_id)
    removed = 1 + (comment.reply_count if comment.parent_id is None else 0)
    if comment.parent_id is not None:
        s.execute(update(Comment).where(Comment.id == comment.parent_id).values(reply_count=Comment.reply_count - 1))
    else:
        s.execute(delete(Comment).where(Comment.parent_id == comment.id))
    s.execute(delete(Comment).where(Comment.id == comment.id))
    s.execute(update(Video).where(Video.id == comment.video_id).values(comment_count=Video.comment_count - removed))
    excerpt = comment.body if len(comment.body) <= 80 else comment.body[:79] + "…"
    return f"Your comment “{excerpt}” was removed for breaking the community guidelines"


def _apply_account(s: Session, user: User, action: str, previous: dict[str, Any]) -> str | None:
    previous.update(suspended_at=user.suspended_at)
    if action not in ("suspend", "restore"):
        return None
    user.suspended_at = time.time() if action == "suspend" else None
    # One event for all the account's videos: the feed snapshot reloads and drops (or takes back) every one.
    state = "creator_suspended" if action == "suspend" else "creator_restored"
    emit(s, "video.moderated", {"video_id": None, "state": state, "creator_id": user.id})
    if action == "suspend":
        return "Your account is suspended: you cannot upload or comment, and only you can see your videos"
    return "Your account was reviewed again: the suspension is lifted and your videos are shown again"


def audit_target(audit_secret: str, target_kind: str, target_id: str) -> tuple[str, str]:
    """How the audit log names a target: (subject, target id); an account by its pseudonym, never its id."""
    if target_kind == "account":
        alias = pseudonym(audit_secret, target_id)
        return f"user:{alias}", alias
    return f"{target_kind}:{target_id}", target_id


def _target_subject(s: Session, target_kind: str, target_id: str) -> tuple[Any, str]:
    if target_kind == "video":
        video = s.get(Video, target_id)
        if video is None:
            raise NotFound("no such video")
        return video, video.creator_id
    if target_kind == "comment":
        comment = s.get(Comment, target_id)
        if comment is None:
            raise NotFound("no such comment (it may have been deleted already)")
        return comment, comment.user_id
    if target_kind == "account":
        user = s.get(User, target_id)
        if user is None:
            raise NotFound("no such user")
        return user, user.id
    raise Invalid("target_kind must be video, comment or account", code="bad_target_kind")


def _record(
    s: Session,
    *,
    region: str,
    audit_secret: str,
    moderator_id: str | None,
    target_kind: str,
    target_id: str,
    subject_id: str | None,
    action: str,
    reason: str,
    detail: dict[str, Any],
    message: str | None,
    appealable: bool,
) -> ModerationAction:
    now = time.time()
    row = ModerationAction(
        id=new_id(now),
        moderator_id=moderator_id,
        target_kind=target_kind,
        target_id=target_id,
        subject_user_id=subject_id,
        action=action,
        reason=reason,
        detail=detail,
        created_at=now,
    )
    s.add(row)
    s.flush()
    if message is not None and subject_id is not None:
        _tell(
            s,
            ModerationNotice(
                id=new_id(now),
                user_id=subject_id,
                action_id=row.id,
                message=f"{message}. Reason: {reason}",
                appealable=appealable,
                created_at=now,
            ),
        )
    reporters = set(
        s.scalars(
            select(Report.reporter_id).where(
                Report.target_kind == target_kind,
                Report.target_id == target_id,
                Report.status == "open",
                Report.reporter_id.is_not(None),
            )
        )
    )
    outcome = "no rule was broken" if action == "dismiss" else f"we acted on it ({action.replace('_', ' ')})"
    if detail.get("target_gone"):
        outcome = "it has been deleted and is no longer available"
    for reporter_id in sorted(r for r in reporters if r):
        _tell(
            s,
            ModerationNotice(
                id=new_id(now),
                user_id=reporter_id,
                action_id=row.id,
                message=f"Thank you for your report of a {target_kind}: {outcome}",
                appealable=False,
                created_at=now,
            ),
        )
    s.execute(
        update(Report)
        .where(Report.target_kind == target_kind, Report.target_id == target_id, Report.status == "open")
        .values(status="resolved", resolved_at=now, action_id=row.id)
    )
    subject, logged_id = audit_target(audit_secret, target_kind, target_id)
    append_audit(
        s,
        region=region,
        kind=f"moderation.{action}",
        actor_id=moderator_id,
        subject=subject,
        detail={"target_kind": target_kind, "target_id": logged_id, "reason": reason, "action_id": row.id},
    )
    emit(
        s,
        "moderation.action",
        {"action_id": row.id, "action": action, "target_kind": target_kind, "target_id": target_id},
    )
    return row


HOLD_MESSAGES = {
    "reupload_match": "Your video is held for review: it looks like a copy of a video that was removed for breaking "
    "the community guidelines. Only you can see it until a moderator decides",
    "new_upload_review": "Your video is held for review, as every new upload here is. Only you can see it until "
    "a moderator decides",
}
"""What the uploader is told when the system holds their upload (keys: `reports.SYSTEM_REASONS`)."""


def record_hold(s: Session, *, region: str, video: Video, reason: str, detail: str) -> ModerationAction:
    """The system's hold of an upload, in the caller's transaction: the action row, a notice to the uploader
    (not appealable: a moderator reviews the video anyway) and a `moderation.hold` audit entry."""
    now = time.time()
    row = ModerationAction(
        id=new_id(now),
        moderator_id=None,
        target_kind="video",
        target_id=video.id,
        subject_user_id=video.creator_id,
        action="hold",
        reason=reason,
        detail={"detail": detail},
        created_at=now,
    )
    s.add(row)
    s.flush()
    _tell(
        s,
        ModerationNotice(
            id=new_id(now),
            user_id=video.creator_id,
            action_id=row.id,
            message=HOLD_MESSAGES[reason],
            appealable=False,
            created_at=now,
        ),
    )
    append_audit(
        s,
        region=region,
        kind="moderation.hold",
        actor_id=None,
        subject=f"video:{video.id}",
        detail={"target_kind": "video", "target_id": video.id, "reason": reason, "action_id": row.id},
    )
    return row


def moderate(
    s: Session,
    *,
    region: str,
    audit_secret: str,
    moderator_id: str | None,
    target_kind: str,
    target_id: str,
    action: str,
    reason: str,
) -> ModerationAction:
    """Apply one decision inside the caller's transaction (dismissing reports of a deleted item still works)."""
    reason = _check_reason(reason)
    if action not in ACTIONS.get(target_kind, ()):
        allowed = ", ".join(ACTIONS.get(target_kind, ())) or "nothing"
        raise Invalid(f"a {target_kind} can be given: {allowed}", code="bad_action")
    try:
        target, subject_id = _target_subject(s, target_kind, target_id)
    except NotFound:
        if action != "dismiss":
            raise
        return _record(
            s,
            region=region,
            audit_secret=audit_secret,
            moderator_id=moderator_id,
            target_kind=target_kind,
            target_id=target_id,
            subject_id=None,
            action=action,
            reason=reason,
            detail={"target_gone": True},
            message=None,
            appealable=False,
        )
    previous: dict[str, Any] = {}
    if target_kind == "video":
        message = _apply_video(s, target, action, previous)
    elif target_kind == "comment":
        message = _apply_comment(s, target, action, previous)
    else:
        message = _apply_account(s, target, action, previous)  # sessions stay: a suspended user may still appeal
    return _record(
        s,
        region=region,
        audit_secret=audit_secret,
        moderator_id=moderator_id,
        target_kind=target_kind,
        target_id=target_id,
        subject_id=subject_id,
        action=action,
        reason=reason,
        detail={"previous": previous},
        message=message,
        appealable=action not in ("dismiss", "restore"),
    )


def do_moderate(
    db: RegionDB,
    *,
    audit_secret: str,
    moderator: User,
    target_kind: str,
    target_id: str,
    action: str,
    reason: str,
) -> ModerationAction:
    """A moderator's decision on a video, a comment or an account (403 for anyone else)."""
    require_moderator(moderator)
    with db.transaction() as s:
        return moderate(
            s,
            region=db.region,
            audit_secret=audit_secret,
            moderator_id=moderator.id,
            target_kind=target_kind,
            target_id=target_id,
            action=action,
            reason=reason,
        )


def do_appeal(db: RegionDB, *, audit_secret: str, user_id: str, notice_id: str, body: str) -> Appeal:
    """Appeal the action behind one's notice; once per action (409 the second time). It returns to the queue."""
    body = clean_text(body, multiline=True)
    if not has_visible_text(body):
        raise Invalid("say why the decision was wrong", code="body_required")
    if len(body) > MAX_REASON_CHARS:
        raise Invalid(f"an appeal is limited to {MAX_REASON_CHARS} characters", code="body_too_long")
    now = time.time()
    with db.transaction() as s:
        notice = s.get(ModerationNotice, notice_id)
        if notice is None or notice.user_id != user_id:
            raise NotFound("no such notice")
        if not notice.appealable:
            raise Invalid("this decision cannot be appealed", code="not_appealable")
        if s.scalar(select(Appeal.id).where(Appeal.action_id == notice.action_id)) is not None:
            raise Conflict("you have already appealed this decision", code="already_appealed")
        appeal = Appeal(
            id=new_id(now), action_id=notice.action_id, user_id=user_id, body=body, status="open", created_at=now
        )
        s.add(appeal)
        notice.read_at = notice.read_at or now
        read_notice(s, notice, now)
        emit(s, "moderation.appealed", {"appeal_id": appeal.id, "action_id": notice.action_id})
        original = s.get(ModerationAction, notice.action_id)
        if original is not None:  # the appeal text stays out of the append-only log
            s.flush()
            subject, logged_id = audit_target(audit_secret, original.target_kind, original.target_id)
            append_audit(
                s,
                region=db.region,
                kind="moderation.appeal",
                actor_id=None,
                subject=subject,
                detail={"target_kind": original.target_kind, "target_id": logged_id,
                        "action_id": original.id, "appeal_id": appeal.id},
            )  # fmt: skip
        return appeal


def do_decide_appeal(
    db: RegionDB, *, audit_secret: str, moderator: User, appeal_id: str, decision: str, reason: str
) -> Appeal:
    """Uphold the decision, or grant the appeal (which restores the video or lifts the suspension)."""
    require_moderator(moderator)
    if decision not in ("uphold", "grant"):
        raise Invalid("decision must be uphold or grant", code="bad_decision")
    reason = _check_reason(reason)
    with db.transaction() as s:
        appeal = s.get(Appeal, appeal_id)
        if appeal is None:
            raise NotFound("no such appeal")
        if appeal.status != "open":
            raise Conflict("this appeal was decided already", code="already_decided")
        original = s.get(ModerationAction, appeal.action_id)
        if original is None:
            raise NotFound("the appealed decision is gone")
        if decision == "grant":
            if original.target_kind == "comment":
                raise Invalid("a removed comment cannot be brought back; uphold instead", code="not_reversible")
            row = moderate(
                s,
                region=db.region,
                audit_secret=audit_secret,
                moderator_id=moderator.id,
                target_kind=original.target_kind,
                target_id=original.target_id,
                action="restore",
                reason=f"Appeal granted: {reason}",
            )
        else:
            row = _record(
                s,
                region=db.region,
                audit_secret=audit_secret,
                moderator_id=moderator.id,
                target_kind=original.target_kind,
                target_id=original.target_id,
                subject_id=appeal.user_id,
                action="uphold",
                reason=reason,
                detail={"appeal_id": appeal.id, "original_action_id": original.id},
                message="Your appeal was reviewed and the decision stands",
                appealable=False,
            )
        appeal.status = "granted" if decision == "grant" else "upheld"
        appeal.decided_at = time.time()
        appeal.decision_action_id = row.id
        return appeal


def do_set_role(db: RegionDB, *, audit_secret: str, username: str, role: str) -> User:
    """Make an account a moderator, or an ordinary user again (the CLI's `user role`); audited by pseudonym."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", code="bad_role")
    with db.transaction() as s:
        user = s.scalar(select(User).where(User.username_key == username.lower()))
        if user is None:
            raise NotFound(f"no user called {username}")
        before = user.role
        user.role = role
        append_audit(
            s,
            region=user.region,
            kind="moderation.role",
            actor_id=None,
            subject=f"user:{pseudonym(audit_secret, user.id)}",
            detail={"from": before, "to": role},
        )
        return user
