"""Counting a viewer once per video, kind and UTC day in the region-wide aggregates the ranker reads.

The same period as the public counters (`actions.counting`): 1,000 `play`s, `complete`s or impressions of one
video by one account in a day weigh like one, so no single account moves trending, exposure or engagement
rates much. Pure and in memory: the live state and the online model each keep one, rebuilt by replay.
"""

from __future__ import annotations

DAY_S = 86400.0
KEEP_DAYS = 9  # events may be back-dated by up to 7 days (api/routes/events.py), plus slack


class OncePerDay:
    """Which (viewer, video, kind) were counted on each UTC day; days older than KEEP_DAYS are forgotten."""

    def __init__(self, keep_days: int = KEEP_DAYS) -> None:
        self._keep_days = keep_days
        self._days: dict[int, dict[tuple[str, str, str], int]] = {}
        self._newest = -1

    def first(self, viewer: str, video_id: str, kind: str, at: float) -> bool:
        """True the first time this viewer does `kind` to this video on the UTC day of `at` (and remembers it)."""
        return self.count(viewer, video_id, kind, at) == 1

    def count(self, viewer: str, video_id: str, kind: str, at: float) -> int:
        """How many times (this one included) this viewer did `kind` to this video on the UTC day of `at`."""
        day = int(at // DAY_S)
        if day > self._newest:
            self._newest = day
            for old in [d for d in self._days if d < day - self._keep_days]:
                del self._days[old]
        elif day < self._newest - self._keep_days:
            return 1  # older than any event the API accepts: only a replay of the log, counted as it was
        seen = self._days.setdefault(day, {})
        key = (viewer, video_id, kind)
        seen[key] = n = seen.get(key, 0) + 1
        return n
