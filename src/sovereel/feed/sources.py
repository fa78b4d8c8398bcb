"""Candidate sources of the For You feed.

Each source is a pure function of the world snapshot (and, for retrieval, an
index built from it: indexes.py) that returns up to a quota of `SourceHit`s: a video id, the
source tag and a source-local score. Sources only propose; filters, the ranking
model and the re-ranker decide what is shown. A `RegionMemo`, where one is passed,
only caches region-wide results between the requests that share a snapshot: the
exploration pool is built once per snapshot of the region's catalogue and aggregates,
and a request then walks only its first few hundred entries, so its cost does not grow
with the catalogue. The trending source is in trending.py (an order kept by each change).
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from sovereel.feed.indexes import ItemIndex
from sovereel.feed.interface import CandidateWorld, SourceHit, VideoInfo
from sovereel.feed.params import FollowingParams, HistoryParams


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


def embedding_candidates(
    index: ItemIndex, user_vector: Any, k: int, keep: Callable[[str], bool] | None = None, n: int | None = None
) -> list[SourceHit]:
    """Items whose retrieval vectors best match the user's vector: of the best `k`, the first `n` that `keep`
    accepts (all of them by default)."""
    # The search over-fetches for viewers with long histories (up to 10x the quota) and most of it is dropped:
    # a hit is made only for what is kept.
    out: list[SourceHit] = []
    limit = k if n is None else n
    for vid, score in index.search(user_vector, k):
        if len(out) >= limit:
            break
        if keep is None or keep(vid):
            out.append(SourceHit(vid, "embedding", score))
    return out


def following_candidates(
    world: CandidateWorld, params: FollowingParams, now: float, k: int, memo: RegionMemo | None = None
) -> list[SourceHit]:
    """Followed creators' newest videos, newest first, at most `per_creator` each."""
    if not world.following or k <= 0:
        return []
    by_creator: dict[str, list[VideoInfo]] = defaultdict(list)
    scores: dict[str, float] = {}
    if world.region_by_creator is not None and memo is not None:
        # Each creator's videos newest first (sorted once per snapshot, on first use): a walk stops at the
        # creator's `per_creator` newest eligible ones, or at the first too old, instead of checking them all.
        newest: dict[str, tuple[VideoInfo, ...]] = memo.get("following_newest", (world.region_by_creator,), dict)
        for creator in world.following:
            order = newest.get(creator)
            if order is None:
                videos = world.region_by_creator.get(creator, ())
                order = newest[creator] = tuple(sorted(videos, key=lambda v: (-v.created_at, v.id)))
            if not _newest_eligible(world, params, now, order, scores):
                by_creator[creator] = []  # a view that answers with other objects: the full check below
        if not by_creator:
            return _top(scores, k, "following")
    if world.region_by_creator is not None:
        # The followed creators' videos only, each checked against the eligible set: the same set, found by index.
        for creator in by_creator if memo is not None else world.following:
            for video in world.region_by_creator.get(creator, ()):
                if now - video.created_at <= params.max_age_s and video.id in world.videos:
                    by_creator[creator].append(world.videos[video.id])
    else:
        for video in world.videos.values():
            if video.creator_id in world.following and now - video.created_at <= params.max_age_s:
                by_creator[video.creator_id].append(video)
    for videos in by_creator.values():
        for video in sorted(videos, key=lambda v: (-v.created_at, v.id))[: params.per_creator]:
            scores[video.id] = decay(now - video.created_at, params.half_life_s)
    return _top(scores, k, "following")


def _newest_eligible(
    world: CandidateWorld, params: FollowingParams, now: float, order: Sequence[VideoInfo], scores: dict[str, float]
) -> bool:
    """Score a creator's newest eligible videos from their videos newest first; False (nothing scored) when the
    eligible set answers with objects other than the region's, whose times might differ."""
    found: list[VideoInfo] = []
    for video in order:
        if len(found) >= params.per_creator or now - video.created_at > params.max_age_s:
            break  # enough, or (newest first) every later one is older still
        eligible = world.videos.get(video.id)
        if eligible is None:
            continue
        if eligible is not video:
            return False
        found.append(video)
    for video in found:
        scores[video.id] = decay(now - video.created_at, params.half_life_s)
    return True


class RegionMemo:
    """Region-wide source results shared by the requests over one snapshot of the region's catalogue and aggregates.

    Each result is held under its own key, the snapshot objects (catalogue, engagement buckets, exposure) it was
    computed from, compared by identity: a new snapshot computes afresh, and until then every request reuses it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Objects in a key are held with it, so an id() in the key cannot be reused by another object meanwhile.
        self._values: dict[str, tuple[tuple[Any, ...], Any]] = {}

    def get(self, name: str, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """The memoised value of `compute` for `key`."""
        with self._lock:
            held = self._values.get(name)
            if held is not None and _same_key(held[0], key):
                return held[1]
        value = compute()  # outside the lock: a slow build does not hold up the other memoised results
        with self._lock:
            self._values[name] = (key, value)
        return value


def _same_key(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    # Snapshots compare by identity (comparing two catalogues' contents would cost what the memo saves).
    if len(a) != len(b):
        return False
    return all(x is y or (isinstance(x, (int, float, str)) and x == y) for x, y in zip(a, b, strict=True))


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


def sound_candidates(world: CandidateWorld, seeds: Sequence[tuple[str, float]], k: int) -> list[SourceHit]:
    """Other videos with the sounds of the ones the viewer just engaged with, newest first within a sound.

    A sound scores the summed weight of the seeds that use it (a sound the viewer keeps coming back to comes first);
    its videos share that score, discounted by their recency rank. Bounded: it reads at most the region's index
    list of each seed's sound (`region_by_sound`), never the catalogue.
    """
    region = world.region_videos or {}
    seed_ids = {s for s, _ in seeds}
    weight_of: dict[str, float] = defaultdict(float)
    strongest: dict[str, str] = {}  # sound -> its strongest seed (seeds come strongest first), for the explanation
    for seed, weight in seeds:
        video = world.videos.get(seed) or region.get(seed)
        if video is not None and video.sound_id:
            weight_of[video.sound_id] += weight
            strongest.setdefault(video.sound_id, seed)
    if not weight_of:
        return []
    scores: dict[str, float] = {}
    via: dict[str, str] = {}
    for sound, listed in _videos_of_sounds(world, set(weight_of)).items():
        rank = 0
        for video in listed:
            if video.id in seed_ids or video.id not in world.videos:
                continue
            score = weight_of[sound] / (1.0 + rank)
            rank += 1
            if score > scores.get(video.id, 0.0):
                scores[video.id], via[video.id] = score, strongest[sound]
    return _top(scores, k, "sound", via)


def _videos_of_sounds(world: CandidateWorld, sounds: set[str]) -> dict[str, Sequence[VideoInfo]]:
    # Newest first. Without the region's index (a world built by hand), the eligible set is walked once.
    if world.region_by_sound is not None:
        return {s: world.region_by_sound.get(s, ()) for s in sounds}
    found: dict[str, list[VideoInfo]] = defaultdict(list)
    for video in world.videos.values():
        if video.sound_id in sounds:
            found[video.sound_id].append(video)
    return {s: sorted(vs, key=lambda v: (-v.created_at, v.id)) for s, vs in found.items()}


def content_candidates(
    index: ItemIndex,
    seeds: Sequence[tuple[str, float]],
    k: int,
    keep: Callable[[str], bool] | None = None,
    limit: int | None = None,
) -> list[SourceHit]:
    """Videos whose caption/hashtag text is closest to the texts of what the viewer just engaged with.

    With `keep` and `limit`: the first `limit` of those hits that `keep` accepts, as filtering the whole answer
    would give, but each hit's closest seed is worked out for those only (a deep scroll asks for many times
    the quota, most of it already seen)."""
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
    if keep is not None:
        hits = [(vid, s) for vid, s in hits if keep(vid)]
    if limit is not None:
        hits = hits[:limit]
    vectors = [index.vector(vid) for vid, _ in hits]
    closest = _closest_seeds(seed_vectors, [v for v in vectors if v is not None])
    return [
        SourceHit(vid, "content", score, seed_vectors[next(closest)][0] if vector is not None else "")
        for (vid, score), vector in zip(hits, vectors, strict=True)
    ]


def _closest_seeds(seed_vectors: Sequence[tuple[str, np.ndarray]], vectors: Sequence[np.ndarray]) -> Iterator[int]:
    """Per vector, the position of the first seed with the largest inner product (names a hit's seed)."""
    if not vectors:
        return iter(())
    seeds = np.stack([v for _, v in seed_vectors])
    hits = np.stack(vectors)
    products = hits @ seeds.T  # one matrix product instead of a Python loop of dot products per hit
    # The matrix product may round each product differently from the one-pair dot product the choice was made
    # with (each by at most the rounding bound of a float32 dot product, well under a quarter of `bound`): seeds
    # within `bound` of the best are compared pair by pair, in seed order, so ties resolve as they always did.
    bound = 5.0 * seeds.shape[1] * 2.0**-24 * np.linalg.norm(hits, axis=1) * np.linalg.norm(seeds, axis=1).max()
    best = products.max(axis=1)
    near = products >= (best - bound)[:, None]
    out = near.argmax(axis=1)  # the one close seed, for most hits (vectorised: a Python loop cost ~5 ms a page)
    for i in np.flatnonzero(near.sum(axis=1) > 1).tolist():
        close = np.flatnonzero(near[i])
        out[i] = max((int(s) for s in close), key=lambda s: float(seed_vectors[s][1] @ vectors[i]))
    return iter(out.tolist())
