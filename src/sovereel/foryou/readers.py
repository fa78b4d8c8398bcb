"""What the For You learner and trainer read from the region store: the video catalogue, the event log as
signals (less what "Refresh For You" discarded) and the log's size.

`video_info` is the one place a store row becomes the recommender's `VideoInfo`, for serving
(`foryou.service`) and for learning and training alike, so the model, the text index and the pipeline all see
the same facts: hashtags in caption order (distinct, lower-cased, as `captions.parse_hashtags` reads them),
whose first is the video's topic for the reranker.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from sovereel.captions import parse_hashtags
from sovereel.feed.interface import VideoInfo
from sovereel.foryou.live_state import Signal, bootstrap_signals
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Event, FeedPreferences, Like, Video


def video_info(row: Any, *, creator_name: str = "", creator_suspended: bool = False) -> VideoInfo:
    """The public facts of a video row (a `Video` or a row with its columns) as ranking sees them."""
    return VideoInfo(
        id=row.id,
        creator_id=row.creator_id,
        created_at=row.created_at,
        duration_s=row.duration_s or 0.0,
        hashtags=tuple(parse_hashtags(row.caption)),  # caption order: the first is the topic
        caption=row.caption,
        creator_name=creator_name,
        visibility=row.visibility,
        like_count=row.like_count,
        comment_count=row.comment_count,
        share_count=row.share_count,
        view_count=row.view_count,
        # The pipeline's moderation filter drops all but "ok": a suspended account's videos with the rest.
        moderation="suspended" if creator_suspended else row.moderation_state,
        sound_id=row.sound_id,
    )


def video_infos(db: RegionDB) -> list[VideoInfo]:
    """Public facts of the region's ready videos, for the model's catalogue."""
    with db.session() as s:
        return [
            video_info(v)
            # A removed video leaves the catalogue (and, through `video.moderated`, the serving indexes) at once.
            for v in s.scalars(select(Video).where(Video.status == "ready", Video.moderation_state != "removed"))
        ]


def servable_video_info(db: RegionDB, video_id: str) -> VideoInfo | None:
    """One video's facts if it is in the catalogue `video_infos` reads (ready and not removed), else None."""
    with db.session() as s:
        row = s.get(Video, video_id)
        if row is None or row.status != "ready" or row.moderation_state == "removed":
            return None
        return video_info(row)


def reset_times(db: RegionDB) -> dict[str, float]:
    """When each user last asked to "Refresh For You": their earlier events no longer train their profile."""
    with db.session() as s:
        rows = s.execute(
            select(FeedPreferences.user_id, FeedPreferences.profile_reset_at).where(
                FeedPreferences.profile_reset_at.is_not(None)
            )
        )
        return {uid: float(at) for uid, at in rows if at is not None}


def profile_signals(db: RegionDB, since: float) -> list[Signal]:
    """The event log since `since`, less each user's events from before their last "Refresh For You"."""
    resets = reset_times(db)
    return [s for s in bootstrap_signals(db, since) if s.at >= resets.get(s.user_id, 0.0)]


def event_log_size(db: RegionDB) -> int:
    """How many watch events and likes the region has recorded (what a new version would learn from)."""
    with db.session() as s:
        events = s.scalar(select(func.count()).select_from(Event)) or 0
        likes = s.scalar(select(func.count()).select_from(Like)) or 0
    return int(events) + int(likes)
