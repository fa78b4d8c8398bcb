"""The region's For You learner: the serving model, kept learning from every event, swapped for new versions.

- Serving: a `FeedModel` behind a `LockedScorer` (`foryou.scorer`) and the `ForYouRecommender` pipeline.
- Online learning: bus messages (watch events, likes, shares, comments) become model events
  (`foryou.event_rows`) applied with `FeedModel.observe` and folded into the live `RegionFeedState`, within
  milliseconds of the commit.
- Versions: `foryou.training` fits and publishes versions into the region's `ModelRegistry`; `watch_registry`
  notices a new CURRENT version and swaps it in (built aside, events since its cut-off replayed, then one
  reference swap), so no request fails and none sees half a model. With `train_every_s` it also trains on the
  schedule, by the same rule as the trainer process (`training.train_if_due`).
- Split layout: in the scaled layout one `sovereel learner` process per region does the learning and tells
  `applied` what it applied (`foryou.delta` publishes it); API processes build their `Learner` the same way but
  feed it the learner's deltas (`foryou.replica`) instead of raw events, so they never take a gradient step.
- Governance: `ModelGate` refuses, and logs, any version that is unsigned, tampered or from another region
  without a recorded export licence, at start-up and on every swap.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Protocol

from sovereel.events.bus.interface import Message
from sovereel.events.dedupe import AppliedIds, newest_outbox_id
from sovereel.feed.model import FeedModel
from sovereel.feed.model_io import IncompatibleModel
from sovereel.feed.params import default_params
from sovereel.feed.pipeline import ForYouRecommender
from sovereel.feed.text_embed import default_text_embedder
from sovereel.foryou.event_rows import durations_of, model_events
from sovereel.foryou.live_state import RegionFeedState, Signal, signals_from_message
from sovereel.foryou.model_gate import ModelGate
from sovereel.foryou.readers import profile_signals, servable_video_info, video_infos
from sovereel.foryou.scorer import LockedScorer
from sovereel.foryou.text_vectors import TextVectorFile, text_vector_path
from sovereel.foryou.training import train_if_due
from sovereel.governance.model_registry import ModelRefused, ModelRegistry
from sovereel.governance.signing import RegionKeys
from sovereel.storage.db import RegionDB

log = logging.getLogger(__name__)


def region_text_embedder(region_dir: Path) -> TextVectorFile:
    """The text embedder with the region's file of caption vectors: each caption is embedded once per region."""
    embed = default_text_embedder()
    return TextVectorFile(embed, text_vector_path(region_dir, embed))


class LearnerHeld(RuntimeError):
    """An event reached a learner that is stopping (the bus redelivers it)."""


class AppliedListener(Protocol):
    """Told, in order, what the learner applied (the learner process's delta publisher)."""

    def signals(self, msg: Message, signals: list[Signal]) -> None: ...
    def reset(self, msg: Message, user_id: str) -> None: ...


class Learner:
    """Owns the serving model and the live state of one region; fed by the bus."""

    def __init__(self, db: RegionDB, region_dir: Path, keys: RegionKeys | None = None, *, serving: bool = True) -> None:
        """`serving=False`: the learner process, which answers no requests and so keeps no text index."""
        self.db = db
        self.serving = serving
        self.region_dir = region_dir
        self.gate = ModelGate(db, region_dir, keys)  # every version is checked (and refusals logged) before use
        self.registry: ModelRegistry = self.gate.registry
        self.state = RegionFeedState()
        # Versions this code cannot serve (trained on other ranker inputs, before an upgrade): never retried, and
        # the schedule trains a replacement at its first check instead of waiting for new events.
        self.incompatible: set[str] = set()
        self.scorer = LockedScorer(self._load_current())
        self.recommender = ForYouRecommender(
            self.scorer, default_params(), embed_texts=region_text_embedder(region_dir), embed_on_request=False
        )
        self.registry.archive_params(self.recommender.params)  # impressions it ranks stay replayable after a change
        self._durations: dict[str, float] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._text_thread: threading.Thread | None = None
        self.last_event_at = 0.0  # when the newest applied event reached the learner (for lag measurements)
        self.applied_ids = AppliedIds()
        self.applied: AppliedListener | None = None
        self._held = False

    def _load_current(self) -> FeedModel:
        version = self.registry.current()
        if version:
            try:
                self.gate.admit(version)
                return self.registry.load(version)
            except ModelRefused as exc:
                log.error("%s; starting untrained", exc.message)
            except IncompatibleModel as exc:
                self.incompatible.add(version)
                log.error("%s; starting untrained until a version is trained on this code's inputs", exc)
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
        trained_to = self.registry.trained_until(self.scorer.model.base_version)
        with self.scorer.lock:
            self.scorer.model.describe(videos)
            self.scorer.model.observe(model_events([s for s in signals if s.at > trained_to], self._durations))
        self.state.apply(signals)
        self.recommender.scorer = self.scorer  # rebuild the item index over the replayed vectors
        if not self.serving:
            return
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
        if self._held:
            raise LearnerHeld("the learner is stopping: this event is left for the next one")
        if msg.id and msg.id <= self.applied_ids.floor and self.applied is not None:
            # Replayed from the database at start, so not applied again; but the servers following this learner
            # may not have it (it came while the previous learner was stopping): tell them, they deduplicate.
            self._tell(msg)
            return
        if msg.id and not self.applied_ids.first_time(msg.id):
            return
        if msg.topic == "foryou.forget":  # an erased account (live, not stored: no outbox id, never replayed)
            self.forget(str(msg.payload["user_id"]))
            return
        if msg.topic == "feed.profile_reset":
            self.forget(str(msg.payload["user_id"]))
            if self.applied is not None:
                self.applied.reset(msg, str(msg.payload["user_id"]))
            return
        if msg.topic == "video.ready":
            self._describe(str(msg.payload["video_id"]))
            return
        if msg.topic == "video.moderated":
            moderated = msg.payload.get("video_id")
            if self.serving and moderated:  # (a whole account's suspension leaves the text index as it is)
                info = servable_video_info(self.db, str(moderated))
                self.recommender.index_changes(upsert=[info] if info else [], remove=[] if info else [moderated])
            return
        signals = signals_from_message(msg.topic, msg.payload)
        if not signals:
            return
        self.apply_signals(signals)
        if self.applied is not None:
            self.applied.signals(msg, signals)

    def _tell(self, msg: Message) -> None:
        if self.applied is None:
            return
        if msg.topic == "foryou.forget":  # an erased account (live, not stored: no outbox id, never replayed)
            self.forget(str(msg.payload["user_id"]))
            return
        if msg.topic == "feed.profile_reset":
            self.applied.reset(msg, str(msg.payload["user_id"]))
        elif signals := signals_from_message(msg.topic, msg.payload):
            self.applied.signals(msg, signals)

    def hold(self) -> None:
        """Refuse further events (they are redelivered to the next learner): the learner process is stopping."""
        self._held = True

    def apply_signals(self, signals: list[Signal], *, learn: bool = True) -> None:
        """Fold signals into the live state and the model; `learn=False` (a replica) skips the gradient steps,
        whose rows come from the learner process instead."""
        self.state.apply(signals)
        events = model_events(signals, self._durations)
        if learn:
            self.scorer.observe(events)
        else:
            with self.scorer.lock:
                self.scorer.apply_pending()
                self.scorer.model.observe(events, learn=False)
        self.last_event_at = time.time()

    def forget(self, user_id: str) -> None:
        """A profile reset: the viewer's recent history and vector no longer steer their feed."""
        self.state.forget_user(user_id)
        with self.scorer.lock:
            self.scorer.apply_pending()  # what came before the reset is forgotten with it
            self.scorer.model.forget_user(user_id)

    def _describe(self, video_id: str) -> None:
        # One row, not the catalogue: every upload comes through here, in every process that serves.
        info = servable_video_info(self.db, video_id)
        if info is None:
            return
        self._durations[video_id] = info.duration_s
        with self.scorer.lock:
            self.scorer.model.describe([info])
        if self.serving:
            self.recommender.index_changes(upsert=[info])

    def swap_to(self, version: str) -> None:
        """Check and load a saved version, catch it up on events after its training cut-off, then serve it."""
        self.gate.admit(version)  # raises ModelRefused (logged) for an unsigned, tampered or unlicensed version
        model = self.registry.load(version)
        videos = video_infos(self.db)
        model.describe(videos)
        trained_to = self.registry.trained_until(model.base_version)
        signals = [s for s in profile_signals(self.db, trained_to) if s.at > trained_to]
        model.observe(model_events(signals, durations_of(videos)))
        self.scorer = LockedScorer(model)
        self.recommender.scorer = self.scorer  # builds the new index first, then switches both at once
        log.info("serving model %s", model.version)

    def watch_registry(self, interval_s: float = 2.0, train_every_s: float = 0.0, min_new_events: int = 100) -> None:
        """Swap in new versions as they appear (from `sovereel train`, the trainer or the schedule); train on
        schedule when `train_every_s` > 0 (the first check one interval after start)."""

        def run() -> None:
            # Resumes from what the published version learnt from (from nothing when this code cannot serve it).
            current = self.registry.current()
            trained_at = 0 if current in self.incompatible else self.registry.trained_log_size()
            next_train = time.monotonic() + train_every_s
            while not self._stop.wait(interval_s):
                if train_every_s > 0 and time.monotonic() >= next_train:
                    trained_at = train_if_due(self.db, self.region_dir, trained_at, min_new_events, keys=self.gate.keys)
                    next_train = time.monotonic() + train_every_s
                version = self.registry.current()
                if (
                    version
                    and version not in self.incompatible
                    and not self.scorer.model.version.startswith(version)
                    and self.gate.should_try(version)
                ):
                    try:
                        self.swap_to(version)
                    except IncompatibleModel as exc:
                        self.incompatible.add(version)  # the model serving now keeps serving
                        log.error("not swapping to model %s: %s", version, exc)
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
