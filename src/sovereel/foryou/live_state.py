"""The region's live For You state, kept current from the event bus within milliseconds of each event.

It holds the non-personal aggregates the candidate sources need (trending buckets, exposure of fresh videos,
item-to-item co-engagement) and each viewer's recent positive actions and swipe-aways. Requests read the
aggregates through live views (`trending.LiveBuckets`, `pools.LiveExposure`, co-engagement rows), never a copy of
them: the trending order and the traffic-pool order are moved by each event (the boards in feed/), so what a
request reads depends on the events alone, and costs what it reads, not the size of the region. The arithmetic is
plain and local; the only I/O is `bootstrap`, which replays the region's recent event log after a restart.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import select

from sovereel.events.kinds import ENGAGEMENT_KINDS
from sovereel.feed.interface import Engagement, EngagementBucket, ExposureStats, Skip
from sovereel.feed.once import OncePerDay
from sovereel.feed.params import ExplorationParams, TrendingParams
from sovereel.feed.pools import LiveExposure, PoolBoard
from sovereel.feed.trending import LiveBuckets, TrendingBoard
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Comment, Event, Like, Share

BUCKET_S = 3600.0
KEEP_BUCKETS_S = 7 * 86400.0
MAX_RECENT = 100
MAX_NEIGHBOURS = 50
SESSION_WINDOW = 20  # co-engagement pairs a positive action with the viewer's last N positive videos
MAX_BOARDS = 2  # trending parameter sets kept current at once (the serving one, and the one before a change)
POSITIVE = ENGAGEMENT_KINDS


@dataclass(frozen=True)
class Signal:
    """One thing a viewer did to a video, as the state and the online learner consume it."""

    user_id: str
    video_id: str
    kind: str  # impression | play | progress | complete | loop | skip | like | unlike | share | comment
    at: float
    watched_s: float | None = None
    seq: int | None = None  # event-log sequence number, for watch events


class RegionFeedState:
    """Live aggregates for one region; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: dict[str, deque[Engagement]] = defaultdict(lambda: deque(maxlen=MAX_RECENT))
        self._skips: dict[str, deque[Skip]] = defaultdict(lambda: deque(maxlen=MAX_RECENT))
        self._buckets: dict[tuple[str, str, float], int] = {}
        # Bucket starts with buckets (a heap) and each start's buckets: a week's end drops whole hours, no scan.
        self._hours: list[float] = []
        self._by_hour: dict[float, list[tuple[str, str, float]]] = {}
        # Trending orders per parameter set, moved by every bucket change instead of rebuilt per snapshot.
        self._boards: list[TrendingBoard] = []
        self._impressions: dict[str, int] = defaultdict(int)
        self._completes: dict[str, int] = defaultdict(int)
        self._engagements: dict[str, int] = defaultdict(int)
        self._once = OncePerDay()  # who was already counted in the aggregates, per video, kind and day
        self._liked: set[tuple[str, str]] = set()  # likes counted in `_engagements`, which an unlike may take back
        self._co: dict[str, dict[str, float]] = defaultdict(dict)
        # Copies handed to requests, rebuilt after a change at most every SNAPSHOT_S: O(videos) per copy.
        # Traffic-pool orders per parameter set, moved by each exposure change; the videos a batch changed.
        self._pools: list[PoolBoard] = []
        self._exposed: set[str] = set()
        self.last_seq = 0
        self.applied = 0

    def apply(self, signals: Iterable[Signal]) -> None:
        """Fold signals into the aggregates (idempotence is the event log's job: each seq arrives once)."""
        with self._lock:
            for sig in signals:
                self._apply_one(sig)
            for vid in self._exposed:
                for board in self._pools:
                    board.update(vid, self._exposure_of(vid))
            self._exposed.clear()

    def _apply_one(self, sig: Signal) -> None:
        self.applied += 1
        if sig.seq is not None:
            self.last_seq = max(self.last_seq, sig.seq)
        if sig.kind == "skip":
            self._skips[sig.user_id].append(Skip(sig.video_id, sig.at, sig.watched_s or 0.0))
            return
        if sig.kind == "unlike":
            # Only a like that was counted is taken back, so unliking cannot lower what others' likes added.
            if (sig.user_id, sig.video_id) in self._liked:
                self._liked.discard((sig.user_id, sig.video_id))
                self._engagements[sig.video_id] = max(0, self._engagements[sig.video_id] - 1)
                self._exposed.add(sig.video_id)
            return
        # Region-wide aggregates (exposure, trending, co-engagement) count a viewer once per video, kind and
        # UTC day; the viewer's own recent history below still sees every action.
        counted = self._once.first(sig.user_id, sig.video_id, sig.kind, sig.at)
        if sig.kind == "impression":
            if counted:
                self._impressions[sig.video_id] += 1
                self._exposed.add(sig.video_id)
            return
        if counted and sig.kind == "complete":
            self._completes[sig.video_id] += 1
            self._exposed.add(sig.video_id)
        elif counted and sig.kind in ("like", "share", "comment", "follow"):
            self._engagements[sig.video_id] += 1
            self._exposed.add(sig.video_id)
            if sig.kind == "like":
                self._liked.add((sig.user_id, sig.video_id))
        if sig.kind not in POSITIVE:
            return
        recent = self._recent[sig.user_id]
        if counted:
            self._count(sig.video_id, sig.kind, sig.at - sig.at % BUCKET_S)
            for earlier in list(recent)[-SESSION_WINDOW:]:
                if earlier.video_id != sig.video_id:
                    self._pair(sig.video_id, earlier.video_id)
        recent.append(Engagement(video_id=sig.video_id, kind=sig.kind, at=sig.at))

    def _pair(self, a: str, b: str) -> None:
        for x, y in ((a, b), (b, a)):
            row = self._co[x]
            row[y] = row.get(y, 0.0) + 1.0
            if len(row) > MAX_NEIGHBOURS * 2:  # keep the strongest neighbours only
                self._co[x] = dict(sorted(row.items(), key=lambda kv: -kv[1])[:MAX_NEIGHBOURS])

    def forget_user(self, user_id: str) -> None:
        """Refresh For You: the viewer's recent history no longer steers their feed."""
        with self._lock:
            self._recent.pop(user_id, None)
            self._skips.pop(user_id, None)

    def recent(self, user_id: str) -> tuple[Engagement, ...]:
        """The viewer's recent positive actions, oldest first."""
        with self._lock:
            return tuple(self._recent.get(user_id, ()))

    def recent_skips(self, user_id: str) -> tuple[Skip, ...]:
        """The viewer's recent swipe-aways, oldest first."""
        with self._lock:
            return tuple(self._skips.get(user_id, ()))

    def exposure(self) -> LiveExposure:
        """Per-video audience counts, live: a look-up reads the current counts and `LiveExposure.pools` the shown
        videos' traffic-pool order, kept by each change (a request copies nothing)."""
        return LiveExposure(self._exposure_get, self._shown, self._exposure_copy, self.pool_board)

    def _exposure_of(self, video_id: str) -> ExposureStats:
        # .get: reading must not add keys to the defaultdicts.
        i, c, e = (
            self._impressions.get(video_id, 0),
            self._completes.get(video_id, 0),
            self._engagements.get(video_id, 0),
        )
        return ExposureStats(i, c, e)

    def _shown(self, video_id: str) -> bool:
        with self._lock:
            return video_id in self._impressions or video_id in self._completes or video_id in self._engagements

    def _exposure_get(self, video_id: str) -> ExposureStats | None:
        with self._lock:
            known = video_id in self._impressions or video_id in self._completes or video_id in self._engagements
            return self._exposure_of(video_id) if known else None

    def _exposure_copy(self) -> dict[str, ExposureStats]:
        with self._lock:
            ids = set(self._impressions) | set(self._completes) | set(self._engagements)
            return {v: self._exposure_of(v) for v in ids}

    def pool_board(self, params: ExplorationParams) -> PoolBoard:
        """The shown videos' traffic-pool order under these parameters, kept current from here on."""
        with self._lock:
            for board in self._pools:
                if board.params is params or board.params == params:
                    return board
            board = PoolBoard(params)
            for vid in set(self._impressions) | set(self._completes) | set(self._engagements):
                board.update(vid, self._exposure_of(vid))
            self._pools = [board, *self._pools][:MAX_BOARDS]
            return board

    def co_engagement(self) -> Mapping[str, Mapping[str, float]]:
        """Item-to-item co-engagement, live: a look-up copies the one row it reads (a request reads a few seeds'
        rows, so it never copies them all)."""
        return _CoRows(self)

    def co_row(self, video_id: str) -> dict[str, float] | None:
        """A copy of one video's co-engagement row, or None."""
        with self._lock:
            row = self._co.get(video_id)
            return None if row is None else dict(row)

    def co_copy(self) -> dict[str, dict[str, float]]:
        """A copy of every row: O(videos)."""
        with self._lock:
            return {k: dict(v) for k, v in self._co.items()}

    def _count(self, video_id: str, kind: str, hour: float) -> None:
        key = (video_id, kind, hour)
        count = self._buckets.get(key, 0) + 1
        self._buckets[key] = count
        if count == 1:
            if hour not in self._by_hour:
                self._by_hour[hour] = []
                heapq.heappush(self._hours, hour)
            self._by_hour[hour].append(key)
        for board in self._boards:
            _weigh(board, key, count)

    def region_engagement(self, now: float) -> LiveBuckets:
        """The trending buckets of the week before `now` (older ones are dropped here), live: a request reads the
        trending order through `LiveBuckets.board`, kept current by each event, not a copy of the buckets."""
        with self._lock:
            horizon = now - KEEP_BUCKETS_S
            while self._hours and self._hours[0] < horizon:
                for key in self._by_hour.pop(heapq.heappop(self._hours)):
                    del self._buckets[key]
                    for board in self._boards:
                        _weigh(board, key, 0)
            return LiveBuckets(self._bucket_copy, self.trending_board, len(self._buckets))

    def _bucket_copy(self) -> tuple[EngagementBucket, ...]:
        with self._lock:
            return tuple(EngagementBucket(v, kind, at, n) for (v, kind, at), n in self._buckets.items())

    def trending_board(self, params: TrendingParams) -> TrendingBoard:
        """The trending order under these parameters, kept current from here on (built once from the buckets)."""
        with self._lock:
            for board in self._boards:
                if board.params is params or board.params == params:
                    return board
            board = TrendingBoard(params)
            for key, count in self._buckets.items():
                _weigh(board, key, count)
            self._boards = [board, *self._boards][:MAX_BOARDS]
            return board


def _weigh(board: TrendingBoard, key: tuple[str, str, float], count: int) -> None:
    video_id, kind, hour = key
    weight = board.params.kind_weights.get(kind, 0.0)
    if weight > 0:
        board.set(video_id, (kind, hour, 0), weight * count)


class _CoRows(Mapping[str, Mapping[str, float]]):
    """`RegionFeedState.co_engagement`: look-ups copy one row; iterating copies them all once."""

    def __init__(self, state: RegionFeedState) -> None:
        self._state = state
        self._all: dict[str, dict[str, float]] | None = None

    def __getitem__(self, video_id: str) -> Mapping[str, float]:
        row = self._state.co_row(video_id)
        if row is None:
            raise KeyError(video_id)
        return row

    def __iter__(self) -> Iterator[str]:
        if self._all is None:
            self._all = self._state.co_copy()
        return iter(self._all)

    def __len__(self) -> int:
        if self._all is None:
            self._all = self._state.co_copy()
        return len(self._all)


def bootstrap_signals(db: RegionDB, since: float) -> list[Signal]:
    """The region's recent event log and social actions, in time order (replayed after a restart)."""
    with db.session() as s:
        watch = [
            Signal(e.user_id, e.video_id, e.kind, e.client_ts, e.watched_s, e.seq)
            for e in s.scalars(select(Event).where(Event.received_at >= since).order_by(Event.seq))
        ]
        likes = [Signal(r.user_id, r.video_id, "like", r.created_at) for r in s.scalars(select(Like))]
        shares = [
            Signal(r.user_id, r.video_id, "share", r.created_at)
            for r in s.scalars(select(Share).where(Share.created_at >= since))
            if r.user_id
        ]
        comments = [
            Signal(r.user_id, r.video_id, "comment", r.created_at)
            for r in s.scalars(select(Comment).where(Comment.created_at >= since))
        ]
    return sorted(watch + likes + shares + comments, key=lambda sig: sig.at)


def signals_from_message(topic: str, payload: dict[str, object], now: float | None = None) -> list[Signal]:
    """Turn one bus message into signals (unknown topics give none)."""
    at = time.time() if now is None else now
    if topic == "watch.events":
        user = str(payload["user_id"])
        events = payload.get("events")
        if not isinstance(events, list):
            return []
        return [
            Signal(user, str(e["video_id"]), str(e["kind"]), float(e.get("ts") or at), e.get("watched_s"), e.get("seq"))
            for e in events
        ]
    kinds = {"social.like": "like", "social.unlike": "unlike", "social.share": "share", "social.comment": "comment"}
    if topic in kinds and payload.get("user_id") and payload.get("video_id"):
        return [Signal(str(payload["user_id"]), str(payload["video_id"]), kinds[topic], at)]
    return []
