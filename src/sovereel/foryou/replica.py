"""An API process's For You state in the split layout: kept in step with the region's learner process.

The process bootstraps its `Learner` from the database as every server does, then, instead of learning from raw
events, applies the learner's `foryou.delta` messages (`foryou.delta`): the ops are re-folded into the live state
and the model's counts and profiles without gradient steps, and the changed embedding rows are assigned. New
and moderated videos are still read from the database here (catalogue changes, not learning), and model
versions are still swapped in by `Learner.watch_registry`, as in every layout.
"""

from __future__ import annotations

import logging
import threading
from typing import cast

from sovereel.events.bus.interface import Message
from sovereel.events.topics import DeltaOp, ForYouDelta
from sovereel.foryou.delta import TOPIC, decode_rows
from sovereel.foryou.learner import Learner
from sovereel.foryou.live_state import Signal

log = logging.getLogger(__name__)


class DeltaReplica:
    """Applies the learner process's deltas to this process's `Learner` (see the module docstring)."""

    def __init__(self, learner: Learner) -> None:
        self.learner = learner
        self.deltas = 0
        self.gaps = 0  # deltas lost on the way (a slow or reconnecting listener); counted and logged
        self.rows_skipped = 0  # rows of another model version than the one served here
        self._source = ""
        self._part = 0
        self._lock = threading.Lock()

    def on_message(self, msg: Message) -> None:
        """The replica's bus handler: deltas, and the catalogue changes every server reads itself."""
        if msg.topic == TOPIC:
            self.apply(cast(ForYouDelta, msg.payload))
        elif msg.topic == "foryou.forget":
            with self._lock:
                self.learner.forget(str(msg.payload["user_id"]))
        elif msg.topic in ("video.ready", "video.moderated"):
            self.learner.on_message(msg)

    def apply(self, delta: ForYouDelta) -> None:
        """Apply one delta: its ops in order (each outbox message once), then its rows."""
        with self._lock:
            self._check_order(delta)
            self._apply_ops(delta["ops"])
            self._assign(delta)
            self.deltas += 1

    def _check_order(self, delta: ForYouDelta) -> None:
        if delta["learner"] != self._source:
            self._source = delta["learner"]  # a (re)started learner: its numbering starts again
        elif delta["part"] != self._part + 1:
            self.gaps += 1
            log.warning("missed For You deltas %d to %d of learner %s", self._part + 1, delta["part"] - 1, self._source)
        self._part = delta["part"]

    def _apply_ops(self, ops: list[DeltaOp]) -> None:
        learner, batch = self.learner, list[Signal]()
        current, fresh = -1, False
        for op in ops:
            if op["id"] != current:  # one outbox message's ops are consecutive and never split between parts
                current, fresh = op["id"], learner.applied_ids.first_time(op["id"])
            if not fresh:
                continue  # in what this process replayed at start, or a repeat
            if op["kind"] == "reset":
                if batch:
                    learner.apply_signals(batch, learn=False)
                    batch = []
                learner.forget(op["user_id"])
                continue
            batch.append(Signal(op["user_id"], op["video_id"], op["kind"], op["at"], op["watched_s"], op["seq"]))
        if batch:
            learner.apply_signals(batch, learn=False)

    def _assign(self, delta: ForYouDelta) -> None:
        scorer = self.learner.scorer
        with scorer.lock:
            scorer.apply_pending()
            model = scorer.model
            if delta["base_version"] != model.base_version:
                # Mid-swap: the learner or this process already serves another version. The one swapping later
                # replays the log into its new model, and the learner ships every row that replay touched.
                self.rows_skipped += len(delta["users"]["keys"]) + len(delta["items"]["keys"])
                return
            for table, rows in ((model.users, delta["users"]), (model.items, delta["items"])):
                if rows["keys"]:
                    keys, vectors = decode_rows(rows, table.dim)
                    table.assign(list[str | int](keys), vectors, 0.0)
