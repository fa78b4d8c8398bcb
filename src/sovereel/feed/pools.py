"""The fresh-video traffic pools: which new videos are still owed an audience, and the exploration source.

Every new video gets a bounded first audience (pool 0); its completion and engagement rates decide whether a
bigger one follows. The exploration source proposes the most owed fresh videos, shuffled per request. With a
shared catalogue it walks, most owed first, two bounded lists: the never-shown fresh videos (sorted once per
catalogue and hour) and the shown ones still being pushed. The latter is a `PoolBoard` the live state moves as each
video's exposure changes (`LiveExposure`), so a request never walks, nor copies, the region's exposure; a world
built with a plain exposure mapping gets that list sorted once per mapping.
"""

from __future__ import annotations

import bisect
import heapq
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple

from sovereel.feed.interface import CandidateWorld, ExposureStats, SourceHit, VideoInfo
from sovereel.feed.params import ExplorationParams
from sovereel.feed.sources import RegionMemo, _id_key, tiebreak


class PoolState(NamedTuple):
    """Where a video stands in the traffic pools."""

    level: int  # index of the pool it is in (== number of pools once it has graduated from all)
    status: str  # "active": being pushed; "stopped": failed a pool's thresholds; "graduated": passed every pool
    remaining: int  # impressions still owed by the current pool (0 unless active)


def pool_state(stats: ExposureStats, params: ExplorationParams) -> PoolState:
    """Which pool a video is in, from its cumulative impressions, completion and engagement rates."""
    granted = 0
    for level, size in enumerate(params.pool_sizes):
        granted += size
        if stats.impressions < granted:
            return PoolState(level, "active", granted - stats.impressions)
        # This pool is full: the audience so far decides whether a bigger one follows.
        completion = stats.completes / stats.impressions
        engagement = stats.engagements / stats.impressions
        if completion < params.min_completion_rate[level] or engagement < params.min_engagement_rate[level]:
            return PoolState(level, "stopped", 0)
    return PoolState(len(params.pool_sizes), "graduated", 0)


def owed_impressions(
    videos: Iterable[VideoInfo], exposure: Mapping[str, ExposureStats], params: ExplorationParams, now: float
) -> list[tuple[float, str, int]]:
    """(share of its current pool still owed, id, pool level) of every fresh video still being pushed."""
    owed: list[tuple[float, str, int]] = []
    oldest = now - params.max_age_s
    for video in videos:
        if video.created_at < oldest:
            continue
        stats = exposure.get(video.id)
        if stats is None:  # never shown yet: the whole first pool is owed
            owed.append((1.0, video.id, 0))
            continue
        state = pool_state(stats, params)
        if state.status == "active":
            owed.append((state.remaining / params.pool_sizes[state.level], video.id, state.level))
    return owed


def exploration_candidates(
    world: CandidateWorld,
    params: ExplorationParams,
    now: float,
    k: int,
    seed: int,
    memo: RegionMemo | None = None,
) -> list[SourceHit]:
    """Fresh videos still owed impressions by their traffic pool; the least-shown first, ties shuffled by seed."""
    if memo is None or world.region_videos is None:
        owed = owed_impressions(world.videos.values(), world.exposure, params, now)
    else:
        owed = pooled_owed(world, params, now, EXPLORATION_WINDOW * k, memo)
    ranked = heapq.nsmallest(k, owed, key=lambda o: (-o[0], tiebreak(seed, o[1])))
    return [SourceHit(vid, "exploration", share, f"pool {level}") for share, vid, level in ranked]


EXPLORATION_WINDOW = 2  # the per-request shuffle picks among this many times the quota of the region's most owed
POOL_REBUILD_S = 3600.0  # the region's fresh list is rebuilt hourly, so videos aged out of it do not pile up
PoolEntry = tuple[float, int, str, int]  # (-owed share, id key, id, pool level): the walk's order


def entry_of(video_id: str, stats: ExposureStats, params: ExplorationParams) -> PoolEntry | None:
    """A shown video's place in the walk, or None when it is not being pushed (stopped, or graduated)."""
    state = pool_state(stats, params)
    if state.status != "active":
        return None
    return (-state.remaining / params.pool_sizes[state.level], _id_key(video_id), video_id, state.level)


class PoolBoard:
    """The shown videos still being pushed under one parameter set, most owed first, moved by each exposure change.

    Age and visibility are checked by the walk, which has the catalogue: it retires the entries it meets that are too
    old or not public (a later impression puts one back, and the next walk to reach it retires it again). Thread-safe.
    """

    def __init__(self, params: ExplorationParams) -> None:
        self.params = params
        self._lock = threading.Lock()
        self._entry: dict[str, PoolEntry] = {}
        self._order: list[PoolEntry] = []

    def update(self, video_id: str, stats: ExposureStats) -> None:
        """The video's exposure is now `stats`."""
        entry = entry_of(video_id, stats, self.params)
        with self._lock:
            old = self._entry.pop(video_id, None)
            if old is not None:
                del self._order[bisect.bisect_left(self._order, old)]
            if entry is not None:
                bisect.insort(self._order, entry)
                self._entry[video_id] = entry

    def leading(self, n: int) -> list[PoolEntry]:
        """The first `n` entries, most owed first."""
        with self._lock:
            return self._order[:n]

    def retire(self, video_ids: Iterable[str]) -> None:
        """Drop videos too old to be pushed."""
        with self._lock:
            for vid in video_ids:
                old = self._entry.pop(vid, None)
                if old is not None:
                    del self._order[bisect.bisect_left(self._order, old)]


class LiveExposure(Mapping[str, ExposureStats]):
    """The region's per-video exposure as the live state keeps it: look-ups read the current counts, `pools(params)`
    the shown videos' pool order; iterating (tests, the fallback without a catalogue) copies them, O(videos)."""

    def __init__(
        self,
        get: Callable[[str], ExposureStats | None],
        has: Callable[[str], bool],
        copy: Callable[[], Mapping[str, ExposureStats]],
        pools: Callable[[ExplorationParams], PoolBoard],
    ) -> None:
        self._get = get
        self._has = has
        self._copy = copy
        self._held: Mapping[str, ExposureStats] | None = None
        self.pools = pools

    def __getitem__(self, video_id: str) -> ExposureStats:
        stats = self._get(video_id)
        if stats is None:
            raise KeyError(video_id)
        return stats

    def __contains__(self, video_id: object) -> bool:
        return isinstance(video_id, str) and self._has(video_id)

    def _all(self) -> Mapping[str, ExposureStats]:
        if self._held is None:
            self._held = self._copy()
        return self._held

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def pooled_owed(
    world: CandidateWorld, params: ExplorationParams, now: float, window: int, memo: RegionMemo
) -> list[tuple[float, str, int]]:
    """The first `window` of the region's owed videos eligible for this viewer, most owed first (ties in id-key
    order), as `owed_impressions` gives them: a bounded walk of sorted lists, never a pass over the region."""
    region = world.region_videos or {}
    # Every request in this hour has a later cutoff than the build's, so the list holds all it may need.
    hour = now - now % POOL_REBUILD_S
    cutoff = hour - params.max_age_s

    def untouched() -> list[tuple[int, str]]:
        return sorted((_id_key(v.id), v.id) for v in region.values() if v.created_at >= cutoff)

    def touched() -> list[PoolEntry]:
        out = []
        for vid, stats in world.exposure.items():
            video = region.get(vid)
            entry = entry_of(vid, stats, params) if video is not None and video.created_at >= cutoff else None
            if entry is not None:
                out.append(entry)
        return sorted(out)

    if not isinstance(world.exposure, LiveExposure):
        fresh: list[tuple[int, str]] = memo.get("pool_fresh", (region, params, hour), untouched)
        shown: list[PoolEntry] = memo.get("pool_shown", (region, world.exposure, params, hour), touched)
        return _walk(world, params, now, window, _never_shown(fresh, world.exposure, [0]), shown)[0]
    # A live exposure only grows (a video once shown stays shown), so the never-shown list drops for good each
    # video a walk finds shown: walks do not step over the same shown videos again and again.
    unshown: _Unshown = memo.get("pool_unshown", (region, params, hour), lambda: _Unshown(untouched()))
    board = world.exposure.pools(params)
    want = 4 * window
    while True:
        # A bounded prefix of the shown videos; only a walk that used all of it (most skipped) asks for more.
        shown = board.leading(want)
        fresh, read = unshown.entries, [0]
        owed, retired = _walk(world, params, now, window, _never_shown(fresh, world.exposure, read), shown)
        board.retire(retired)
        unshown.drop(fresh, read[0], world.exposure)
        if len(owed) >= window or len(shown) < want:
            return owed
        want *= 4


class _Unshown:
    """The fresh videos not shown yet, in id-key order; replaced (never changed) when shown ones are dropped."""

    def __init__(self, entries: list[tuple[int, str]]) -> None:
        self.entries = entries
        self._lock = threading.Lock()

    def drop(self, walked: list[tuple[int, str]], read: int, exposure: Mapping[str, ExposureStats]) -> None:
        """Drop the videos now shown among the first `read` of `walked` (the list a walk read)."""
        with self._lock:
            if walked is not self.entries:
                return  # another walk replaced it meanwhile: a later walk drops what is left
            kept = [entry for entry in walked[:read] if entry[1] not in exposure]
            if len(kept) < read:
                self.entries = kept + walked[read:]


def _never_shown(
    fresh: list[tuple[int, str]], exposure: Mapping[str, ExposureStats], read: list[int]
) -> Iterator[PoolEntry]:
    # The never-shown fresh videos as walk entries (share 1.0, pool 0); read[0] counts the entries taken from `fresh`.
    for key, vid in fresh:
        read[0] += 1
        if vid not in exposure:
            yield (-1.0, key, vid, 0)


def _walk(
    world: CandidateWorld,
    params: ExplorationParams,
    now: float,
    window: int,
    never_shown: Iterator[PoolEntry],
    shown: list[PoolEntry],
) -> tuple[list[tuple[float, str, int]], list[str]]:
    """(the owed videos, the shown videos the walk found it may not push: the board retires them)."""
    region = world.region_videos or {}
    oldest = now - params.max_age_s
    retired = []
    owed: list[tuple[float, str, int]] = []
    for negative_share, _key, vid, level in heapq.merge(shown, never_shown):
        public = region.get(vid)
        if public is None or public.created_at < oldest:
            # Too old (for good: it only gets older), or not public (removed, or followers-only: the pools push
            # public videos only); a later exposure change puts it back, and a later walk retires it again.
            retired.append(vid)
            continue
        if vid not in world.videos:
            continue
        owed.append((-negative_share, vid, level))
        if len(owed) >= window:
            break
    return owed, retired
