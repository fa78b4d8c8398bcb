"""Reads for the content exchange: what this region offers its peers, and what it holds of theirs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from sovereel.governance.exchange import MEDIA_NAMES
from sovereel.queries.access import visible_videos_sql
from sovereel.storage.db import RegionDB
from sovereel.storage.models import User, Video, VideoHashtag


def offered_sql() -> Any:
    """SQL condition over videos (joined to their creators): what this region offers its peers. Another region is
    an anonymous viewer who follows no one, so the one visibility rule (`queries.access`) decides: no private
    account's, 13-15-year-old's (even one made public) or suspended account's videos, nothing age-restricted
    (an age gate is this region's to enforce), only public ones; and of those, only this region's own, unmoderated."""
    return and_(Video.origin_region.is_(None), Video.moderation_state == "ok", visible_videos_sql(None))


def offered_page(s: Session, *, since: float, limit: int) -> list[dict[str, Any]]:
    """This region's own public, ready videos after `since` (by ready time), public fields only."""
    stamp = func.coalesce(Video.ready_at, Video.created_at)
    rows = list(
        s.execute(
            select(Video, User.username, User.display_name)
            .join(User, User.id == Video.creator_id)
            .where(offered_sql(), stamp > since)  # exclusive: the puller's cursor is the newest it holds
            .order_by(stamp, Video.id)
            .limit(limit)
        )
    )
    ids = [v.id for v, _, _ in rows]
    tags: dict[str, list[str]] = {}
    for vid, tag in s.execute(select(VideoHashtag.video_id, VideoHashtag.tag).where(VideoHashtag.video_id.in_(ids))):
        tags.setdefault(vid, []).append(tag)
    return [
        {
            "id": video.id,
            "caption": video.caption,
            "hashtags": sorted(tags.get(video.id, [])),
            "duration_s": video.duration_s,
            "width": video.width,
            "height": video.height,
            "created_at": video.created_at,
            "ready_at": video.ready_at or video.created_at,
            "creator": {"handle": username, "display_name": display_name},
            "renditions": sorted(n for n in (video.renditions or {}) if n in MEDIA_NAMES),
            "poster": bool(video.poster_key),
        }
        for video, username, display_name in rows
    ]


def still_offered(db: RegionDB, ids: list[str]) -> list[str]:
    """Which of `ids` this region still offers (a video deleted, made private or removed is withdrawn)."""
    with db.session() as s:
        rows = s.scalars(
            select(Video.id).join(User, User.id == Video.creator_id).where(Video.id.in_(ids), offered_sql())
        )
        return sorted(rows)


def pull_cursor(db: RegionDB, peer: str) -> float:
    """Where the next pull from `peer` starts: the newest ready time already received from it."""
    with db.session() as s:
        newest = s.scalar(select(func.max(Video.ready_at)).where(Video.origin_region == peer))
    return float(newest or 0.0)


def holds_video(db: RegionDB, video_id: str) -> bool:
    """Whether a video with this id is already stored here (received before, or this region's own)."""
    with db.session() as s:
        return s.get(Video, video_id) is not None


def held_from(db: RegionDB, peer: str) -> list[str]:
    """The ids of the copies of `peer`'s videos this region holds."""
    with db.session() as s:
        return sorted(s.scalars(select(Video.id).where(Video.origin_region == peer)))
