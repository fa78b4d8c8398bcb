"""Creator analytics as the creator sees them: read from the aggregates `actions.analytics` keeps.

Aggregates only, never who watched. A breakdown (the retention curve, the view sources, per-day splits) is
given only once at least `MIN_VIEWERS` distinct viewers watched; below that it is None and `breakdown_hidden`
says why, so a creator with a handful of viewers cannot read one person's viewing out of a chart.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sovereel.events.kinds import VIEW_SOURCES
from sovereel.queries.access import own_video
from sovereel.storage.models import CreatorDaily, User, Video, VideoDaily, VideoReach, VideoSource, VideoStats, Watch

MIN_VIEWERS = 10
PERIODS = (7, 28, 60)  # the account's trend windows, in days
VIDEO_DAYS = 28  # the per-day series of one video
DAY_S = 86400


def retention_curve(reach: dict[int, int], viewers: int, duration_s: float | None) -> list[dict[str, Any]]:
    """The share of viewers still watching at each whole second, from how many got exactly that far."""
    if viewers <= 0:
        return []
    end = int(duration_s) if duration_s and duration_s > 0 else max(reach, default=0)
    still = viewers
    out = []
    for second in range(end + 1):
        out.append({"second": second, "share": round(max(0, still) / viewers, 4)})
        still -= reach.get(second, 0)  # those who stopped at this second are gone from the next one
    return out


def freshness(updated_at: float | None, now: float) -> dict[str, Any]:
    """When the newest folded event reached these figures, and how long ago that was."""
    if not updated_at:
        return {"updated_at": None, "updated_ago_s": None}
    return {"updated_at": updated_at, "updated_ago_s": max(0, round(now - updated_at))}


def _iso(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def video_analytics(s: Session, video_id: str, viewer_id: str, now: float | None = None) -> dict[str, Any]:
    """One video's figures for its creator (NotFound for anyone else)."""
    now = time.time() if now is None else now
    video = own_video(s, video_id, viewer_id)
    stats = s.get(VideoStats, video.id)
    viewers = stats.viewers if stats else 0
    watch_s = stats.watch_s if stats else 0.0
    shown = viewers >= MIN_VIEWERS
    out: dict[str, Any] = {
        "video": {
            "id": video.id,
            "caption": video.caption,
            "duration_s": video.duration_s,
            "created_at": video.created_at,
            "url": f"/v/{video.id}",
        },
        **freshness(stats.updated_at if stats else None, now),
        "views": stats.views if stats else 0,
        "unique_viewers": viewers,
        "watch_time_s": round(watch_s, 2),
        "average_watch_s": round(watch_s / viewers, 2) if viewers else 0.0,
        "completion_rate": round(stats.completed / viewers, 4) if stats and viewers else 0.0,
        "likes": video.like_count,
        "comments": video.comment_count,
        "shares": video.share_count,
        "new_followers": stats.new_followers if stats else 0,
        "min_viewers": MIN_VIEWERS,
        "breakdown_hidden": not shown,
        "retention": None,
        "sources": None,
        "daily": None,
    }
    if not shown:
        return out
    reach = {
        int(sec): int(n)
        for sec, n in s.execute(select(VideoReach.second, VideoReach.viewers).where(VideoReach.video_id == video.id))
    }
    out["retention"] = retention_curve(reach, viewers, video.duration_s)
    sources = select(VideoSource.source, VideoSource.views).where(VideoSource.video_id == video.id)
    by_source = {src: int(n) for src, n in s.execute(sources)}
    total = sum(by_source.values()) or 1
    out["sources"] = [
        {"source": src, "views": by_source.get(src, 0), "share": round(by_source.get(src, 0) / total, 4)}
        for src in VIEW_SOURCES
    ]
    today = int(now // DAY_S)
    rows = s.execute(
        select(VideoDaily.day, VideoDaily.views, VideoDaily.watch_s).where(
            VideoDaily.video_id == video.id, VideoDaily.day > today - VIDEO_DAYS
        )
    )
    per_day = {day: (views, w) for day, views, w in rows}
    out["daily"] = [
        {"date": _iso(d), "views": per_day.get(d, (0, 0.0))[0], "watch_time_s": round(per_day.get(d, (0, 0.0))[1], 2)}
        for d in range(today - VIDEO_DAYS + 1, today + 1)
    ]
    return out


def account_analytics(s: Session, user: User, now: float | None = None) -> dict[str, Any]:
    """The account's trends over the last 7 / 28 / 60 days and its videos' headline figures."""
    now = time.time() if now is None else now
    today = int(now // DAY_S)
    first = today - max(PERIODS) + 1
    views = dict(
        s.execute(
            select(VideoDaily.day, func.sum(VideoDaily.views))
            .where(VideoDaily.creator_id == user.id, VideoDaily.day >= first)
            .group_by(VideoDaily.day)
        ).all()
    )
    follows = {
        day: (gained, lost)
        for day, gained, lost in s.execute(
            select(CreatorDaily.day, CreatorDaily.gained, CreatorDaily.lost).where(
                CreatorDaily.creator_id == user.id, CreatorDaily.day >= first
            )
        )
    }
    # Distinct people, not the sum over videos: one viewer of ten videos is one viewer here.
    viewers = int(
        s.scalar(
            select(func.count(func.distinct(Watch.user_id)))
            .join(Video, Video.id == Watch.video_id)
            .where(Video.creator_id == user.id)
        )
        or 0
    )
    periods = []
    for days in PERIODS:
        span = range(today - days + 1, today + 1)
        periods.append(
            {
                "days": days,
                "views": int(sum(views.get(d, 0) for d in span)),
                "followers_gained": sum(follows.get(d, (0, 0))[0] for d in span),
                "followers_lost": sum(follows.get(d, (0, 0))[1] for d in span),
            }
        )
    shown = viewers >= MIN_VIEWERS
    daily = (
        [
            {
                "date": _iso(d),
                "views": int(views.get(d, 0)),
                "followers_gained": follows.get(d, (0, 0))[0],
                "followers_lost": follows.get(d, (0, 0))[1],
            }
            for d in range(first, today + 1)
        ]
        if shown
        else None
    )
    rows = s.execute(
        select(Video, VideoStats)
        .outerjoin(VideoStats, VideoStats.video_id == Video.id)
        .where(Video.creator_id == user.id, Video.origin_region.is_(None))
        .order_by(Video.created_at.desc())
    ).all()
    videos = []
    for video, stats in rows:
        n = stats.viewers if stats else 0
        videos.append(
            {
                "id": video.id,
                "caption": video.caption,
                "status": video.status,
                "views": stats.views if stats else 0,
                "unique_viewers": n,
                "average_watch_s": round(stats.watch_s / n, 2) if stats and n else 0.0,
                "completion_rate": round(stats.completed / n, 4) if stats and n else 0.0,
                "url": f"/studio/videos/{video.id}",
            }
        )
    updated = max(
        [stats.updated_at for _v, stats in rows if stats]
        + [float(s.scalar(select(func.max(CreatorDaily.updated_at)).where(CreatorDaily.creator_id == user.id)) or 0)],
        default=0.0,
    )
    return {
        "username": user.username,
        **freshness(updated or None, now),
        "followers": user.follower_count,
        "unique_viewers": viewers,
        "min_viewers": MIN_VIEWERS,
        "breakdown_hidden": not shown,
        "periods": periods,
        "daily": daily,
        "videos": videos,
    }
