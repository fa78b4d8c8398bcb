"""The trending source: the region's most engaged-with videos right now, from an order kept by count changes.

A video's trending score is its kind-weighted engagement buckets, each decayed by its age. Decay scales every score
alike, so the order of the videos holds while time passes and moves only when a bucket's count changes (an
engagement arrives, a bucket ages out of the week). `TrendingBoard` keeps that order as each change arrives, and
holds its best few thousand videos sorted: a request reads a bounded prefix of it, never the catalogue. The live
state (foryou.live_state) feeds a board for the serving parameters as events land and hands requests a
`LiveBuckets`; a world built from a plain tuple of buckets (tests, replays) gets a board built once per tuple.

Scores are summed term by term, in bucket order, at the request's time, exactly as `trending_scores` sums them:
the order only chooses which videos are looked at.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import overload

from sovereel.feed.interface import CandidateWorld, EngagementBucket, SourceHit, VideoInfo
from sovereel.feed.params import TrendingParams
from sovereel.feed.sources import RegionMemo, _top, decay

TOP_SIZE = 4096  # videos a board keeps sorted; a walk past them (rare: most are eligible) sorts the rest once
REBASE_HALF_LIVES = 256.0  # keys grow as 2^(age / half-life) from the reference time: move it before they overflow

Term = tuple[str, float, int]  # (kind, bucket start, n) of one bucket, or ("lifetime", created_at, 0) for the fallback
# n is 0, but counts the repeats of a bucket that a hand-built tuple lists more than once (each is a term of its own).


class TrendingBoard:
    """Per video its weighted buckets, and the videos in trending order (the best `top_size` kept sorted).

    Each video's sort key is its score at a reference time, sum(weighted x 2^((at - ref) / half-life)); any score at
    a later time is that key times one common factor, so the order by key is the order by score. Changes update a
    key by the term that changed (O(1)) and move the video within the sorted prefix (a bisect). Thread-safe.
    """

    def __init__(self, params: TrendingParams, top_size: int = TOP_SIZE) -> None:
        self.params = params
        self._half_life = params.half_life_s
        self._size = top_size
        self._lock = threading.Lock()
        self._terms: dict[str, dict[Term, float]] = {}  # id -> term -> weight x count, in arrival order
        self._key: dict[str, float] = {}
        self._ref: float | None = None
        self._top: list[tuple[float, str]] = []  # (-key, id) ascending: a prefix of the whole order
        self._in_top: set[str] = set()
        # True while every keyed video is in `_top`; otherwise every video outside sorts after `_top[-1]`.
        self._complete = True

    def __contains__(self, video_id: object) -> bool:
        with self._lock:
            return video_id in self._terms

    def set(self, video_id: str, term: Term, weighted: float) -> None:
        """Make one bucket of a video weigh `weighted` (weight x count); 0 forgets the bucket."""
        with self._lock:
            terms = self._terms.get(video_id)
            old = terms.get(term, 0.0) if terms is not None else 0.0
            if weighted == old:
                return
            at = term[1]
            if self._ref is None:
                self._ref = at
            elif (at - self._ref) / self._half_life > REBASE_HALF_LIVES:
                self._rebase(at)
            if terms is None:
                terms = self._terms[video_id] = {}
            if weighted > 0:
                terms[term] = weighted
            else:
                terms.pop(term, None)
            old_key = self._key.get(video_id)
            if not terms:
                del self._terms[video_id], self._key[video_id]
                self._place(video_id, old_key, None)
                return
            key = (old_key or 0.0) + (weighted - old) * self._growth(at)
            self._key[video_id] = key
            self._place(video_id, old_key, key)

    def leaders(self, n: int) -> list[str]:
        """The first `n` videos in trending order (fewer when fewer have a score)."""
        with self._lock:
            if n > len(self._top) and not self._complete:
                self._rebuild(max(self._size, 2 * n))
            return [vid for _, vid in self._top[:n]]

    def score(self, video_id: str, now: float) -> float:
        """The video's trending score at `now` (0 without buckets), summed as `trending_scores` sums it."""
        return self.scores([video_id], now)[0]

    def scores(self, video_ids: Iterable[str], now: float) -> list[float]:
        """`score` of each of these videos."""
        half_life, out = self._half_life, []
        with self._lock:
            for vid in video_ids:
                total = 0.0
                for (_kind, at, _n), weighted in self._terms.get(vid, {}).items():
                    total += weighted * float(0.5 ** (max(now - at, 0.0) / half_life))  # decay(), inlined
                out.append(total)
        return out

    def _growth(self, at: float) -> float:
        return float(2.0 ** ((at - (self._ref or 0.0)) / self._half_life))

    def _place(self, video_id: str, old_key: float | None, key: float | None) -> None:
        if old_key is not None and video_id in self._in_top:
            del self._top[bisect.bisect_left(self._top, (-old_key, video_id))]
            self._in_top.discard(video_id)
        if key is None:
            return
        entry = (-key, video_id)
        if (self._complete and len(self._top) < self._size) or (self._top and entry < self._top[-1]):
            bisect.insort(self._top, entry)
            self._in_top.add(video_id)
            if len(self._top) > self._size:
                self._in_top.discard(self._top.pop()[1])
                self._complete = False
        else:
            self._complete = False  # it sorts after the kept prefix

    def _rebuild(self, size: int) -> None:
        ranked = sorted((-key, vid) for vid, key in self._key.items())
        self._size = size
        self._top = ranked[:size]
        self._in_top = {vid for _, vid in self._top}
        self._complete = len(ranked) <= size

    def _rebase(self, ref: float) -> None:
        self._ref = ref
        self._key = {
            vid: sum(weighted * self._growth(at) for (_kind, at, _n), weighted in terms.items())
            for vid, terms in self._terms.items()
        }
        self._rebuild(self._size)


def board_of(buckets: Iterable[EngagementBucket], params: TrendingParams) -> TrendingBoard:
    """A board over a fixed set of buckets (a world built from a plain tuple)."""
    board = TrendingBoard(params)
    repeats: dict[tuple[str, str, float], int] = defaultdict(int)
    for bucket in buckets:
        weight = params.kind_weights.get(bucket.kind, 0.0)
        if weight > 0 and bucket.count > 0:
            n = repeats[(bucket.video_id, bucket.kind, bucket.at)]
            repeats[(bucket.video_id, bucket.kind, bucket.at)] += 1
            board.set(bucket.video_id, (bucket.kind, bucket.at, n), weight * bucket.count)
    return board


class LiveBuckets(Sequence[EngagementBucket]):
    """The region's trending buckets as the live state keeps them: `board(params)` is the trending order, kept
    current by every change; iterating (tests, the fallback without a catalogue) copies the buckets, O(buckets)."""

    def __init__(
        self,
        buckets: Callable[[], tuple[EngagementBucket, ...]],
        board: Callable[[TrendingParams], TrendingBoard],
        size: int,
    ) -> None:
        self._read = buckets
        self._held: tuple[EngagementBucket, ...] | None = None
        self.board = board
        self._size = size

    def _buckets(self) -> tuple[EngagementBucket, ...]:
        if self._held is None:
            self._held = self._read()
        return self._held

    def __len__(self) -> int:
        return self._size if self._held is None else len(self._held)

    @overload
    def __getitem__(self, i: int) -> EngagementBucket: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[EngagementBucket]: ...
    def __getitem__(self, i: int | slice) -> EngagementBucket | Sequence[EngagementBucket]:
        return self._buckets()[i]

    def __iter__(self) -> Iterator[EngagementBucket]:
        return iter(self._buckets())


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
        for video in world.videos.values():
            total = _lifetime(video, params)
            if total > 0:
                scores[video.id] = total * decay(now - video.created_at, params.half_life_s)
    return dict(scores)


def _lifetime(video: VideoInfo, params: TrendingParams) -> float:
    w = params.kind_weights
    return (
        w.get("like", 0.0) * video.like_count
        + w.get("share", 0.0) * video.share_count
        + (w.get("comment", 0.0) * video.comment_count)
    )


def trending_candidates(
    world: CandidateWorld,
    params: TrendingParams,
    now: float,
    k: int,
    memo: RegionMemo | None = None,
    keep: Callable[[str], bool] | None = None,
    limit: int | None = None,
) -> list[SourceHit]:
    """The region's most engaged-with videos right now (among the viewer's eligible videos).

    With `keep` and `limit`: the first `limit` of those hits that `keep` accepts, as filtering the whole answer
    would give, scoring only the ones kept."""
    if memo is None or world.region_videos is None:
        return _kept(_top(trending_scores(world, params, now), k, "trending"), keep, limit)
    board, region = _board(world, params, memo), world.region_videos
    found: list[str] = []
    want = 2 * k
    while k > 0:
        # A bounded prefix of the order; a viewer for whom much of it is ineligible asks for a longer one.
        leaders = board.leaders(want)
        found = []
        for vid in leaders:
            if vid in region and vid in world.videos:
                found.append(vid)
                if len(found) >= k:
                    break
        if len(found) >= k or len(leaders) < want:
            break
        want *= 4
    if keep is not None:
        found = [vid for vid in found if keep(vid)]  # a per-hit test: the same before the sort as after it
    hits = [SourceHit(vid, "trending", score, "") for vid, score in zip(found, board.scores(found, now), strict=True)]
    return sorted(hits, key=lambda h: (-h.score, h.video_id))[:limit]


def _kept(hits: list[SourceHit], keep: Callable[[str], bool] | None, limit: int | None) -> list[SourceHit]:
    return [h for h in hits if keep is None or keep(h.video_id)][:limit]


def _board(world: CandidateWorld, params: TrendingParams, memo: RegionMemo) -> TrendingBoard:
    buckets = world.region_engagement
    if isinstance(buckets, LiveBuckets) and len(buckets):
        return buckets.board(params)
    region = world.region_videos or {}

    def build() -> TrendingBoard:
        if buckets:
            return board_of(buckets, params)
        # Lifetime counters decayed by the video's age, as `trending_scores` falls back to (once per catalogue).
        board = TrendingBoard(params)
        for video in region.values():
            total = _lifetime(video, params)
            if total > 0:
                board.set(video.id, ("lifetime", video.created_at, 0), total)
        return board

    empty = not buckets
    built: TrendingBoard = memo.get("trending", (region if empty else None, None if empty else buckets, params), build)
    return built


def region_trending_scores(
    world: CandidateWorld, params: TrendingParams, now: float, videos: Iterable[VideoInfo], memo: RegionMemo
) -> dict[str, float]:
    """`trending_scores` of these videos (ones with a score only), from the region's board when the world shares
    its catalogue: a video's score is the same over any eligible set that holds it."""
    if world.region_videos is None:
        return trending_scores(world, params, now)
    board = _board(world, params, memo)
    listed = list(videos)
    scored = [v.id for v in listed if v.id in board]
    out = dict(zip(scored, board.scores(scored, now), strict=True))
    if not world.region_engagement:
        # The lifetime fallback's board holds the region's public videos only: followed creators' followers-only
        # videos are scored as `trending_scores` scores them.
        others = {v.id: v for v in listed if v.id not in world.region_videos}
        if others:
            out.update(trending_scores(replace(world, videos=others), params, now))
    return out
