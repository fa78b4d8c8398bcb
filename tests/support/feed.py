"""Small hand-built worlds and a test double for the learned model, shared by the feed pipeline tests."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from sovereel.feed.interface import TASKS, VideoInfo

DAY = 86400.0
NOW = 1_000 * DAY

# Offsets that turn one affinity into six distinct, ordered action probabilities.
_TASK_OFFSET = {"complete": 0.0, "watch_time": -0.5, "like": -2.0, "share": -3.0, "comment": -3.0, "follow": -4.0}


def video(
    vid: str,
    creator: str,
    *,
    age_s: float = DAY,
    tags: tuple[str, ...] = (),
    caption: str = "",
    **extra: Any,
) -> VideoInfo:
    """A ready video created `age_s` before NOW."""
    return VideoInfo(
        id=vid,
        creator_id=creator,
        created_at=NOW - age_s,
        duration_s=30.0,
        hashtags=tags,
        caption=caption,
        **extra,
    )


class DotScorer:
    """Test double for the learned ranking model (not the real one): sigmoids of fixed user . item dot products.

    It also counts every call, so a test can prove that a mode never consulted the model about the viewer.
    """

    def __init__(self, users: dict[str, np.ndarray], items: dict[str, np.ndarray], version: str = "dot-1") -> None:
        self.version = version
        self._users = {u: np.asarray(v, dtype=np.float32) for u, v in users.items()}
        self._item_ids = sorted(items)
        self._items = {i: np.asarray(v, dtype=np.float32) for i, v in items.items()}
        dim = len(next(iter(items.values()))) if items else 4
        self._matrix = np.stack([self._items[i] for i in self._item_ids]) if items else np.zeros((0, dim), np.float32)
        self._dim = dim
        self.calls: list[tuple[str, str | None]] = []

    def predict(self, user_id: str | None, videos: list[VideoInfo], now: float) -> dict[str, Any]:
        self.calls.append(("predict", user_id))
        user = self._users.get(user_id or "", np.zeros(self._dim, dtype=np.float32))
        affinity = np.array([float(user @ self._items.get(v.id, np.zeros(self._dim))) for v in videos])
        return {t: 1.0 / (1.0 + np.exp(-(affinity + _TASK_OFFSET[t]))) for t in TASKS}

    def user_vector(self, user_id: str | None) -> Any | None:
        self.calls.append(("user_vector", user_id))
        return self._users.get(user_id) if user_id else None

    def item_vectors(self) -> tuple[list[str], Any]:
        self.calls.append(("item_vectors", None))
        return self._item_ids, self._matrix  # the same objects each call, as a real model should return


def topic_vector(topic: int, dim: int = 4, strength: float = 2.0) -> np.ndarray:
    """A unit direction per topic, scaled: items and users of a topic point the same way."""
    v = np.zeros(dim, dtype=np.float32)
    v[topic % dim] = strength
    return v


def build_co_engagement(
    sessions: Iterable[Sequence[str]], max_neighbours: int = 50, max_session_len: int = 50
) -> dict[str, dict[str, float]]:
    """A co-engagement table like the live state's: co-occurrences in sessions / sqrt(n_a * n_b)."""
    item_count: dict[str, int] = defaultdict(int)
    pair_count: dict[tuple[str, str], int] = defaultdict(int)
    for session in sessions:
        # Only the latest engagements of a long session: bounds the quadratic pair count.
        items = sorted(set(session[-max_session_len:]))
        for i, a in enumerate(items):
            item_count[a] += 1
            for b in items[i + 1 :]:
                pair_count[(a, b)] += 1
    neighbours: dict[str, dict[str, float]] = defaultdict(dict)
    for (a, b), c in pair_count.items():
        w = c / math.sqrt(item_count[a] * item_count[b])
        neighbours[a][b] = w
        neighbours[b][a] = w
    return {
        a: dict(sorted(nb.items(), key=lambda kv: (-kv[1], kv[0]))[:max_neighbours]) for a, nb in neighbours.items()
    }
