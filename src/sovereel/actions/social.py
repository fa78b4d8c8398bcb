"""Follows, likes, comments and shares; counters change in the same transaction as the rows they count."""

from __future__ import annotations

import time

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sovereel.actions.counting import mark_first, utc_day, viewer_key
from sovereel.actions.notifications import notify, notify_mentions, withdraw
from sovereel.actions.safety_log import log_safety
from sovereel.errors import Forbidden, Invalid, NotFound
from sovereel.events.outbox import emit
from sovereel.ids import new_id
from sovereel.queries.access import ensure_not_blocked, follow_needs_approval, viewable_video
from sovereel.queries.safety import blocked_between
from sovereel.safety.rules import comment_refusal, matching_filter
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Comment, CommentFilter, Follow, FollowRequest, Like, Share, User, Video
from sovereel.textnorm import clean_text, has_visible_text

MAX_COMMENT_CHARS = 1000


def _interactable_video(s: Session, video_id: str, user_id: str, doing: str) -> Video:
    """The video for a like or comment: 403 when the viewer and the creator are in a block, else as viewable."""
    video = s.get(Video, video_id)
    if video is None:
        raise NotFound("no such video")
    ensure_not_blocked(s, user_id, video.creator_id, doing)
    return viewable_video(s, video_id, user_id)


def do_follow(db: RegionDB, *, user_id: str, username: str, audit_secret: str | None = None) -> bool:
    """Follow a user; following twice is a no-op. Returns True when a follow was added.

    A private account is not followed at once: a follow request is recorded for its holder to approve (and, given
    the region's `audit_secret`, written to the audit log under pseudonyms, as the answer to it is).
    """
    with db.transaction() as s:
        target = s.scalar(select(User).where(User.username_key == username.lower()))
        if target is None:
            raise NotFound("no such user")
        if target.id == user_id:
            raise Invalid("you cannot follow yourself", code="self_follow")
        ensure_not_blocked(s, user_id, target.id, "follow it")
        if s.get(Follow, (user_id, target.id)) is not None:
            return False
        if follow_needs_approval(target):  # a private account, or a 13-15-year-old's even when public
            if s.get(FollowRequest, (user_id, target.id)) is None:
                s.add(FollowRequest(requester_id=user_id, target_id=target.id, created_at=time.time()))
                log_safety(
                    s, region=target.region, kind="follow_request", actor_id=user_id, subject_id=target.id,
                    detail={}, audit_secret=audit_secret,
                )  # fmt: skip
                emit(s, "social.follow_request", {"user_id": user_id, "target_id": target.id})
                notify(s, recipient_id=target.id, actor_id=user_id, kind="follow_request")
            return False
        s.add(Follow(follower_id=user_id, followee_id=target.id, created_at=time.time()))
        s.execute(update(User).where(User.id == target.id).values(follower_count=User.follower_count + 1))
        s.execute(update(User).where(User.id == user_id).values(following_count=User.following_count + 1))
        emit(s, "social.follow", {"user_id": user_id, "followee_id": target.id})
        notify(s, recipient_id=target.id, actor_id=user_id, kind="follow")
        return True


def do_unfollow(db: RegionDB, *, user_id: str, username: str) -> bool:
    with db.transaction() as s:
        target = s.scalar(select(User).where(User.username_key == username.lower()))
        if target is None:
            raise NotFound("no such user")
        pending = (FollowRequest.requester_id == user_id) & (FollowRequest.target_id == target.id)
        if s.execute(delete(FollowRequest).where(pending)).rowcount:  # type: ignore[attr-defined]
            # unfollowing also withdraws a request, and the notification of it
            withdraw(s, recipient_id=target.id, actor_id=user_id, kind="follow_request")
        res = s.execute(delete(Follow).where(Follow.follower_id == user_id, Follow.followee_id == target.id))
        if not res.rowcount:  # type: ignore[attr-defined]
            return False
        s.execute(update(User).where(User.id == target.id).values(follower_count=User.follower_count - 1))
        s.execute(update(User).where(User.id == user_id).values(following_count=User.following_count - 1))
        emit(s, "social.unfollow", {"user_id": user_id, "followee_id": target.id})
        withdraw(s, recipient_id=target.id, actor_id=user_id, kind="follow")
        return True


def do_like(db: RegionDB, *, user_id: str, video_id: str) -> int:
    """Like a video (idempotent); returns its like count."""
    with db.transaction() as s:
        video = _interactable_video(s, video_id, user_id, "like its videos")
        if s.get(Like, (user_id, video_id)) is None:
            s.add(Like(user_id=user_id, video_id=video_id, created_at=time.time()))
            s.execute(update(Video).where(Video.id == video_id).values(like_count=Video.like_count + 1))
            emit(s, "social.like", {"user_id": user_id, "video_id": video_id, "creator_id": video.creator_id})
            notify(s, recipient_id=video.creator_id, actor_id=user_id, kind="like", video=video)
        s.flush()
        s.refresh(video)
        return video.like_count


def do_unlike(db: RegionDB, *, user_id: str, video_id: str) -> int:
    with db.transaction() as s:
        video = viewable_video(s, video_id, user_id)
        res = s.execute(delete(Like).where(Like.user_id == user_id, Like.video_id == video_id))
        if res.rowcount:  # type: ignore[attr-defined]
            s.execute(update(Video).where(Video.id == video_id).values(like_count=Video.like_count - 1))
            emit(s, "social.unlike", {"user_id": user_id, "video_id": video_id})
            # grouped likes count the likers there are now: no stale "liked your video"
            withdraw(s, recipient_id=video.creator_id, actor_id=user_id, kind="like", video_id=video_id)
        s.flush()
        s.refresh(video)
        return video.like_count


def do_comment(db: RegionDB, *, user_id: str, video_id: str, body: str, parent_id: str | None = None) -> Comment:
    """Comment on a video, or reply to a top-level comment (replies are one level deep)."""
    body = clean_text(body, multiline=True)
    if not has_visible_text(body):  # zero-width or blank-filler "comments" are empty too
        raise Invalid("a comment cannot be empty", code="empty_comment")
    if len(body) > MAX_COMMENT_CHARS:
        raise Invalid(f"a comment is at most {MAX_COMMENT_CHARS} characters", code="comment_too_long")
    now = time.time()
    with db.transaction() as s:
        video = _interactable_video(s, video_id, user_id, "comment on its videos")
        creator = s.get(User, video.creator_id)
        policy = video.comment_policy or (creator.comment_policy if creator else "everyone")
        follows = s.get(Follow, (user_id, video.creator_id)) is not None
        refusal = comment_refusal(policy, is_creator=video.creator_id == user_id, follows_creator=follows)
        if refusal is not None:
            raise Forbidden(refusal, code="comments_restricted")
        parent_author = None
        if parent_id is not None:
            parent = s.get(Comment, parent_id)
            if parent is None or parent.video_id != video_id or blocked_between(s, user_id, parent.user_id):
                raise NotFound("no such comment to reply to")  # a blocked author's comment is not seen, so 404
            if parent.parent_id is not None:
                raise Invalid("replies are one level deep: reply to the top-level comment", code="reply_depth")
            parent.reply_count += 1
            parent_author = parent.user_id
        comment = Comment(
            id=new_id(now), video_id=video_id, user_id=user_id, parent_id=parent_id, body=body, created_at=now
        )
        s.add(comment)
        s.execute(update(Video).where(Video.id == video_id).values(comment_count=Video.comment_count + 1))
        emit(s, "social.comment", {"user_id": user_id, "video_id": video_id, "comment_id": comment.id})
        s.flush()  # the notifications below refer to the comment row
        _notify_comment(s, comment, video, parent_author=parent_author)
        return comment


def _notify_comment(s: Session, comment: Comment, video: Video, parent_author: str | None) -> None:
    """A reply tells the replied-to author, a comment the creator, a mention the mentioned; one notice each.

    A comment the creator's keyword filters hide is shown to no one but its author, so it tells no one."""
    if comment.user_id != video.creator_id:
        keywords = s.scalars(select(CommentFilter.keyword).where(CommentFilter.user_id == video.creator_id))
        if matching_filter(comment.body, list(keywords)):
            return
    told = {comment.user_id}
    who, cid = comment.user_id, comment.id
    if parent_author is not None:
        notify(s, recipient_id=parent_author, actor_id=who, kind="reply", video=video, comment_id=cid)
        told.add(parent_author)
    if video.creator_id not in told:
        notify(s, recipient_id=video.creator_id, actor_id=who, kind="comment", video=video, comment_id=cid)
        told.add(video.creator_id)
    notify_mentions(s, text=comment.body, actor_id=comment.user_id, video=video, comment_id=comment.id, skip=told)


def do_delete_comment(db: RegionDB, *, user_id: str, comment_id: str, audit_secret: str | None = None) -> None:
    """Delete a comment (and its replies): one's own, or any on one's own video (its author is told)."""
    with db.transaction() as s:
        comment = s.get(Comment, comment_id)
        if comment is None:
            raise NotFound("no such comment")
        if comment.user_id != user_id:
            video = s.get(Video, comment.video_id)
            if video is None or video.creator_id != user_id:
                raise Forbidden("you can delete only your own comments, or comments on your videos", code="not_owner")
            log_safety(
                s,
                region=video.region,
                kind="comment_removed",
                actor_id=user_id,
                subject_id=comment.user_id,
                detail={"video_id": video.id, "comment_id": comment.id, "excerpt": comment.body[:80]},
                audit_secret=audit_secret,
            )
        removed = 1 + (comment.reply_count if comment.parent_id is None else 0)
        if comment.parent_id is not None:
            s.execute(
                update(Comment).where(Comment.id == comment.parent_id).values(reply_count=Comment.reply_count - 1)
            )
        else:
            s.execute(delete(Comment).where(Comment.parent_id == comment.id))
        s.execute(delete(Comment).where(Comment.id == comment.id))
        s.execute(update(Video).where(Video.id == comment.video_id).values(comment_count=Video.comment_count - removed))


def do_share(
    db: RegionDB,
    *,
    user_id: str | None,
    video_id: str,
    channel: str = "link",
    address: str | None = None,
    counter_secret: str = "",
) -> int:
    """Count a share (copy link, …) once per viewer, video and UTC day; returns the share count.

    The viewer is the account, or the request's `address` when signed out (kept only as a keyed hash, see
    `actions.counting`); a repeat the same day is answered with the count unchanged and stores nothing."""
    now = time.time()
    with db.transaction() as s:
        video = viewable_video(s, video_id, user_id)
        day = utc_day(now)
        key = viewer_key(counter_secret, day, user_id=user_id, address=address)
        if mark_first(s, "share", [video_id], key, day):
            s.add(Share(id=new_id(), video_id=video_id, user_id=user_id, channel=channel[:32], created_at=now))
            s.execute(update(Video).where(Video.id == video_id).values(share_count=Video.share_count + 1))
            emit(s, "social.share", {"user_id": user_id, "video_id": video_id})
        s.flush()
        s.refresh(video)
        return video.share_count
