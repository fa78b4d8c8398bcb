"""The inbox's read side: a recipient's notifications, grouped and paged by cursor, and the unread count.

The rules `actions.notifications` applies when writing are applied again when reading, in SQL, because what the
recipient may see changes after a notification is written: an actor suspended later, an account that becomes
private or a video removed later is not shown (blocks delete the rows outright, `actions.notifications`).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from sovereel.errors import Invalid
from sovereel.queries.access import visible_accounts_sql, visible_videos_sql
from sovereel.queries.safety import suspended_users_sql, today_utc
from sovereel.queries.videos import user_view
from sovereel.safety.rules import is_protected_teen
from sovereel.storage.models import (
    Comment,
    Follow,
    ModerationNotice,
    Notification,
    User,
    Video,
)

_CURSOR_RE = re.compile(r"^[0-9a-z]{26}\Z")  # a notification id (ids.new_id)
MAX_PAGE = 100


def check_cursor(cursor: str | None) -> str | None:
    """The cursor if it is one this API handed out (a notification id), else 400-style Invalid."""
    if cursor is None or cursor == "":
        return None
    if not _CURSOR_RE.match(cursor):
        raise Invalid("bad cursor: pass the next_cursor of the previous page", code="bad_cursor")
    return cursor


def _visible(user: User, today: date) -> Any:
    """SQL: the recipient's notifications that the rules still let them see."""
    cond = [
        Notification.user_id == user.id,
        or_(
            Notification.actor_id.is_(None),
            and_(
                ~Notification.actor_id.in_(suspended_users_sql()),
                visible_accounts_sql(Notification.actor_id, user.id, today),
            ),
        ),
        or_(
            Notification.video_id.is_(None),
            Notification.video_id.in_(select(Video.id).where(visible_videos_sql(user.id, today))),
        ),
    ]
    if is_protected_teen(user.birth_date, today):  # only followers they approved (and answers to their requests)
        approved = select(Follow.follower_id).where(Follow.followee_id == user.id)
        cond.append(
            or_(
                Notification.actor_id.is_(None),
                Notification.actor_id.in_(approved),
                Notification.kind.in_(("follow_approved", "follow_declined")),
            )
        )
    return and_(*cond)


def unread_count(s: Session, user: User) -> int:
    """How many inbox items are unread (grouped likes count once): one COUNT on the (user_id, read_at) index."""
    q = select(func.count(func.distinct(Notification.group_key))).where(
        _visible(user, today_utc()), Notification.read_at.is_(None)
    )
    return int(s.scalar(q) or 0)


def _actor(u: User | None) -> dict[str, Any] | None:
    if u is None:
        return None
    view = user_view(u)
    return {k: view[k] for k in ("username", "display_name", "avatar_url")}


def _text(kind: str, actor: str, others: int, notice: str | None) -> str:
    """The item's sentence, as the page shows it."""
    if kind == "like":
        if others:
            return f"{actor} and {others} other{'s' if others > 1 else ''} liked your video"
        return f"{actor} liked your video"
    return {
        "comment": f"{actor} commented on your video",
        "reply": f"{actor} replied to your comment",
        "mention": f"{actor} mentioned you",
        "follow": f"{actor} started following you",
        "follow_request": f"{actor} asked to follow you",
        "follow_approved": f"{actor} accepted your follow request",
        "follow_declined": f"{actor} declined your follow request",
    }.get(kind, notice or "")


def list_notifications(s: Session, user: User, cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of the inbox, newest first (a group sorts by its newest row); `next_cursor` None at the end."""
    limit = max(1, min(limit, MAX_PAGE))
    head = func.max(Notification.id).label("head")
    q = (
        select(
            Notification.group_key,
            head,
            func.count().label("n"),
            (func.count() - func.count(Notification.read_at)).label("unread"),
        )
        .where(_visible(user, today_utc()))
        .group_by(Notification.group_key)
        .order_by(head.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        q = q.having(func.max(Notification.id) < cursor)
    groups = s.execute(q).all()
    more = len(groups) > limit
    groups = groups[:limit]
    rows = {r.id: r for r in s.scalars(select(Notification).where(Notification.id.in_([g.head for g in groups])))}
    actors = {u.id: u for u in s.scalars(select(User).where(User.id.in_({r.actor_id for r in rows.values()})))}
    videos = {v.id: v for v in s.scalars(select(Video).where(Video.id.in_({r.video_id for r in rows.values()})))}
    comments = dict(
        s.execute(select(Comment.id, Comment.body).where(Comment.id.in_({r.comment_id for r in rows.values()}))).all()
    )
    notices = dict(
        s.execute(
            select(ModerationNotice.id, ModerationNotice.message).where(
                ModerationNotice.id.in_({r.notice_id for r in rows.values()})
            )
        ).all()
    )
    items = []
    for g in groups:
        row = rows[g.head]
        actor = actors.get(row.actor_id) if row.actor_id else None
        video = videos.get(row.video_id) if row.video_id else None
        others = int(g.n) - 1 if row.kind == "like" else 0
        name = f"@{actor.username}" if actor is not None else ""
        items.append(
            {
                "id": row.id,
                "kind": row.kind,
                "text": _text(row.kind, name, others, notices.get(row.notice_id or "")),
                "actor": _actor(actor),
                "others": others,
                "video_id": video.id if video is not None else None,
                "video_caption": video.caption if video is not None else None,
                "comment_id": row.comment_id,
                "comment_excerpt": (comments.get(row.comment_id or "") or "")[:120] or None,
                "notice_id": row.notice_id,
                "created_at": row.created_at,
                "read": int(g.unread) == 0,
            }
        )
    return {"items": items, "next_cursor": items[-1]["id"] if more and items else None}
