"""A user's safety settings: private account, who may comment (account-wide and per video), comment keyword
filters, and answering follow requests. Every change is logged: in the safety log the user reads, and (given the
region's `audit_secret`) in the audit log as `account.<kind>` under pseudonyms, never with the keywords themselves.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sovereel.actions.notifications import notify, withdraw
from sovereel.actions.safety_log import log_safety
from sovereel.errors import Forbidden, NotFound, Unauthorized
from sovereel.events.outbox import emit
from sovereel.queries.access import follow_needs_approval
from sovereel.queries.accounts import user_by_name
from sovereel.safety.rules import check_comment_policy, clean_comment_filters
from sovereel.storage.db import RegionDB
from sovereel.storage.models import CommentFilter, Follow, FollowRequest, User, Video


def _user(s: Session, user_id: str) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise Unauthorized("no such user")
    return user


def _accept(s: Session, requester_id: str, target_id: str) -> bool:
    """Turn a pending request into a follow (counters in the same transaction); False if none was pending."""
    res = s.execute(
        delete(FollowRequest).where(FollowRequest.requester_id == requester_id, FollowRequest.target_id == target_id)
    )
    if not res.rowcount or s.get(Follow, (requester_id, target_id)) is not None:  # type: ignore[attr-defined]
        return False
    s.add(Follow(follower_id=requester_id, followee_id=target_id, created_at=time.time()))
    s.execute(update(User).where(User.id == target_id).values(follower_count=User.follower_count + 1))
    s.execute(update(User).where(User.id == requester_id).values(following_count=User.following_count + 1))
    emit(s, "social.follow", {"user_id": requester_id, "followee_id": target_id})
    s.flush()  # the approval's notice reads the new follow (it lets the requester see a protected teen)
    withdraw(s, recipient_id=target_id, actor_id=requester_id, kind="follow_request")  # answered: off the inbox
    notify(s, recipient_id=requester_id, actor_id=target_id, kind="follow_approved")
    return True


def do_update_safety_settings(
    db: RegionDB,
    user_id: str,
    *,
    is_private: bool | None = None,
    comment_policy: str | None = None,
    comment_filters: list[str] | None = None,
    audit_secret: str | None = None,
) -> None:
    """Change the account's privacy, its default comment policy or its comment keyword filters.

    Making a private account public approves the follow requests that were waiting (not a 13-15-year-old's:
    their follows stay requests they approve one by one, `queries.access.follow_needs_approval`).
    """
    policy = check_comment_policy(comment_policy) if comment_policy is not None else None
    keywords = clean_comment_filters(comment_filters) if comment_filters is not None else None
    with db.transaction() as s:
        user = _user(s, user_id)
        if is_private is not None and is_private != user.is_private:
            user.is_private = is_private
            approved = 0
            if not follow_needs_approval(user):
                pending = list(s.scalars(select(FollowRequest.requester_id).where(FollowRequest.target_id == user_id)))
                approved = sum(_accept(s, requester, user_id) for requester in pending)
            log_safety(
                s,
                region=user.region,
                kind="privacy",
                actor_id=user_id,
                subject_id=user_id,
                detail={"is_private": is_private, "approved_requests": approved},
                audit_secret=audit_secret,
            )
        if policy is not None and policy != user.comment_policy:
            user.comment_policy = policy
            log_safety(
                s, region=user.region, kind="comment_policy", actor_id=user_id, subject_id=user_id,
                detail={"policy": policy}, audit_secret=audit_secret,
            )  # fmt: skip
        if keywords is not None:
            s.execute(delete(CommentFilter).where(CommentFilter.user_id == user_id))
            now = time.time()
            s.add_all(
                CommentFilter(user_id=user_id, keyword=k, created_at=now + i * 1e-6) for i, k in enumerate(keywords)
            )
            log_safety(
                s, region=user.region, kind="comment_filters", actor_id=user_id, subject_id=user_id,
                detail={"count": len(keywords)}, audit_secret=audit_secret,  # how many, never which
            )  # fmt: skip


def do_set_video_comment_policy(
    db: RegionDB, *, user_id: str, video_id: str, policy: str | None, audit_secret: str | None = None
) -> Video:
    """Set who may comment on one of one's videos; None follows the account's setting again."""
    if policy is not None:
        check_comment_policy(policy)
    with db.transaction() as s:
        video = s.get(Video, video_id)
        if video is None:
            raise NotFound("no such video")
        if video.creator_id != user_id:
            raise Forbidden("only the creator can change who comments on a video", code="not_owner")
        video.comment_policy = policy
        log_safety(
            s, region=video.region, kind="comment_policy", actor_id=user_id, subject_id=user_id,
            detail={"policy": policy, "video_id": video_id}, audit_secret=audit_secret,
        )  # fmt: skip
        return video


def do_answer_follow_request(
    db: RegionDB, *, user_id: str, username: str, approve: bool, audit_secret: str | None = None
) -> bool:
    """Approve (a follow begins) or decline a pending request from `username`; the requester is told."""
    with db.transaction() as s:
        me = _user(s, user_id)
        requester = user_by_name(s, username)
        if s.get(FollowRequest, (requester.id, user_id)) is None:
            raise NotFound(f"no follow request from @{requester.username}")
        if approve:
            _accept(s, requester.id, user_id)
        else:
            s.execute(
                delete(FollowRequest).where(
                    FollowRequest.requester_id == requester.id, FollowRequest.target_id == user_id
                )
            )
            withdraw(s, recipient_id=user_id, actor_id=requester.id, kind="follow_request")
            notify(s, recipient_id=requester.id, actor_id=user_id, kind="follow_declined")
        kind = "follow_approved" if approve else "follow_declined"
        log_safety(
            s, region=me.region, kind=kind, actor_id=user_id, subject_id=requester.id, detail={},
            audit_secret=audit_secret,
        )  # fmt: skip
        return approve
