"""The region's servable videos as the For You pipeline sees them: one shared, immutable catalogue per version.

`VideoSnapshot` loads every ready video once, at start (and aside, as a safety net, at a long interval), then keeps
the catalogue current from the bus: each `video.*` event re-reads only the rows it names and publishes a new
`RegionCatalogue` (copy on write), so a request never waits for, or pays for, a reload of the whole catalogue.
A viewer's eligible videos are an `EligibleVideos` view over the shared catalogue: the audience, block and age
rules are applied to each video looked up (the pipeline's candidates), never by copying the catalogue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from sovereel.events.bus.interface import Message
from sovereel.feed.interface import VideoInfo
from sovereel.foryou.readers import video_info
from sovereel.queries.safety import FeedGate
from sovereel.storage.db import RegionDB
from sovereel.storage.models import User, Video

# Events keep the catalogue current; the reload, in a background thread, repairs what no `video.*` event
# announces: an erased account's videos (they go by cascade), creators' renames and the lifetime counts the
# cold-start trending fallback reads (which lag up to this long), and a message lost by a non-durable consumer.
FULL_RELOAD_S = 600.0
SOUND_INDEX_SIZE = 100  # videos kept per sound: a popular sound's candidates stay a bounded list


@dataclass(frozen=True)
class RegionCatalogue:
    """One version of the region's servable videos (ready, not private), shared read-only by every request."""

    videos: Mapping[str, VideoInfo]  # public and followers-only
    public: Mapping[str, VideoInfo]  # also every request's `region_videos`: one object per version
    by_creator: Mapping[str, tuple[VideoInfo, ...]]  # every video of each creator, public or not
    # The newest SOUND_INDEX_SIZE videos of each sound, newest first, public or not: the sound source's look-up.
    by_sound: Mapping[str, tuple[VideoInfo, ...]] = field(default_factory=dict)


class EligibleVideos(Mapping[str, VideoInfo]):
    """One viewer's eligible videos as a view over the shared catalogue, checked per look-up.

    Public videos and followed creators' followers-only ones, never the viewer's own, less what the viewer's
    `FeedGate` holds back (blocked users, age-restricted videos, private accounts and young teens not followed).
    Look-ups are O(1); iterating walks the whole catalogue, which the serving pipeline never does.
    """

    def __init__(
        self, catalogue: RegionCatalogue, viewer_id: str | None, following: frozenset[str], gate: FeedGate
    ) -> None:
        self._videos = catalogue.videos
        self._following = following if viewer_id is not None else frozenset()
        self._restricted = frozenset() if gate.adult else gate.age_restricted
        self._hidden = gate.blocked | (gate.followers_only_creators - self._following)
        if viewer_id is not None:
            self._hidden = self._hidden | {viewer_id}
        # The answers given so far: one request asks about the same candidates several times (sources, filters,
        # scoring, reasons), and the view lives only as long as its request.
        self._answers: dict[str, VideoInfo | None] = {}

    def get(self, key: str, default: Any = None) -> Any:
        try:
            info = self._answers[key]
        except KeyError:
            info = self._answers[key] = self._eligible(key)
        return default if info is None else info

    def _eligible(self, key: str) -> VideoInfo | None:
        info = self._videos.get(key)
        if info is None or info.creator_id in self._hidden or key in self._restricted:
            return None
        if info.visibility != "public" and info.creator_id not in self._following:
            return None
        return info

    def __getitem__(self, key: str) -> VideoInfo:
        info: VideoInfo | None = self.get(key)
        if info is None:
            raise KeyError(key)
        return info

    def __contains__(self, key: object) -> bool:
        # The sources ask this of a thousand or more ids a page: `get`'s look-up inlined, one call instead of three.
        try:
            return self._answers[key] is not None  # type: ignore[index]
        except KeyError:
            if not isinstance(key, str):
                return False
            info = self._answers[key] = self._eligible(key)
            return info is not None
        except TypeError:
            return False  # an unhashable key

    def __iter__(self) -> Iterator[str]:
        return (vid for vid in self._videos if self._eligible(vid) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _catalogue(videos: Mapping[str, VideoInfo]) -> RegionCatalogue:
    by_creator: dict[str, list[VideoInfo]] = {}
    by_sound: dict[str, list[VideoInfo]] = {}
    for info in videos.values():
        by_creator.setdefault(info.creator_id, []).append(info)
        if info.sound_id:
            by_sound.setdefault(info.sound_id, []).append(info)
    public = {vid: info for vid, info in videos.items() if info.visibility == "public"}
    newest = {
        s: tuple(sorted(vs, key=lambda v: (-v.created_at, v.id))[:SOUND_INDEX_SIZE]) for s, vs in by_sound.items()
    }
    return RegionCatalogue(dict(videos), public, {c: tuple(vs) for c, vs in by_creator.items()}, newest)


def _columns() -> Any:
    v = Video.__table__.c
    return select(
        v.id, v.creator_id, v.created_at, v.duration_s, v.caption, v.visibility,
        v.like_count, v.comment_count, v.share_count, v.view_count, v.moderation_state, v.sound_id,
    ).where(v.status == "ready", v.visibility != "private")  # fmt: skip


class VideoSnapshot:
    """The ready videos of the region: loaded whole at start, then updated from `video.*` bus events."""

    def __init__(self, db: RegionDB, full_reload_s: float = FULL_RELOAD_S) -> None:
        self.db = db
        self._full_reload_s = full_reload_s
        self._lock = threading.Lock()
        self._at = 0.0
        self._reloading = threading.Event()
        self._catalogue = RegionCatalogue({}, {}, {})

    def get(self) -> RegionCatalogue:
        """The current catalogue (one object per version: region-wide work is memoised on its identity)."""
        if self._at == 0.0:
            self._reload()  # the first request waits for the first load; later reloads happen aside
        elif time.monotonic() - self._at > self._full_reload_s and not self._reloading.is_set():
            self._reloading.set()
            threading.Thread(target=self._reload, name="feed-snapshot-reload", daemon=True).start()
        return self._catalogue  # a plain read: versions are replaced whole, never changed in place

    def _reload(self) -> None:
        # Under the lock, so an event that arrives meanwhile is applied on top of the reloaded catalogue.
        try:
            with self._lock:
                if self._at == 0.0 or time.monotonic() - self._at > self._full_reload_s:
                    self._catalogue = _catalogue(self._rows(None, None))
                    self._at = time.monotonic()
        finally:
            self._reloading.clear()

    def on_message(self, msg: Message) -> None:
        """Apply one `video.*` event: re-read the video (or, for an account's suspension, its creator's videos)."""
        video_id, creator_id = msg.payload.get("video_id"), msg.payload.get("creator_id")
        with self._lock:
            if self._at == 0.0:
                return  # not loaded yet: the first request loads everything, this change included
            current = self._catalogue
            if isinstance(video_id, str):
                stale, fresh = {video_id}, self._rows(video_id, None)
            elif isinstance(creator_id, str):
                stale = {v.id for v in current.by_creator.get(creator_id, ())}
                fresh = self._rows(None, creator_id)
            else:
                return  # names neither a video nor a creator: nothing to re-read
            if not fresh and not any(vid in current.videos for vid in stale):
                return  # an upload or a failure: nothing servable changed
            videos = {vid: info for vid, info in current.videos.items() if vid not in stale}
            videos.update(fresh)
            self._catalogue = _catalogue(videos)

    def _rows(self, video_id: str | None, creator_id: str | None) -> dict[str, VideoInfo]:
        # Plain rows, not ORM objects: the full load reads the whole catalogue.
        query = _columns()
        if video_id is not None:
            query = query.where(Video.id == video_id)
        elif creator_id is not None:
            query = query.where(Video.creator_id == creator_id)
        with self.db.session() as s:
            rows = s.execute(query).all()
            creators = {r.creator_id for r in rows}
            people = select(User.id, User.username, User.suspended_at)
            if video_id is not None or creator_id is not None:
                people = people.where(User.id.in_(creators))
            names: dict[str, tuple[str, bool]] = {uid: (n, at is not None) for uid, n, at in s.execute(people)}
        out: dict[str, VideoInfo] = {}
        for r in rows:
            name, suspended = names.get(r.creator_id, ("", False))
            out[r.id] = video_info(r, creator_name=name, creator_suspended=suspended)
        return out
