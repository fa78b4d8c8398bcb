"""Read side of trust and safety: who blocked whom, who may see an account, and the SQL conditions for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import exists, or_, select, union
from sqlalchemy.orm import Session

from sovereel.safety.fingerprint import Fingerprint
from sovereel.safety.rules import (
    ADULT_AGE,
    SHOWN_TO_SUBJECT,
    TEEN_PROTECTED_UNTIL,
    born_by_for_age,
    is_adult,
    is_protected_teen,
)
from sovereel.storage.models import (
    Block,
    CommentFilter,
    Follow,
    FollowRequest,
    SafetyLogEntry,
    User,
    Video,
    VideoFingerprint,
)


def today_utc() -> date:
    """Today's date in UTC: ages change at UTC midnight everywhere."""
    return datetime.now(UTC).date()


def block_relations_sql(viewer_id: str) -> Any:
    """SQL: ids of users the viewer blocked or was blocked by."""
    return union(
        select(Block.blocked_id).where(Block.blocker_id == viewer_id),
        select(Block.blocker_id).where(Block.blocked_id == viewer_id),
    )


def block_relations(s: Session, viewer_id: str) -> frozenset[str]:
    """Ids of users the viewer blocked or was blocked by (either way, they do not see each other)."""
    return frozenset(s.scalars(block_relations_sql(viewer_id)))


def blocked_between(s: Session, a: str, b: str) -> bool:
    """True when either user blocked the other."""
    return s.get(Block, (a, b)) is not None or s.get(Block, (b, a)) is not None


def private_users_sql() -> Any:
    """SQL: ids of private accounts (their videos are for approved followers only)."""
    return select(User.id).where(User.is_private.is_(True))


def suspended_users_sql() -> Any:
    """SQL: ids of suspended accounts (their videos are shown to no one but themselves and moderators)."""
    return select(User.id).where(User.suspended_at.is_not(None))


def protected_teens_sql(today: date) -> Any:
    """SQL: ids of 13-15-year-olds (not discoverable by strangers)."""
    return select(User.id).where(User.birth_date > born_by_for_age(today, TEEN_PROTECTED_UNTIL))


def viewer_is_adult_sql(viewer_id: str, today: date) -> Any:
    """SQL boolean: the viewer gave a birth date that makes them 18 or over."""
    return exists(select(User.id).where(User.id == viewer_id, User.birth_date <= born_by_for_age(today, ADULT_AGE)))


def viewer_is_adult(s: Session, viewer_id: str | None, today: date | None = None) -> bool:
    """True when the viewer is signed in and known to be 18 or over."""
    if viewer_id is None:
        return False
    birth = s.scalar(select(User.birth_date).where(User.id == viewer_id))
    return is_adult(birth, today or today_utc())


def follows(s: Session, follower_id: str | None, followee_id: str) -> bool:
    """True when `follower_id` follows `followee_id`."""
    return follower_id is not None and s.get(Follow, (follower_id, followee_id)) is not None


def follow_requested(s: Session, requester_id: str | None, target_id: str) -> bool:
    """True when a follow request from `requester_id` to `target_id` awaits approval."""
    return requester_id is not None and s.get(FollowRequest, (requester_id, target_id)) is not None


def list_blocks(s: Session, user_id: str) -> list[dict[str, Any]]:
    """The accounts the user has blocked, newest first."""
    rows = s.execute(
        select(User, Block.created_at)
        .join(Block, Block.blocked_id == User.id)
        .where(Block.blocker_id == user_id)
        .order_by(Block.created_at.desc())
    )
    return [{"username": u.username, "display_name": u.display_name, "blocked_at": at} for u, at in rows]


def list_follow_requests(s: Session, user_id: str) -> list[dict[str, Any]]:
    """Pending requests to follow the user (a private account), oldest first."""
    rows = s.execute(
        select(User, FollowRequest.created_at)
        .join(FollowRequest, FollowRequest.requester_id == User.id)
        .where(FollowRequest.target_id == user_id)
        .order_by(FollowRequest.created_at)
    )
    return [{"username": u.username, "display_name": u.display_name, "requested_at": at} for u, at in rows]


def age_group(birth_date: date | None, today: date) -> str:
    """`unknown` | `13-15` | `16-17` | `18+`: what the account's protections follow from."""
    if birth_date is None:
        return "unknown"
    if is_protected_teen(birth_date, today):
        return "13-15"
    return "18+" if is_adult(birth_date, today) else "16-17"


def safety_settings(s: Session, user: User) -> dict[str, Any]:
    """The user's safety settings page: privacy, comments, filters, blocks and follow requests."""
    filters = s.scalars(
        select(CommentFilter.keyword).where(CommentFilter.user_id == user.id).order_by(CommentFilter.created_at)
    )
    return {
        "birth_date": user.birth_date.isoformat() if user.birth_date else None,
        "age_group": age_group(user.birth_date, today_utc()),
        "is_private": user.is_private,
        "comment_policy": user.comment_policy,
        "comment_filters": list(filters),
        "blocks": list_blocks(s, user.id),
        "follow_requests": list_follow_requests(s, user.id),
    }


def safety_log_for(s: Session, user_id: str, limit: int) -> list[dict[str, Any]]:
    """What the user did, and what was done to them that they are told about (not who blocked them), newest first."""
    rows = list(
        s.scalars(
            select(SafetyLogEntry)
            .where(
                or_(
                    SafetyLogEntry.actor_id == user_id,
                    (SafetyLogEntry.subject_id == user_id) & SafetyLogEntry.kind.in_(SHOWN_TO_SUBJECT),
                )
            )
            .order_by(SafetyLogEntry.id.desc())
            .limit(limit)
        )
    )
    ids = {r.actor_id for r in rows} | {r.subject_id for r in rows}
    names = {
        uid: name for uid, name in s.execute(select(User.id, User.username).where(User.id.in_([i for i in ids if i])))
    }
    return [
        {
            "kind": r.kind,
            "actor": names.get(r.actor_id or ""),
            "subject": names.get(r.subject_id or ""),
            "by_me": r.actor_id == user_id,
            "detail": r.detail,
            "at": r.created_at,
        }
        for r in rows
    ]


@dataclass(frozen=True)
class FeedGate:
    """What a feed must hold back from one viewer: blocked users' videos, age-restricted videos (under 18 or
    unknown), and private accounts' and 13-15-year-olds' videos unless the viewer follows them: the rule of
    `queries.access` as sets (suspended accounts' videos leave the catalogue itself, as moderation "suspended")."""

    blocked: frozenset[str]
    adult: bool
    age_restricted: frozenset[str]
    followers_only_creators: frozenset[str]


def feed_gate(s: Session, viewer_id: str | None, today: date | None = None) -> FeedGate:
    """The viewer's FeedGate, read with indexed queries (private accounts, teens and age-restricted are few)."""
    day = today or today_utc()
    private_or_teen = union(private_users_sql(), protected_teens_sql(day))
    return FeedGate(
        blocked=block_relations(s, viewer_id) if viewer_id else frozenset(),
        adult=viewer_is_adult(s, viewer_id, day),
        age_restricted=frozenset(s.scalars(select(Video.id).where(Video.age_restricted.is_(True)))),
        followers_only_creators=frozenset(s.scalars(private_or_teen)),
    )


def blocked_fingerprints(s: Session, exclude: str) -> dict[str, list[int]]:
    """Reference hashes of every removed video (except `exclude`)."""
    rows = s.execute(
        select(VideoFingerprint.video_id, VideoFingerprint.hashes).where(
            VideoFingerprint.blocked.is_(True), VideoFingerprint.video_id != exclude
        )
    )
    return {vid: Fingerprint.from_json(hashes).reference for vid, hashes in rows}
