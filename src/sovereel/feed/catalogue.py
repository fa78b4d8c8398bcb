"""What the model knows about each video, and the D2Q watch-time quantiles.

`Catalogue` keeps, per video (a dense column number assigned on first sight): public facts
(creation time, duration, creator, hashtags, sound) and engagement statistics (count, first seen,
a per-day histogram for trending). The D2Q functions (Kuaishou, "Deconfounding Duration Bias
in Watch-time Prediction", KDD 2022) turn a watch time into its quantile among plays of
videos in the same duration bucket, so a label says "watched more than most videos of this
length" and long videos are neither favoured nor punished for their length alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from sovereel.feed.interface import VideoInfo

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
DAY_S = 86400.0


@dataclass
class Catalogue:
    """Per-item facts, indexed by a dense column number assigned on first sight."""

    ids: list[str] = field(default_factory=list)
    col: dict[str, int] = field(default_factory=dict)
    engagements: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    shown: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # viewers it was shown to
    first_seen: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    created_at: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    duration: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    creator: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    tags: list[tuple[int, ...]] = field(default_factory=list)
    creators: dict[str, int] = field(default_factory=dict)
    tag_ids: dict[str, int] = field(default_factory=dict)
    sound: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # index in `sound_ids`; -1: none
    sound_ids: dict[str, int] = field(default_factory=dict)
    day0: int = 0
    days: FloatArray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))  # day x item counts
    revision: int = 0  # bumped when public facts change (invalidates the cached matrices)
    _cache: dict[str, Any] = field(default_factory=dict)

    def ensure(self, video_id: str) -> int:
        """The item's column, adding a row of unknown facts on first sight."""
        c = self.col.get(video_id)
        if c is not None:
            return c
        c = len(self.ids)
        self.ids.append(video_id)
        self.col[video_id] = c
        if c >= len(self.engagements):
            cap = max(16, 2 * len(self.engagements))
            self.engagements = _grow(self.engagements, cap, 0.0)
            self.shown = _grow(self.shown, cap, 0.0)
            self.first_seen = _grow(self.first_seen, cap, np.nan)
            self.created_at = _grow(self.created_at, cap, np.nan)
            self.duration = _grow(self.duration, cap, np.nan)
            self.creator = _grow(self.creator, cap, -1)
            self.sound = _grow(self.sound, cap, -1)
            self.days = np.pad(self.days, ((0, 0), (0, cap - self.days.shape[1])))
        self.tags.append(())
        return c

    def describe(self, video: VideoInfo) -> int:
        """Record a video's public facts; returns its column."""
        c = self.ensure(video.id)
        self.created_at[c] = video.created_at
        self.duration[c] = video.duration_s if video.duration_s > 0 else np.nan
        if video.creator_id:
            self.creator[c] = self.creators.setdefault(video.creator_id, len(self.creators))
        self.tags[c] = tuple(self.tag_ids.setdefault(t.lower(), len(self.tag_ids)) for t in video.hashtags)
        self.sound[c] = self.sound_ids.setdefault(video.sound_id, len(self.sound_ids)) if video.sound_id else -1
        self.revision += 1
        return c

    def count(self, cols: IntArray, ts: npt.NDArray[np.float64], weight: float = 1.0) -> None:
        """Add engagements at times `ts` to the counts and the day histogram."""
        if len(cols) == 0:
            return
        day = np.floor(ts / DAY_S).astype(np.int64)
        if self.days.shape[0] == 0:
            self.day0 = int(day.min())
        if day.min() < self.day0:
            self.days = np.pad(self.days, ((self.day0 - int(day.min()), 0), (0, 0)))
            self.day0 = int(day.min())
        need = int(day.max()) - self.day0 + 1
        if need > self.days.shape[0]:
            self.days = np.pad(self.days, ((0, need - self.days.shape[0]), (0, 0)))
        np.add.at(self.days, (day - self.day0, cols), weight)
        np.add.at(self.engagements, cols, weight)
        np.fmin.at(self.first_seen, cols, ts)

    def viewers(self, cols: IntArray) -> npt.NDArray[np.float64]:
        """Per item, how many viewers it was shown to (one engaged with but never recorded as shown counts too)."""
        return np.maximum(self.shown[cols], self.engagements[cols])

    def engage_rate(self, cols: IntArray, prior_weight: float = 10.0) -> FloatArray:
        """Per item, engagements per viewer shown it, shrunk towards the catalogue-wide rate by `prior_weight`
        viewers' worth."""
        n = len(self.ids)
        total = float(np.maximum(self.shown[:n], self.engagements[:n]).sum())
        overall = float(self.engagements[:n].sum()) / total if total > 0 else 0.0
        rate = (self.engagements[cols] + prior_weight * overall) / (self.viewers(cols) + prior_weight)
        return rate.astype(np.float32)

    def trending(self, cols: IntArray, now: npt.NDArray[np.float64], half_width_days: float) -> FloatArray:
        """Engagements within +-half_width days of `now` (per row of `cols`)."""
        out = np.zeros(cols.shape, dtype=np.float32)
        for r in range(cols.shape[0]):
            d = now[r] / DAY_S - self.day0
            lo = int(np.clip(math.floor(d - half_width_days), 0, self.days.shape[0]))
            hi = int(np.clip(math.floor(d + half_width_days) + 1, 0, self.days.shape[0]))
            if hi > lo:
                out[r] = self.days[lo:hi, cols[r]].sum(axis=0)
        return out

    def tag_matrix(self) -> sp.csr_matrix:
        """Items x hashtags, binary (cached until the catalogue changes)."""
        key = ("tags", len(self.ids), self.revision)
        if self._cache.get("tags_key") != key:
            rows = [c for c, ts in enumerate(self.tags) for _ in ts]
            cols = [t for ts in self.tags for t in ts]
            shape = (len(self.ids), max(1, len(self.tag_ids)))
            self._cache["tags"] = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
            self._cache["tags_key"] = key
        return self._cache["tags"]

    def creator_matrix(self) -> sp.csr_matrix:
        """Items x creators, binary (cached until the catalogue changes)."""
        key = ("creators", len(self.ids), self.revision)
        if self._cache.get("creators_key") != key:
            creator = self.creator[: len(self.ids)]
            has = np.nonzero(creator >= 0)[0]
            shape = (len(self.ids), max(1, len(self.creators)))
            ones = np.ones(len(has), dtype=np.float32)
            self._cache["creators"] = sp.csr_matrix((ones, (has, creator[has])), shape=shape)
            self._cache["creators_key"] = key
        return self._cache["creators"]

    def sound_matrix(self) -> sp.csr_matrix:
        """Items x sounds, binary (cached until the catalogue changes); a row of zeros for a video without one."""
        key = ("sounds", len(self.ids), self.revision)
        if self._cache.get("sounds_key") != key:
            sound = self.sound[: len(self.ids)]
            has = np.nonzero(sound >= 0)[0]
            shape = (len(self.ids), max(1, len(self.sound_ids)))
            ones = np.ones(len(has), dtype=np.float32)
            self._cache["sounds"] = sp.csr_matrix((ones, (has, sound[has])), shape=shape)
            self._cache["sounds_key"] = key
        return self._cache["sounds"]

    def reset_counts(self) -> None:
        """Forget engagement counts (before a rebuild from the event log); facts stay."""
        self.engagements[:] = 0.0
        self.shown[:] = 0.0
        self.first_seen[:] = np.nan
        self.days = np.zeros((0, len(self.engagements)), dtype=np.float32)

    def copy_facts(self) -> Catalogue:
        """A catalogue with the same items and public facts, and no engagement counts."""
        out = Catalogue(
            ids=list(self.ids),
            col=dict(self.col),
            engagements=np.zeros_like(self.engagements),
            shown=np.zeros_like(self.shown),
            first_seen=np.full_like(self.first_seen, np.nan),
            created_at=self.created_at.copy(),
            duration=self.duration.copy(),
            creator=self.creator.copy(),
            tags=list(self.tags),
            creators=dict(self.creators),
            tag_ids=dict(self.tag_ids),
            sound=self.sound.copy(),
            sound_ids=dict(self.sound_ids),
        )
        out.days = np.zeros((0, len(out.engagements)), dtype=np.float32)
        return out


def _grow(arr: npt.NDArray[Any], cap: int, fill: float) -> npt.NDArray[Any]:
    out = np.full(cap, fill, dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


def quantile_table(durations: npt.ArrayLike, watched: npt.ArrayLike, edges: Sequence[float]) -> FloatArray:
    """D2Q: per duration bucket, the 0..100th percentiles of watch time (buckets x 101)."""
    d = np.asarray(durations, dtype=np.float64)
    w = np.asarray(watched, dtype=np.float64)
    bucket = np.searchsorted(np.asarray(edges), d, side="right")
    table = np.zeros((len(edges) + 1, 101), dtype=np.float32)
    for b in range(len(edges) + 1):
        vals = w[bucket == b]
        if len(vals) == 0:
            vals = w if len(w) else np.zeros(1)
        table[b] = np.percentile(vals, np.arange(101))
    return table


def watch_quantile(table: FloatArray, edges: Sequence[float], duration_s: float, watched_s: float) -> float:
    """D2Q label: the watch time's quantile (0..1) among plays of videos in the same duration bucket."""
    b = int(np.searchsorted(np.asarray(edges), duration_s, side="right"))
    row = table[b]
    lo = int(np.searchsorted(row, watched_s, side="left"))
    hi = int(np.searchsorted(row, watched_s, side="right"))
    return float(min(100, (lo + hi) / 2) / 100.0)
