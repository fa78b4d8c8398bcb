"""Reading videos as viewers see them."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from sovereel.queries.safety import (
    block_relations_sql,
    private_users_sql,
    protected_teens_sql,
    suspended_users_sql,
    today_utc,
    viewer_is_adult_sql,
)
from sovereel.storage.models import Follow, Like, User, Video, VideoHashtag

# Moderation states others may see a video in (held and removed videos are shown to their creator only).
SERVABLE_STATES = ("ok", "not_for_you")


def servable_sql() -> Any:
    """SQL condition: moderation lets others see the video (a servable state, and its creator is not suspended)."""
    return and_(Video.moderation_state.in_(SERVABLE_STATES), ~Video.creator_id.in_(suspended_users_sql()))


def servable(video: Video, creator: User | None) -> bool:
    """`servable_sql` for one loaded video and its creator."""
    return video.moderation_state in SERVABLE_STATES and (creator is None or creator.suspended_at is None)


def visible_to(viewer_id: str | None, today: date | None = None) -> Any:
    """SQL condition: ready videos the viewer may see, and always their own.

    Others' videos must be servable (`servable_sql`: not held or removed, not by a suspended account), public
    (or followers-only and followed), from a public account (or a followed private one), not from a user in a
    block with the viewer, and not age-restricted unless the viewer is known to be 18 or over (signed-out
    viewers never are).
    """
    private = private_users_sql()
    if viewer_id is None:
        return and_(
            Video.status == "ready",
            servable_sql(),
            Video.visibility == "public",
            Video.age_restricted.is_(False),
            ~Video.creator_id.in_(private),
        )
    follows = select(Follow.followee_id).where(Follow.follower_id == viewer_id)
    others = and_(
        Video.status == "ready",
        servable_sql(),
        or_(Video.visibility == "public", and_(Video.visibility == "followers", Video.creator_id.in_(follows))),
        or_(~Video.creator_id.in_(private), Video.creator_id.in_(follows)),
        or_(Video.age_restricted.is_(False), viewer_is_adult_sql(viewer_id, today or today_utc())),
        ~Video.creator_id.in_(block_relations_sql(viewer_id)),
    )
    return or_(others, Video.creator_id == viewer_id)


def discoverable_by(viewer_id: str | None, today: date | None = None) -> Any:
    """SQL condition for discovery surfaces (search, hashtags, For You): no strangers' views of 13-15s' videos."""
    teens = protected_teens_sql(today or today_utc())
    if viewer_id is None:
        return ~Video.creator_id.in_(teens)
    follows = select(Follow.followee_id).where(Follow.follower_id == viewer_id)
    return or_(~Video.creator_id.in_(teens), Video.creator_id.in_(follows), Video.creator_id == viewer_id)


def user_view(user: User) -> dict[str, Any]:
    """Public profile fields."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "bio": user.bio,
        "avatar_url": f"/api/users/{user.username}/avatar" if user.avatar_key else None,
        "follower_count": user.follower_count,
        "following_count": user.following_count,
        "region": user.region,
        "is_private": user.is_private,
    }


def video_views(s: Session, videos: list[Video], viewer_id: str | None) -> list[dict[str, Any]]:
    """Videos as JSON-ready dicts, with the viewer's like/follow state, in the given order."""
    if not videos:
        return []
    ids = [v.id for v in videos]
    creator_ids = {v.creator_id for v in videos}
    creators = {u.id: u for u in s.scalars(select(User).where(User.id.in_(creator_ids)))}
    tags: dict[str, list[str]] = {}
    for vid, tag in s.execute(select(VideoHashtag.video_id, VideoHashtag.tag).where(VideoHashtag.video_id.in_(ids))):
        tags.setdefault(vid, []).append(tag)
    liked: set[str] = set()
    following: set[str] = set()
    if viewer_id:
        liked = set(s.scalars(select(Like.video_id).where(Like.user_id == viewer_id, Like.video_id.in_(ids))))
        following = set(
            s.scalars(
                select(Follow.followee_id).where(Follow.follower_id == viewer_id, Follow.followee_id.in_(creator_ids))
            )
        )
    out = []
    for v in videos:
        creator = creators.get(v.creator_id)
        own = viewer_id == v.creator_id
        media = {name: f"/api/videos/{v.id}/media/{name}" for name in sorted(v.renditions or {})}
        out.append(
            {
                "id": v.id,
                "creator": user_view(creator) if creator else None,
                "caption": v.caption,
                "hashtags": sorted(tags.get(v.id, [])),
                "visibility": v.visibility,
                "status": v.status,
                "failure_reason": v.failure_reason if own else None,
                "moderation_state": v.moderation_state if own else None,  # held / removed ones reach only their owner
                "duration_s": v.duration_s,
                "width": v.width,
                "height": v.height,
                "aspect": round(v.width / v.height, 4) if v.width and v.height else None,
                "poster_url": f"/api/videos/{v.id}/media/poster" if v.poster_key else None,
                "media": media,
                "like_count": v.like_count,
                "comment_count": v.comment_count,
                "share_count": v.share_count,
                "view_count": v.view_count,
                "age_restricted": v.age_restricted,
                "comment_policy": v.comment_policy,
                "liked": v.id in liked,
                "following_creator": v.creator_id in following,
                "is_own": own,
                "created_at": v.created_at,
                "url": f"/v/{v.id}",
            }
        )
    return out


def newest_first(stmt: Select[Any], cursor: str | None, limit: int) -> Select[Any]:
    """Keyset pagination over (created_at, id) descending; the cursor is '<created_at>:<id>'."""
    if cursor:
        try:
            ts_s, vid = cursor.split(":", 1)
            ts = float(ts_s)
        except ValueError:
            from sovereel.errors import Invalid

            raise Invalid("malformed cursor", code="bad_cursor") from None
        stmt = stmt.where(or_(Video.created_at < ts, and_(Video.created_at == ts, Video.id < vid)))
    return stmt.order_by(Video.created_at.desc(), Video.id.desc()).limit(limit + 1)


def page_of(rows: list[Video], limit: int) -> tuple[list[Video], str | None]:
    """Split a limit+1 result into a page and the next cursor."""
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], f"{last.created_at!r}:{last.id}"
    return rows, None


def following_feed(s: Session, viewer_id: str, cursor: str | None, limit: int) -> tuple[list[Video], str | None]:
    """Newest first from followed creators."""
    follows = select(Follow.followee_id).where(Follow.follower_id == viewer_id)
    stmt = select(Video).where(Video.creator_id.in_(follows), visible_to(viewer_id))
    rows = list(s.scalars(newest_first(stmt, cursor, limit)))
    return page_of(rows, limit)


def user_videos(
    s: Session, creator_id: str, viewer_id: str | None, cursor: str | None, limit: int
) -> tuple[list[Video], str | None]:
    stmt = select(Video).where(Video.creator_id == creator_id, visible_to(viewer_id))
    rows = list(s.scalars(newest_first(stmt, cursor, limit)))
    return page_of(rows, limit)


def hashtag_videos(
    s: Session, tag: str, viewer_id: str | None, cursor: str | None, limit: int
) -> tuple[list[Video], str | None]:
    tagged = select(VideoHashtag.video_id).where(VideoHashtag.tag == tag.lower().lstrip("#"))
    stmt = select(Video).where(Video.id.in_(tagged), visible_to(viewer_id), discoverable_by(viewer_id))
    rows = list(s.scalars(newest_first(stmt, cursor, limit)))
    return page_of(rows, limit)
