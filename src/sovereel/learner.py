"""The region's For You learner: the serving model, kept learning from every event, and its model registry.

- Serving: a `FeedModel` (the learned Scorer) behind the `ForYouRecommender` pipeline.
- Online learning: bus messages (watch events, likes, shares, comments) become model events applied with
  `FeedModel.observe` and folded into the live `RegionFeedState`, within milliseconds of the commit.
- Versions: `train_version` fits a full model from the region's event log and writes
  `<region>/models/<version>/` (safetensors + manifest) and the `CURRENT` pointer; `serve` notices a new
  pointer and swaps the model in (built aside, events since its cut-off replayed, then one reference swap),
  so no request fails and none sees half a model.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sovereel.events.bus import Message
from sovereel.feed.interface import VideoInfo
from sovereel.feed.model import Event as ModelEvent
from sovereel.feed.model import FeedModel
from sovereel.feed.params import default_params
from sovereel.feed.pipeline import ForYouRecommender
from sovereel.feed.text_embed import default_text_embedder
from sovereel.feed_state import RegionFeedState, Signal, bootstrap_signals, signals_from_message
from sovereel.storage.db import RegionDB
from sovereel.storage.models import FeedPreferences, Video, VideoHashtag

log = logging.getLogger(__name__)
MODEL_KINDS = {"impression", "play", "progress", "complete", "skip", "like", "share", "comment", "follow"}


class LockedScorer:
    """The model as the pipeline sees it: predictions and online steps never interleave."""

    def __init__(self, model: FeedModel) -> None:
        self.model = model
        self.lock = threading.RLock()

    @property
    def version(self) -> str:
        return self.model.version

    def predict(self, user_id: str | None, videos: list[VideoInfo], now: float) -> dict[str, Any]:
        with self.lock:
            return self.model.predict(user_id, videos, now)

    def user_vector(self, user_id: str | None) -> Any | None:
        with self.lock:
            vec = self.model.user_vector(user_id)
            return None if vec is None else vec.copy()

    def item_vectors(self) -> tuple[list[str], Any]:
        with self.lock:
            return self.model.item_vectors()


def model_events(signals: list[Signal], durations: dict[str, float]) -> list[ModelEvent]:
    """Signals as the model learns from them (a loop counts as a complete; unlikes teach nothing)."""
    out = []
    for sig in signals:
        kind = "complete" if sig.kind == "loop" else sig.kind
        if kind not in MODEL_KINDS:
            continue
        out.append(
            ModelEvent(
                user_id=sig.user_id,
                video_id=sig.video_id,
                ts=sig.at,
                kind=kind,
                watched_s=float(sig.watched_s or 0.0),
                duration_s=durations.get(sig.video_id, 0.0),
            )
        )
    return out


def video_infos(db: RegionDB) -> list[VideoInfo]:
    """Public facts of the region's ready videos, for the model's catalogue."""
    with db.session() as s:
        tags: dict[str, list[str]] = {}
        for vid, tag in s.execute(select(VideoHashtag.video_id, VideoHashtag.tag)):
            tags.setdefault(vid, []).append(tag)
        return [
            VideoInfo(
                id=v.id,
                creator_id=v.creator_id,
                created_at=v.created_at,
                duration_s=v.duration_s or 0.0,
                hashtags=tuple(sorted(tags.get(v.id, []))),
                caption=v.caption,
            )
            for v in s.scalars(select(Video).where(Video.status == "ready"))
        ]


def reset_times(db: RegionDB) -> dict[str, float]:
    """When each user last asked to "Refresh For You": their earlier events no longer train their profile."""
    with db.session() as s:
        rows = s.execute(
            select(FeedPreferences.user_id, FeedPreferences.profile_reset_at).where(
                FeedPreferences.profile_reset_at.is_not(None)
            )
        )
        return {uid: float(at) for uid, at in rows if at is not None}


def profile_signals(db: RegionDB, since: float) -> list[Signal]:
    """The event log since `since`, less each user's events from before their last "Refresh For You"."""
    resets = reset_times(db)
    return [s for s in bootstrap_signals(db, since) if s.at >= resets.get(s.user_id, 0.0)]


def durations_of(videos: list[VideoInfo]) -> dict[str, float]:
    return {v.id: v.duration_s for v in videos}


def training_events(db: RegionDB, videos: list[VideoInfo], since: float = 0.0) -> list[ModelEvent]:
    """The region's event log (watch events and social actions) as model events, in time order."""
    return model_events(profile_signals(db, since), durations_of(videos))


def registry_dir(region_dir: Path) -> Path:
    return region_dir / "models"


def trained_until(model: FeedModel, region_dir: Path) -> float:
    """The newest event time a saved version was trained on (0 for an untrained model)."""
    path = registry_dir(region_dir) / model.base_version / "manifest.json"
    if not path.is_file():
        return 0.0
    return float(json.loads(path.read_text()).get("data_to") or 0.0)


def current_version(region_dir: Path) -> str | None:
    pointer = registry_dir(region_dir) / "CURRENT"
    return pointer.read_text().strip() if pointer.is_file() else None


def train_version(db: RegionDB, region_dir: Path, *, epochs: int | None = None) -> tuple[str, dict[str, Any]]:
    """Fit a full model version from the event log, save it and make it current; returns (version, manifest)."""
    started = time.time()
    videos = video_infos(db)
    events = training_events(db, videos)
    model = FeedModel()
    model.fit(events, videos, epochs=epochs)
    model.manifest.update(
        {
            "region": db.region,
            "trained_at": started,
            "training_events": len(events),
            "data_from": min((e.ts for e in events), default=None),
            "data_to": max((e.ts for e in events), default=None),
            "train_seconds": round(time.time() - started, 2),
        }
    )
    version = model.version
    target = registry_dir(region_dir) / version
    model.save(target)
    pointer = registry_dir(region_dir) / "CURRENT"
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(version)
    os.replace(tmp, pointer)  # atomic: a reader sees the old version or the new one
    manifest: dict[str, Any] = json.loads((target / "manifest.json").read_text())
    log.info("trained model %s on %d events in %.1fs", version, len(events), time.time() - started)
    return version, manifest


class Learner:
    """Owns the serving model and the live state of one region; fed by the bus."""

    def __init__(self, db: RegionDB, region_dir: Path) -> None:
        self.db = db
        self.region_dir = region_dir
        self.state = RegionFeedState()
        self.scorer = LockedScorer(self._load_current())
        self.recommender = ForYouRecommender(
            self.scorer, default_params(), embed_texts=default_text_embedder(), embed_on_request=False
        )
        self._durations: dict[str, float] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.last_event_at = 0.0  # when the newest applied event reached the learner (for lag measurements)

    def _load_current(self) -> FeedModel:
        version = current_version(self.region_dir)
        if version:
            try:
                return FeedModel.load(registry_dir(self.region_dir) / version)
            except Exception:
                log.exception("model %s could not be loaded; starting untrained", version)
        return FeedModel()

    def bootstrap(self, since_s: float = 30 * 86400.0) -> None:
        """After a restart: describe the catalogue and replay the recent event log into state and model."""
        videos = video_infos(self.db)
        self._durations = durations_of(videos)
        signals = profile_signals(self.db, time.time() - since_s)
        trained_to = trained_until(self.scorer.model, self.region_dir)
        with self.scorer.lock:
            self.scorer.model.describe(videos)
            self.scorer.model.observe(model_events([s for s in signals if s.at > trained_to], self._durations))
        self.state.apply(signals)
        self.recommender.scorer = self.scorer  # rebuild the item index over the replayed vectors
        # Embedding a large catalogue's captions takes a while: the content source fills in as it goes.
        self._text_thread = threading.Thread(
            target=self.recommender.index_texts, args=({v.id: v for v in videos},), name="text-index", daemon=True
        )
        self._text_thread.start()

    def on_message(self, msg: Message) -> None:
        """Apply one bus message: online learning happens here."""
        if msg.topic == "feed.profile_reset":
            user_id = str(msg.payload["user_id"])
            self.state.forget_user(user_id)
            with self.scorer.lock:
                self.scorer.model.forget_user(user_id)
            return
        if msg.topic == "video.ready":
            self._describe(str(msg.payload["video_id"]))
            return
        signals = signals_from_message(msg.topic, msg.payload)
        if not signals:
            return
        self.state.apply(signals)
        with self.scorer.lock:
            self.scorer.model.observe(model_events(signals, self._durations))
        self.last_event_at = time.time()

    def _describe(self, video_id: str) -> None:
        videos = {v.id: v for v in video_infos(self.db)}
        info = videos.get(video_id)
        if info is None:
            return
        self._durations[video_id] = info.duration_s
        with self.scorer.lock:
            self.scorer.model.describe([info])
        self.recommender.index_texts(videos)  # embeds only what is new; forgets deleted videos

    def swap_to(self, version: str) -> None:
        """Load a saved version, catch it up on events after its training cut-off, then serve it."""
        model = FeedModel.load(registry_dir(self.region_dir) / version)
        videos = video_infos(self.db)
        model.describe(videos)
        trained_to = trained_until(model, self.region_dir)
        signals = [s for s in profile_signals(self.db, trained_to) if s.at > trained_to]
        model.observe(model_events(signals, durations_of(videos)))
        self.scorer = LockedScorer(model)
        self.recommender.scorer = self.scorer  # builds the new index first, then switches both at once
        log.info("serving model %s", model.version)

    def watch_registry(self, interval_s: float = 2.0, train_every_s: float = 0.0, min_new_events: int = 100) -> None:
        """Swap in new versions as they appear (from `sovereel train` or the schedule); train on schedule."""
        last_train = time.monotonic()
        seen_at_train = self.state.applied

        def run() -> None:
            nonlocal last_train, seen_at_train
            while not self._stop.wait(interval_s):
                due = train_every_s > 0 and time.monotonic() - last_train >= train_every_s
                if due and self.state.applied - seen_at_train >= min_new_events:
                    last_train, seen_at_train = time.monotonic(), self.state.applied
                    try:
                        train_version(self.db, self.region_dir)
                    except Exception:
                        log.exception("scheduled training failed")
                version = current_version(self.region_dir)
                if version and not self.scorer.model.version.startswith(version):
                    try:
                        self.swap_to(version)
                    except Exception:
                        log.exception("could not swap to model %s", version)

        self._watcher = threading.Thread(target=run, name="model-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher:
            self._watcher.join(timeout=5)
