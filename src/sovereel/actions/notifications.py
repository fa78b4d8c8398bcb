"""The inbox's write side: notifications are written in the transaction of what caused them, under the rules.

Why here and not in a bus consumer: a notification is one more row of the like, comment or follow that caused
it, so it commits (or not) with its cause, an unlike can take its like's notification back in the same
transaction, and the outbox event that makes it live (`notification.created`) leaves only once both are stored.
A consumer would notify after the fact, could lose or repeat a notification on redelivery, and would have to
re-read rules the action already holds.

The rules, checked by `notify` (and again when the inbox is read, `queries.notifications`):

- no self-notifications; nothing from a suspended account; nothing across a block, in either direction;
- nothing that shows the recipient an account or a video they may not see (`queries.access`): a 13-15-year-
  old's like is not shown to a stranger, a mention in a private account's video not to someone who does not
  follow it;
- a 13-15-year-old (a protected teen) hears only from followers they approved, but for the answers to their
  own follow requests;
- kinds the recipient turned off are not written (moderation notices cannot be turned off).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Literal, get_args

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from sovereel.captions import parse_mentions
from sovereel.errors import Invalid, NotFound
from sovereel.events.outbox import emit
from sovereel.ids import new_id
from sovereel.queries.access import may_see_account, relation, video_refusal
from sovereel.queries.safety import today_utc
from sovereel.safety.rules import is_protected_teen
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Follow, ModerationNotice, Notification, NotificationSettings, User, Video

NotificationKind = Literal[
    "like",
    "comment",
    "reply",
    "mention",
    "follow",
    "follow_request",
    "follow_approved",
    "follow_declined",
    "moderation",
]
"""Every notification kind: defined once, for the rules here and the API's response models."""

KINDS: tuple[NotificationKind, ...] = get_args(NotificationKind)

SETTING_OF_KIND = {
    "like": "likes",
    "comment": "comments",
    "reply": "replies",
    "mention": "mentions",
    "follow": "followers",
    "follow_request": "follow_requests",
    "follow_approved": "follow_requests",
    "follow_declined": "follow_requests",
}
"""The setting that turns each kind off (a moderation notice has none: the person affected is always told)."""

SETTINGS = tuple(dict.fromkeys(SETTING_OF_KIND.values()))
"""The per-kind settings, in the order the page shows them."""

# Answers to the recipient's own request reach a protected teen from anyone they asked.
_ANSWERS = frozenset({"follow_approved", "follow_declined"})


def muted_settings(s: Session, user_id: str) -> frozenset[str]:
    """The settings the user turned off."""
    row = s.get(NotificationSettings, user_id)
    return frozenset(row.muted) if row is not None else frozenset()


def _allowed(s: Session, recipient: User, actor: User, kind: str, video: Video | None) -> bool:
    """The rules of the module docstring, for one would-be notification."""
    if recipient.id == actor.id or actor.suspended_at is not None or recipient.origin_region is not None:
        return False  # a creator stub of another region has no inbox here
    if SETTING_OF_KIND.get(kind) in muted_settings(s, recipient.id):
        return False
    day = today_utc()
    seen = relation(s, recipient.id, actor, day)
    if seen.blocks_owner or seen.blocked_by_owner or not may_see_account(seen):
        return False
    approved = s.get(Follow, (actor.id, recipient.id)) is not None
    if is_protected_teen(recipient.birth_date, day) and not approved and kind not in _ANSWERS:
        return False
    if video is not None:
        creator = s.get(User, video.creator_id)
        if creator is None or video_refusal(relation(s, recipient.id, creator, day), video) is not None:
            return False
    return True


def notify(
    s: Session,
    *,
    recipient_id: str,
    actor_id: str,
    kind: str,
    video: Video | None = None,
    comment_id: str | None = None,
) -> Notification | None:
    """Write a notification in the caller's transaction, if the rules allow it (None when they do not)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    recipient, actor = s.get(User, recipient_id), s.get(User, actor_id)
    if recipient is None or actor is None or not _allowed(s, recipient, actor, kind, video):
        return None
    now = time.time()
    nid = new_id(now)
    group = f"like:{video.id}" if kind == "like" and video is not None else nid
    row = Notification(
        id=nid,
        user_id=recipient_id,
        actor_id=actor_id,
        kind=kind,
        group_key=group,
        video_id=video.id if video is not None else None,
        comment_id=comment_id,
        created_at=now,
    )
    s.add(row)
    emit(s, "notification.created", {"user_id": recipient_id, "notification_id": nid, "kind": kind})
    return row


def notify_mentions(
    s: Session, *, text: str, actor_id: str, video: Video, comment_id: str | None, skip: Iterable[str] = ()
) -> int:
    """Tell every account @mentioned in `text` (not those in `skip`, already told of the same thing)."""
    names = parse_mentions(text)
    if not names:
        return 0
    skipped = set(skip)
    told = 0
    for uid in s.scalars(select(User.id).where(User.username_key.in_(names))):
        if uid not in skipped and notify(
            s, recipient_id=uid, actor_id=actor_id, kind="mention", video=video, comment_id=comment_id
        ):
            told += 1
    return told


def notify_notice(s: Session, notice: ModerationNotice) -> None:
    """Show a moderation notice in its recipient's inbox (added to the session by the caller, in its transaction)."""
    now = notice.created_at
    nid = new_id(now)
    s.add(
        Notification(
            id=nid,
            user_id=notice.user_id,
            actor_id=None,
            kind="moderation",
            group_key=nid,
            notice_id=notice.id,
            created_at=now,
        )
    )
    emit(s, "notification.created", {"user_id": notice.user_id, "notification_id": nid, "kind": "moderation"})


def read_notice(s: Session, notice: ModerationNotice, now: float) -> None:
    """The notice was read where it lives (an appeal reads it): its inbox item is read too."""
    mine = (Notification.user_id == notice.user_id) & (Notification.notice_id == notice.id)
    res = s.execute(update(Notification).where(mine, Notification.read_at.is_(None)).values(read_at=now))
    if res.rowcount:  # type: ignore[attr-defined]
        emit(s, "notification.cleared", {"user_id": notice.user_id})


def withdraw(s: Session, *, recipient_id: str, actor_id: str, kind: str, video_id: str | None = None) -> None:
    """Take back what an undone action notified (an unlike, an unfollow, a withdrawn or answered request)."""
    cond = [Notification.user_id == recipient_id, Notification.actor_id == actor_id, Notification.kind == kind]
    if video_id is not None:
        cond.append(Notification.video_id == video_id)
    res = s.execute(delete(Notification).where(*cond))
    if res.rowcount:  # type: ignore[attr-defined]
        emit(s, "notification.cleared", {"user_id": recipient_id})


def drop_between(s: Session, a: str, b: str) -> None:
    """A block: nothing either of the two caused stays in the other's inbox (nor comes back on unblocking)."""
    pair = or_(
        (Notification.user_id == a) & (Notification.actor_id == b),
        (Notification.user_id == b) & (Notification.actor_id == a),
    )
    res = s.execute(delete(Notification).where(pair))
    if res.rowcount:  # type: ignore[attr-defined]
        emit(s, "notification.cleared", {"user_id": a})
        emit(s, "notification.cleared", {"user_id": b})


def do_mark_read(db: RegionDB, *, user_id: str, notification_id: str) -> None:
    """Mark one inbox item read (for grouped likes, the whole group); 404 for anyone else's or an unknown id."""
    now = time.time()
    with db.transaction() as s:
        row = s.get(Notification, notification_id)
        if row is None or row.user_id != user_id:
            raise NotFound("no such notification")
        mine = (Notification.user_id == user_id) & (Notification.group_key == row.group_key)
        s.execute(update(Notification).where(mine, Notification.read_at.is_(None)).values(read_at=now))
        if row.notice_id is not None:  # the notices page shows the same notice as read
            s.execute(
                update(ModerationNotice)
                .where(ModerationNotice.id == row.notice_id, ModerationNotice.read_at.is_(None))
                .values(read_at=now)
            )
        emit(s, "notification.cleared", {"user_id": user_id})


def do_mark_all_read(db: RegionDB, *, user_id: str) -> int:
    """Mark every notification of the user read; returns how many were unread."""
    now = time.time()
    with db.transaction() as s:
        notices = select(Notification.notice_id).where(
            Notification.user_id == user_id, Notification.read_at.is_(None), Notification.notice_id.is_not(None)
        )
        s.execute(
            update(ModerationNotice)
            .where(ModerationNotice.id.in_(notices), ModerationNotice.read_at.is_(None))
            .values(read_at=now)
        )
        res = s.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=now)
        )
        emit(s, "notification.cleared", {"user_id": user_id})
        return int(res.rowcount)  # type: ignore[attr-defined]


def do_update_notification_settings(db: RegionDB, *, user_id: str, enabled: dict[str, bool]) -> frozenset[str]:
    """Turn kinds of notification on or off (`enabled`: setting -> on); returns the settings now off."""
    unknown = sorted(set(enabled) - set(SETTINGS))
    if unknown:
        raise Invalid(f"unknown notification setting {unknown[0]!r}", code="bad_notification_setting")
    with db.transaction() as s:
        muted = set(muted_settings(s, user_id))
        muted |= {k for k, on in enabled.items() if not on}
        muted -= {k for k, on in enabled.items() if on}
        row = s.get(NotificationSettings, user_id)
        ordered = [k for k in SETTINGS if k in muted]
        if row is None:
            s.add(NotificationSettings(user_id=user_id, muted=ordered, updated_at=time.time()))
        else:
            row.muted, row.updated_at = ordered, time.time()
        return frozenset(muted)
