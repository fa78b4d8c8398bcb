"""Reading videos as viewers see them."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from sovereel.queries.access import visible_videos_sql
from sovereel.queries.sounds import sound_credits
from sovereel.storage.models import Follow, Like, User, Video, VideoHashtag


def visible_to(viewer_id: str | None, today: date | None = None) -> Any:
    """SQL condition: videos the viewer may see under the one rule (`queries.access`), and always their own."""
    return visible_videos_sql(viewer_id, today)


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


def rendition_list(video: Video) -> list[dict[str, Any]]:
    """The video's stored renditions, smallest first, as a player chooses among them: label, pixel size, bytes, URL.

    Read from what the worker stored, so a new rendition (a 1080 one for sources that have it) is offered to
    players as soon as a video has it, with no change here. Sizes a player cannot know are null.
    """
    out: list[dict[str, Any]] = []
    for name, info in (video.renditions or {}).items():
        width, height = _rendition_size(name, info)
        size = info.get("bytes")
        out.append(
            {
                "label": name,
                "width": width,
                "height": height,
                "bytes": size if isinstance(size, int) and size > 0 else None,
                "url": f"/api/videos/{video.id}/media/{name}",
            }
        )
    out.sort(key=lambda r: (min(r["width"] or 0, r["height"] or 0), r["bytes"] or 0, r["label"]))
    return out


def _rendition_size(name: str, info: dict[str, Any]) -> tuple[int | None, int | None]:
    """A rendition's pixel size; a numeric label caps the short side (exchanged copies store the source's size)."""
    width, height = info.get("width"), info.get("height")
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        return None, None
    short = min(width, height)
    if name.isdigit() and short > int(name):
        scale = int(name) / short
        return round(width * scale / 2) * 2, round(height * scale / 2) * 2
    return width, height


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
    sounds = sound_credits(s, videos, viewer_id)
    out = []
    for v in videos:
        creator = creators.get(v.creator_id)
        own = viewer_id == v.creator_id
        media = {name: f"/api/videos/{v.id}/media/{name}" for name in sorted(v.renditions or {})}
        renditions = rendition_list(v)
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
                "renditions": renditions,
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
                "sound": sounds.get(v.id),  # "♫ original sound – @ana", when the viewer may see that sound
            }
        )
    return out


_CURSOR_RE = re.compile(r"^(-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:e[-+]?[0-9]{1,3})?):([0-9A-Za-z]{1,32})\Z")


def newest_first(stmt: Select[Any], cursor: str | None, limit: int) -> Select[Any]:
    """Keyset pagination over (created_at, id) descending; the cursor is '<created_at>:<id>'."""
    if cursor:
        m = _CURSOR_RE.fullmatch(cursor)  # whole and ASCII: float() alone takes " 1e3\n", "nan" and "١٢"
        if m is None:
            from sovereel.errors import Invalid

            raise Invalid("malformed cursor", code="bad_cursor")
        ts, vid = float(m.group(1)), m.group(2)
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
    stmt = select(Video).where(Video.id.in_(tagged), visible_to(viewer_id))
    rows = list(s.scalars(newest_first(stmt, cursor, limit)))
    return page_of(rows, limit)
