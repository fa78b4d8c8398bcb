"""Filling feed pages: builds the recommender's world from the region store and records what was served."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from sovereel.errors import Invalid
from sovereel.feed.interface import CandidateWorld, FeedRequest, VideoInfo
from sovereel.ids import new_id
from sovereel.queries.videos import following_feed, video_views
from sovereel.runtime import RegionRuntime
from sovereel.storage.models import FeedImpression, Follow, Video, VideoHashtag, Watch

SNAPSHOT_TTL_S = 2.0


@dataclass(frozen=True)
class Eligible:
    info: VideoInfo
    visibility: str


class VideoSnapshot:
    """The ready videos of the region, refreshed at most every SNAPSHOT_TTL_S (counts may lag that much)."""

    def __init__(self, rt: RegionRuntime) -> None:
        self.rt = rt
        self._lock = threading.Lock()
        self._at = 0.0
        self._videos: dict[str, Eligible] = {}

    def invalidate(self) -> None:
        self._at = 0.0

    def get(self) -> dict[str, Eligible]:
        with self._lock:
            if time.monotonic() - self._at > SNAPSHOT_TTL_S:
                self._videos = self._load()
                self._at = time.monotonic()
            return self._videos

    def _load(self) -> dict[str, Eligible]:
        with self.rt.db.session() as s:
            rows = list(s.scalars(select(Video).where(Video.status == "ready", Video.visibility != "private")))
            tags: dict[str, list[str]] = {}
            for vid, tag in s.execute(select(VideoHashtag.video_id, VideoHashtag.tag)):
                tags.setdefault(vid, []).append(tag)
        return {
            v.id: Eligible(
                VideoInfo(
                    id=v.id,
                    creator_id=v.creator_id,
                    created_at=v.created_at,
                    duration_s=v.duration_s or 0.0,
                    hashtags=tuple(sorted(tags.get(v.id, []))),
                    caption=v.caption,
                    like_count=v.like_count,
                    comment_count=v.comment_count,
                    share_count=v.share_count,
                    view_count=v.view_count,
                ),
                v.visibility,
            )
            for v in rows
        }


def _parse_chain(cursor: str | None) -> tuple[str, int]:
    if not cursor:
        return new_id(), 0
    chain, _, page = cursor.partition(":")
    if not chain.isalnum() or len(chain) > 32 or not page.isdigit():
        raise Invalid("malformed cursor", code="bad_cursor")
    return chain, int(page)


class FeedService:
    """For You and Following pages for one region."""

    def __init__(self, rt: RegionRuntime) -> None:
        self.rt = rt
        self.snapshot = VideoSnapshot(rt)
        rt.bus.subscribe("video.", lambda _m: self.snapshot.invalidate())

    def for_you(self, viewer_id: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
        """One For You page; signed-in pages of one scroll session never repeat each other."""
        now = time.time()
        videos = self.snapshot.get()
        if viewer_id is None:
            eligible = {vid: e.info for vid, e in videos.items() if e.visibility == "public"}
            world = CandidateWorld(videos=eligible)
            page = self.rt.recommender.recommend(
                FeedRequest(user_id=None, region=self.rt.region, limit=limit, cursor=cursor, now=now), world
            )
            return self._render(page.items, None, page.next_cursor, None)
        chain, page_no = _parse_chain(cursor)
        with self.rt.db.session() as s:
            following = frozenset(s.scalars(select(Follow.followee_id).where(Follow.follower_id == viewer_id)))
            watched = set(s.scalars(select(Watch.video_id).where(Watch.user_id == viewer_id)))
            served = set(s.scalars(select(FeedImpression.video_id).where(FeedImpression.request_id == chain)))
        eligible = {
            vid: e.info
            for vid, e in videos.items()
            if e.info.creator_id != viewer_id and (e.visibility == "public" or e.info.creator_id in following)
        }
        world = CandidateWorld(videos=eligible, seen=frozenset(watched | served), following=following)
        request = FeedRequest(user_id=viewer_id, region=self.rt.region, limit=limit, cursor=None, now=now)
        page = self.rt.recommender.recommend(request, world)
        with self.rt.db.transaction() as s:
            s.add_all(
                FeedImpression(
                    request_id=chain,
                    user_id=viewer_id,
                    video_id=item.video_id,
                    position=page_no * limit + i,
                    reason=item.reason.as_dict(),
                    served_at=now,
                )
                for i, item in enumerate(page.items)
            )
        next_cursor = f"{chain}:{page_no + 1}" if page.items else None
        return self._render(page.items, viewer_id, next_cursor, chain)

    def _render(
        self, items: list[Any], viewer_id: str | None, next_cursor: str | None, chain: str | None
    ) -> dict[str, Any]:
        ids = [item.video_id for item in items]
        with self.rt.db.session() as s:
            rows = {v.id: v for v in s.scalars(select(Video).where(Video.id.in_(ids)))}
            views = video_views(s, [rows[i] for i in ids if i in rows], viewer_id)
        reasons = {item.video_id: item.reason.as_dict() for item in items}
        for view in views:
            reason = reasons[view["id"]]
            view["reason"] = {k: reason[k] for k in ("sources", "model_version", "params_version", "explanation")}
        return {"items": views, "next_cursor": next_cursor, "request_id": chain}

    def following(self, viewer_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
        with self.rt.db.session() as s:
            rows, nxt = following_feed(s, viewer_id, cursor, limit)
            return {"items": video_views(s, rows, viewer_id), "next_cursor": nxt}
