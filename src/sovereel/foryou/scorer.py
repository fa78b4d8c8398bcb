"""The serving model as the For You pipeline sees it: a `FeedModel` whose predictions and online steps never
interleave (`LockedScorer`)."""

from __future__ import annotations

import threading
from typing import Any

from sovereel.feed.interface import VideoInfo
from sovereel.feed.model import Event as ModelEvent
from sovereel.feed.model import FeedModel
from sovereel.feed.row_scoring import predict_with_features


class LockedScorer:
    """The model as the pipeline sees it: predictions and online steps never interleave.

    Online events are queued and applied in one batch, by the learner when the model is free or else by the
    next reader before it reads: under load the learner never waits behind feed requests one event at a
    time (a lock convoy that delayed learning by seconds), and every page still sees every event queued
    before it was scored.
    """

    def __init__(self, model: FeedModel) -> None:
        self.model = model
        self.lock = threading.RLock()
        self._pending: list[ModelEvent] = []
        self._pending_lock = threading.Lock()

    def observe(self, events: list[ModelEvent]) -> None:
        """Queue online events; applied now if no request holds the model, else before the next read."""
        with self._pending_lock:
            self._pending.extend(events)
        if self.lock.acquire(blocking=False):
            try:
                self.apply_pending()
            finally:
                self.lock.release()

    def apply_pending(self) -> None:
        """Apply the queued events (the caller holds `lock`)."""
        with self._pending_lock:
            batch, self._pending = self._pending, []
        if batch:
            self.model.observe(batch)

    @property
    def version(self) -> str:
        with self.lock:
            self.apply_pending()
            return self.model.version

    def predict(self, user_id: str | None, videos: list[VideoInfo], now: float) -> dict[str, Any]:
        with self.lock:
            self.apply_pending()
            return self.model.predict(user_id, videos, now)

    def predict_recorded(self, user_id: str | None, videos: list[VideoInfo], now: float) -> tuple[dict[str, Any], Any]:
        """Row-invariant predictions and the feature rows behind them (logged so the overseer can replay)."""
        with self.lock:
            self.apply_pending()
            return predict_with_features(self.model, user_id, videos, now)

    def user_vector(self, user_id: str | None) -> Any | None:
        with self.lock:
            self.apply_pending()
            vec = self.model.user_vector(user_id)
            return None if vec is None else vec.copy()

    def item_vectors(self) -> tuple[list[str], Any]:
        with self.lock:
            self.apply_pending()
            return self.model.item_vectors()

    def item_vectors_since(self, state: object) -> tuple[object, bool, list[str], Any]:
        """The item rows changed since `state` (`FeedModel.item_vectors_since`), read under the model's lock."""
        with self.lock:
            self.apply_pending()
            return self.model.item_vectors_since(state)
