"""Candidate sources of the For You feed.

Each source is a pure function of the world snapshot (and, for retrieval, an
index built from it: indexes.py) that returns up to a quota of `SourceHit`s: a video id, the
source tag and a source-local score. Sources only propose; filters, the ranking
model and the re-ranker decide what is shown. A `RegionMemo`, where one is passed,
only caches region-wide results between the requests that share a snapshot.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from sovereel.feed.indexes import ItemIndex
from sovereel.feed.interface import CandidateWorld, ExposureStats, VideoInfo
from sovereel.feed.params import ExplorationParams, FollowingParams, HistoryParams, TrendingParams


class SourceHit(NamedTuple):
    """One proposal: a video, the source that proposed it and that source's own score."""

    video_id: str
    source: str
    score: float
    via: str = ""  # what led here: the seed video (co_engagement, content) or "pool N" (exploration)


def decay(age_s: float, half_life_s: float) -> float:
    """Weight of something `age_s` old under exponential decay; the future counts as now."""
    return float(0.5 ** (max(age_s, 0.0) / half_life_s))


_MASK64 = (1 << 64) - 1


@functools.lru_cache(maxsize=1 << 20)
def _id_key(video_id: str) -> int:
    # blake2b, not hash(): Python's string hash differs between processes, and replays must not.
    return int.from_bytes(hashlib.blake2b(video_id.encode("utf-8"), digest_size=8).digest(), "big")


def tiebreak(seed: int, video_id: str) -> int:
    """A per-request pseudo-random rank for a video, stable for the same seed (never the global RNG)."""
    # splitmix64's finaliser over (id key xor seed): a fresh shuffle per seed for a few integer operations.
    z = (_id_key(video_id) ^ seed) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _top(scores: Mapping[str, float], k: int, source: str, via: Mapping[str, str] | None = None) -> list[SourceHit]:
    # Ties broken by id so the same world always yields the same hits.
    ranked = heapq.nsmallest(k, scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return [SourceHit(vid, source, float(s), (via or {}).get(vid, "")) for vid, s in ranked]


def embedding_candidates(index: ItemIndex, user_vector: Any, k: int) -> list[SourceHit]:
    """Items whose retrieval vectors best match the user's vector."""
    return [SourceHit(vid, "embedding", score) for vid, score in index.search(user_vector, k)]


def following_candidates(world: CandidateWorld, params: FollowingParams, now: float, k: int) -> list[SourceHit]:
    """Followed creators' newest videos, newest first, at most `per_creator` each."""
    if not world.following or k <= 0:
        return []
    by_creator: dict[str, list[VideoInfo]] = defaultdict(list)
    for video in world.videos.values():
        if video.creator_id in world.following and now - video.created_at <= params.max_age_s:
            by_creator[video.creator_id].append(video)
    scores: dict[str, float] = {}
    for videos in by_creator.values():
        for video in sorted(videos, key=lambda v: (-v.created_at, v.id))[: params.per_creator]:
            scores[video.id] = decay(now - video.created_at, params.half_life_s)
    return _top(scores, k, "following")


def trending_scores(world: CandidateWorld, params: TrendingParams, now: float) -> dict[str, float]:
    """Each video's time-decayed, kind-weighted engagement in the region."""
    scores: dict[str, float] = defaultdict(float)
    if world.region_engagement:
        for bucket in world.region_engagement:
            weight = params.kind_weights.get(bucket.kind, 0.0)
            if weight > 0 and bucket.count > 0 and bucket.video_id in world.videos:
                scores[bucket.video_id] += weight * bucket.count * decay(now - bucket.at, params.half_life_s)
    else:
        # Without region buckets, approximate with lifetime counters decayed by the video's age.
        w = params.kind_weights
        for video in world.videos.values():
            total = (
                w.get("like", 0.0) * video.like_count
                + w.get("share", 0.0) * video.share_count
                + w.get("comment", 0.0) * video.comment_count
            )
            if total > 0:
                scores[video.id] = total * decay(now - video.created_at, params.half_life_s)
    return dict(scores)


def trending_candidates(
    world: CandidateWorld, params: TrendingParams, now: float, k: int, memo: RegionMemo | None = None
) -> list[SourceHit]:
    """The region's most engaged-with videos right now (among the viewer's eligible videos)."""
    if memo is None or world.region_videos is None:
        return _top(trending_scores(world, params, now), k, "trending")
    ranked = memo.get("trending", world, now, lambda: _ranked(trending_scores(_regional(world), params, now)))
    hits: list[SourceHit] = []
    for vid, score in ranked:
        if vid in world.videos:
            hits.append(SourceHit(vid, "trending", score, ""))
            if len(hits) >= k:
                break
    return hits


def _ranked(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _regional(world: CandidateWorld) -> CandidateWorld:
    # The same aggregates over the whole region's catalogue.
    return CandidateWorld(
        videos=dict(world.region_videos or world.videos),
        region_engagement=world.region_engagement,
        exposure=world.exposure,
    )


class RegionMemo:
    """Region-wide source results shared by the requests over one snapshot of the region's aggregates.

    Keyed by the identity of the snapshot objects the platform hands every request (catalogue, engagement
    buckets, exposure) and by the second: a new snapshot, or a second later, computes afresh.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int, int, int] | None = None
        self._values: dict[str, Any] = {}

    def get(self, name: str, world: CandidateWorld, now: float, compute: Callable[[], Any]) -> Any:
        """The memoised value of `compute` for this snapshot and second."""
        key = (id(world.region_videos), id(world.region_engagement), id(world.exposure), int(now))
        with self._lock:
            if key != self._key:
                self._key, self._values = key, {}
            if name not in self._values:
                self._values[name] = compute()
            return self._values[name]


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
        regional, exposure = world.region_videos, world.exposure
        every = memo.get("exploration", world, now, lambda: owed_impressions(regional.values(), exposure, params, now))
        owed = [o for o in every if o[1] in world.videos]
    ranked = heapq.nsmallest(k, owed, key=lambda o: (-o[0], tiebreak(seed, o[1])))
    return [SourceHit(vid, "exploration", share, f"pool {level}") for share, vid, level in ranked]


def history_seeds(world: CandidateWorld, params: HistoryParams, now: float) -> list[tuple[str, float]]:
    """The viewer's recently engaged videos, weighted by kind and recency, strongest first."""
    weights: dict[str, float] = defaultdict(float)
    for e in world.recent_engagements:
        w = params.kind_weights.get(e.kind, 0.0)
        if w > 0:
            weights[e.video_id] += w * decay(now - e.at, params.half_life_s)
    return sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[: params.seed_count]


def co_engagement_candidates(world: CandidateWorld, seeds: Sequence[tuple[str, float]], k: int) -> list[SourceHit]:
    """Videos engaged with in the same recent sessions as the ones the viewer just engaged with."""
    seed_ids = {s for s, _ in seeds}
    scores: dict[str, float] = defaultdict(float)
    best: dict[str, tuple[float, str]] = {}
    for seed, weight in seeds:
        for other, sim in world.co_engagement.get(seed, {}).items():
            if other in seed_ids:
                continue
            contribution = weight * sim
            scores[other] += contribution
            if other not in best or contribution > best[other][0]:
                best[other] = (contribution, seed)
    return _top(scores, k, "co_engagement", {vid: b[1] for vid, b in best.items()})


def content_candidates(index: ItemIndex, seeds: Sequence[tuple[str, float]], k: int) -> list[SourceHit]:
    """Videos whose caption/hashtag text is closest to the texts of what the viewer just engaged with."""
    seed_vectors: list[tuple[str, np.ndarray]] = []
    profile: np.ndarray | None = None
    for seed, weight in seeds:
        vector = index.vector(seed)
        if vector is not None and np.any(vector):
            seed_vectors.append((seed, vector))
            profile = weight * vector if profile is None else profile + weight * vector
    if profile is None or not np.any(profile):
        return []
    profile = profile / np.linalg.norm(profile)
    seed_ids = {s for s, _ in seeds}
    hits = [(vid, s) for vid, s in index.search(profile, k + len(seed_ids)) if vid not in seed_ids][:k]
    out: list[SourceHit] = []
    for vid, score in hits:
        vector = index.vector(vid)
        # Name the single seed most like this hit, for the explanation.
        via = max(seed_vectors, key=lambda sv: float(sv[1] @ vector))[0] if vector is not None else ""
        out.append(SourceHit(vid, "content", score, via))
    return out
