"""The region's For You learner: the serving model, kept learning from every event, and its model registry.

- Serving: a `FeedModel` (the learned Scorer) behind the `ForYouRecommender` pipeline.
- Online learning: bus messages (watch events, likes, shares, comments) become model events applied with
  `FeedModel.observe` and folded into the live `RegionFeedState`, within milliseconds of the commit.
- Versions: `train_version` fits a full model from the region's event log and writes
  `<region>/models/<version>/` (safetensors + manifest) and the `CURRENT` pointer; `serve` notices a new
  pointer and swaps the model in (built aside, events since its cut-off replayed, then one reference swap),
  so no request fails and none sees half a model.
- Governance: each version's manifest is signed with the region's key and carries its lineage (the
  training events' Merkle root); `ModelGate` refuses, and logs, any version that is unsigned, tampered
  or from another region without a recorded export licence, at start-up and on every swap.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from sovereel.events.bus.interface import Message
from sovereel.events.dedupe import AppliedIds, newest_outbox_id
from sovereel.feed.interface import VideoInfo
from sovereel.feed.model import Event as ModelEvent
from sovereel.feed.model import FeedModel
from sovereel.feed.params import default_params
from sovereel.feed.pipeline import ForYouRecommender
from sovereel.feed.row_scoring import predict_with_features
from sovereel.feed.text_embed import default_text_embedder
from sovereel.foryou.live_state import RegionFeedState, Signal, bootstrap_signals, signals_from_message
from sovereel.governance.model_gate import ModelGate
from sovereel.governance.registry import ModelRefused
from sovereel.governance.replay import archive_params
from sovereel.governance.signing import RegionKeys
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Event, FeedPreferences, Like, Video, VideoHashtag

log = logging.getLogger(__name__)
MODEL_KINDS = {"impression", "play", "progress", "complete", "skip", "like", "share", "comment", "follow"}


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
                moderation=v.moderation_state,
            )
            # A removed video leaves the catalogue (and, through `video.moderated`, the serving indexes) at once.
            for v in s.scalars(select(Video).where(Video.status == "ready", Video.moderation_state != "removed"))
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


def event_log_size(db: RegionDB) -> int:
    """How many watch events and likes the region has recorded (what a new version would learn from)."""
    with db.session() as s:
        events = s.scalar(select(func.count()).select_from(Event)) or 0
        likes = s.scalar(select(func.count()).select_from(Like)) or 0
    return int(events) + int(likes)


def trained_log_size(region_dir: Path) -> int:
    """The event log size the current version was trained at (0 with no version, or one from before it was kept)."""
    version = current_version(region_dir)
    if version is None:
        return 0
    try:
        manifest = json.loads((registry_dir(region_dir) / version / "manifest.json").read_text())
    except (OSError, ValueError):
        return 0
    return int(manifest.get("event_log_size") or 0)


def train_version(
    db: RegionDB, region_dir: Path, *, epochs: int | None = None, keys: RegionKeys | None = None
) -> tuple[str, dict[str, Any]]:
    """Fit a full model version from the event log, save and sign it, log it and make it current.

    Returns (version, signed manifest). The training set is cut at the log's newest seq before reading,
    so the manifest's lineage (the events' Merkle root) names exactly what was learnt from.
    """
    from sovereel.actions.models import do_publish_version
    from sovereel.governance.lineage import build_lineage, log_cut
    from sovereel.governance.rights import consult_erasures
    from sovereel.governance.signing import keys_for_dir

    keys = keys or keys_for_dir(db.region, region_dir)
    cut_seq, cut_time = log_cut(db)
    log_size = event_log_size(db)  # read with the cut: events arriving during training count for the next one
    started = time.time()
    videos = video_infos(db)
    signals = [
        sig for sig in profile_signals(db, 0.0) if (sig.seq <= cut_seq if sig.seq is not None else sig.at <= cut_time)
    ]
    # Erased accounts' events are gone from the store; the erasure records make sure none slips back in.
    erased, erasures = consult_erasures(db, {sig.user_id for sig in signals})
    signals = [sig for sig in signals if sig.user_id not in erased]
    events = model_events(signals, durations_of(videos))
    parent = current_version(region_dir)
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
            "parent_version": parent,
            "erasures_consulted": erasures,
            "event_log_size": log_size,
        }
    )
    version = model.version
    target = registry_dir(region_dir) / version
    model.save(target)
    lineage = build_lineage(
        db,
        cut_seq=cut_seq,
        cut_time=cut_time,
        parent=parent,
        code_version=str(model.manifest.get("code_version") or "unknown"),
        config=model.config.as_dict(),
        params=default_params().to_dict(),
        metrics={"ranker_loss": model.manifest.get("ranker_loss"), **(model.manifest.get("metrics") or {})},
        trained_at=started,
    )
    manifest = do_publish_version(db, region_dir, version, keys, lineage)
    log.info("trained model %s on %d events in %.1fs", version, len(events), time.time() - started)
    return version, manifest


class Learner:
    """Owns the serving model and the live state of one region; fed by the bus."""

    def __init__(self, db: RegionDB, region_dir: Path, keys: RegionKeys | None = None) -> None:
        self.db = db
        self.region_dir = region_dir
        self.gate = ModelGate(db, region_dir, keys)  # every version is checked (and refusals logged) before use
        self.state = RegionFeedState()
        self.scorer = LockedScorer(self._load_current())
        self.recommender = ForYouRecommender(
            self.scorer, default_params(), embed_texts=default_text_embedder(), embed_on_request=False
        )
        archive_params(region_dir, self.recommender.params)  # impressions it ranks stay replayable after a change
        self._durations: dict[str, float] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._text_thread: threading.Thread | None = None
        self.last_event_at = 0.0  # when the newest applied event reached the learner (for lag measurements)
        self.applied_ids = AppliedIds()

    def _load_current(self) -> FeedModel:
        version = current_version(self.region_dir)
        if version:
            try:
                self.gate.admit(version)
                return FeedModel.load(registry_dir(self.region_dir) / version)
            except ModelRefused as exc:
                log.error("%s; starting untrained", exc.message)
            except Exception:
                log.exception("model %s could not be loaded; starting untrained", version)
        return FeedModel()

    def bootstrap(self, since_s: float = 30 * 86400.0) -> None:
        """After a restart: describe the catalogue and replay the recent event log into state and model."""
        # Read before the tables: a message at or below it is in what we replay, so the bus must not apply it again.
        self.applied_ids = AppliedIds(floor=newest_outbox_id(self.db))
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
            target=self.recommender.index_texts,
            args=({v.id: v for v in videos}, self._stop.is_set),
            name="text-index",
            daemon=True,
        )
        self._text_thread.start()

    def on_message(self, msg: Message) -> None:
        """Apply one bus message: online learning happens here (a redelivered message is ignored)."""
        if msg.id and not self.applied_ids.first_time(msg.id):
            return
        if msg.topic == "feed.profile_reset":
            user_id = str(msg.payload["user_id"])
            self.state.forget_user(user_id)
            with self.scorer.lock:
                self.scorer.apply_pending()  # what came before the reset is forgotten with it
                self.scorer.model.forget_user(user_id)
            return
        if msg.topic == "video.ready":
            self._describe(str(msg.payload["video_id"]))
            return
        if msg.topic == "video.moderated":
            self.recommender.index_texts({v.id: v for v in video_infos(self.db)})  # forgets removed videos
            return
        signals = signals_from_message(msg.topic, msg.payload)
        if not signals:
            return
        self.state.apply(signals)
        self.scorer.observe(model_events(signals, self._durations))
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
        """Check and load a saved version, catch it up on events after its training cut-off, then serve it."""
        self.gate.admit(version)  # raises ModelRefused (logged) for an unsigned, tampered or unlicensed version
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
                        train_version(self.db, self.region_dir, keys=self.gate.keys)
                    except Exception:
                        log.exception("scheduled training failed")
                version = current_version(self.region_dir)
                if version and not self.scorer.model.version.startswith(version) and self.gate.should_try(version):
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
        # The text index embeds with torch; a process that exits while a batch is in flight is aborted by torch's
        # thread pool ("terminate called without an active exception"), so wait for the batch to end.
        if self._text_thread is not None:
            self._text_thread.join(timeout=60)
