"""Blocking: a block hides two users from each other and ends every follow and follow request between them."""

from __future__ import annotations

import time

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from sovereel.actions.notifications import drop_between
from sovereel.actions.safety_log import log_safety
from sovereel.errors import Invalid, NotFound
from sovereel.events.outbox import emit
from sovereel.queries.accounts import user_by_name
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Block, Follow, FollowRequest, User


def _drop_follow(s: Session, follower_id: str, followee_id: str) -> int:
    res = s.execute(delete(Follow).where(Follow.follower_id == follower_id, Follow.followee_id == followee_id))
    if not res.rowcount:  # type: ignore[attr-defined]
        return 0
    s.execute(update(User).where(User.id == followee_id).values(follower_count=User.follower_count - 1))
    s.execute(update(User).where(User.id == follower_id).values(following_count=User.following_count - 1))
    emit(s, "social.unfollow", {"user_id": follower_id, "followee_id": followee_id})
    return 1


def block_user(
    s: Session, blocker_id: str, blocked_id: str, *, source: str = "user", audit_secret: str | None = None
) -> bool:
    """Block inside the caller's transaction (the report flow calls this too); False if already blocked.

    Removes follows both ways and pending follow requests, logs the action and emits `safety.block`.
    """
    if blocker_id == blocked_id:
        raise Invalid("you cannot block yourself", code="self_block")
    blocker = s.get(User, blocker_id)
    if blocker is None or s.get(User, blocked_id) is None:
        raise NotFound("no such user")
    if s.get(Block, (blocker_id, blocked_id)) is not None:
        return False
    s.add(Block(blocker_id=blocker_id, blocked_id=blocked_id, created_at=time.time()))
    removed = _drop_follow(s, blocker_id, blocked_id) + _drop_follow(s, blocked_id, blocker_id)
    s.execute(
        delete(FollowRequest).where(
            ((FollowRequest.requester_id == blocker_id) & (FollowRequest.target_id == blocked_id))
            | ((FollowRequest.requester_id == blocked_id) & (FollowRequest.target_id == blocker_id))
        )
    )
    drop_between(s, blocker_id, blocked_id)
    detail = {"source": source[:32], "removed_follows": removed}
    emit(s, "safety.block", {"user_id": blocker_id, "blocked_id": blocked_id, "source": source[:32]})
    log_safety(
        s, region=blocker.region, kind="block", actor_id=blocker_id, subject_id=blocked_id, detail=detail,
        audit_secret=audit_secret,
    )  # fmt: skip
    return True


def unblock_user(s: Session, blocker_id: str, blocked_id: str, *, audit_secret: str | None = None) -> bool:
    """Lift a block inside the caller's transaction (follows do not come back); False if there was none."""
    res = s.execute(delete(Block).where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id))
    if not res.rowcount:  # type: ignore[attr-defined]
        return False
    blocker = s.get(User, blocker_id)
    region = blocker.region if blocker else ""
    emit(s, "safety.unblock", {"user_id": blocker_id, "blocked_id": blocked_id})
    log_safety(
        s, region=region, kind="unblock", actor_id=blocker_id, subject_id=blocked_id, detail={},
        audit_secret=audit_secret,
    )  # fmt: skip
    return True


def do_block(db: RegionDB, *, user_id: str, username: str, audit_secret: str | None = None) -> bool:
    """Block the user called `username`; blocking twice is a no-op. Returns True when a block was added."""
    with db.transaction() as s:
        return block_user(s, user_id, user_by_name(s, username).id, audit_secret=audit_secret)


def do_unblock(db: RegionDB, *, user_id: str, username: str, audit_secret: str | None = None) -> bool:
    """Unblock the user called `username`; returns True when a block was lifted."""
    with db.transaction() as s:
        return unblock_user(s, user_id, user_by_name(s, username).id, audit_secret=audit_secret)
