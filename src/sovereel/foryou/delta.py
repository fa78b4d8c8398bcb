"""The learner process's side of the split layout: what it applied, broadcast as `foryou.delta` messages.

One learner per region applies every event once (`Learner.on_message`: live state, counts, gradient steps); every
`interval` it sends what serving needs to follow it, in the manner of Monolith's parameter sync from training
workers to serving: the ops it applied, in order (signals and profile resets, each with its outbox id, which the
servers re-fold into their live state and profiles: plain counting, no learning), and the embedding rows those
steps changed (`EmbeddingTable.drain_touched`), which servers assign instead of repeating the steps. Shipping the
signals is cheaper and exact where shipping the learner's derived state is not: trending buckets, co-engagement
and profiles are keyed by catalogue columns and day counters that differ from process to process.
"""

from __future__ import annotations

import base64
import threading
import uuid
from typing import Any

import numpy as np

from sovereel.events.bus.interface import Bus, Message
from sovereel.events.live import broadcast
from sovereel.events.topics import DeltaOp, ForYouDelta, RowBatch
from sovereel.feed.embedding_table import SyncBatch
from sovereel.foryou.learner import Learner
from sovereel.foryou.live_state import Signal

TOPIC = "foryou.delta"
# One core NATS message carries at most 1 MiB by default. A part holds about 250 kB of ops (~170 bytes of JSON
# each) and 250 kB of rows of each table (a row of `dim` floats is dim * 16/3 bytes of base64, plus its id), so it
# stays well under that. A model swap's first delta (every row the replay touched) is cut into several parts.
MAX_OPS = 1500
PART_ROW_BYTES = 250_000


def rows_per_part(dim: int) -> int:
    """How many rows of `dim` floats one part carries per table."""
    return max(1, PART_ROW_BYTES // (dim * 16 // 3 + 40))


def encode_rows(keys: list[str], vectors: Any) -> RowBatch:
    """Rows as JSON-ready text: ids and base64 little-endian float32."""
    data = np.ascontiguousarray(vectors, dtype="<f4").tobytes() if keys else b""
    return {"keys": keys, "vectors": base64.b64encode(data).decode("ascii")}


def decode_rows(batch: RowBatch, dim: int) -> tuple[list[str], Any]:
    """The ids and a (len(keys), dim) float32 array; ValueError when the sizes disagree."""
    keys = [str(k) for k in batch["keys"]]
    flat = np.frombuffer(base64.b64decode(batch["vectors"]), dtype="<f4")
    if flat.size != len(keys) * dim:
        raise ValueError(f"{len(keys)} rows of {dim} floats expected, got {flat.size} floats")
    return keys, flat.reshape(len(keys), dim)


def _op(message_id: int, kind: str, user_id: str, sig: Signal | None) -> DeltaOp:
    return {
        "id": message_id,
        "kind": kind,
        "user_id": user_id,
        "video_id": sig.video_id if sig else "",
        "at": sig.at if sig else 0.0,
        "watched_s": sig.watched_s if sig else None,
        "seq": sig.seq if sig else None,
    }


def _chunks(ops: list[DeltaOp]) -> list[list[DeltaOp]]:
    """Ops cut into parts of about MAX_OPS, never between two ops of one message (a replica deduplicates by
    message id, so a message's ops must arrive together)."""
    parts: list[list[DeltaOp]] = [[]]
    for i, op in enumerate(ops):
        if len(parts[-1]) >= MAX_OPS and op["id"] != ops[i - 1]["id"]:
            parts.append([])
        parts[-1].append(op)
    return parts


class DeltaPublisher:
    """Collects what the learner applies (it is the learner's `applied` listener) and broadcasts it on `flush`."""

    def __init__(self, learner: Learner, bus: Bus) -> None:
        self.learner = learner
        self.bus = bus
        self.instance = uuid.uuid4().hex[:12]  # a restarted learner numbers its parts afresh
        self.part = 0
        self._ops: list[DeltaOp] = []
        self._oldest = 0.0  # commit time of the oldest event in `_ops`: the servers' lag is measured from it
        self._lock = threading.Lock()
        self.waiting = threading.Event()  # set when ops wait to be sent: the process sends at once when idle
        learner.applied = self

    def signals(self, msg: Message, signals: list[Signal]) -> None:
        with self._lock:
            self._ops.extend(_op(msg.id, s.kind, s.user_id, s) for s in signals)
            self._oldest = min(self._oldest or msg.created_at, msg.created_at)
        self.waiting.set()

    def reset(self, msg: Message, user_id: str) -> None:
        with self._lock:
            self._ops.append(_op(msg.id, "reset", user_id, None))
            self._oldest = min(self._oldest or msg.created_at, msg.created_at)
        self.waiting.set()

    def flush(self) -> int:
        """Broadcast what was applied since the last flush; returns the number of parts sent (0 when idle)."""
        with self._lock:
            ops, self._ops = self._ops, []
            oldest, self._oldest = self._oldest, 0.0
            self.waiting.clear()
        # Ops first, then rows: every op taken here was applied (its steps queued) before it was recorded, so
        # the rows drained below include its steps.
        scorer = self.learner.scorer
        with scorer.lock:
            scorer.apply_pending()
            users, items = scorer.model.users.drain_touched(), scorer.model.items.drain_touched()
            base = scorer.model.base_version
        if not ops and not users.keys and not items.keys:
            return 0
        op_parts = _chunks(ops) if ops else []
        user_parts, item_parts = _row_parts(users), _row_parts(items)
        n = max(len(op_parts), len(user_parts), len(item_parts))
        empty = encode_rows([], None)
        for k in range(n):
            self.part += 1
            delta: ForYouDelta = {
                "learner": self.instance,
                "part": self.part,
                "base_version": base,
                "ops": op_parts[k] if k < len(op_parts) else [],
                "users": user_parts[k] if k < len(user_parts) else empty,
                "items": item_parts[k] if k < len(item_parts) else empty,
            }
            broadcast(self.bus, TOPIC, delta, number=self.part, created_at=oldest)
        return n


def _row_parts(batch: SyncBatch) -> list[RowBatch]:
    keys = [str(k) for k in batch.keys]
    step = rows_per_part(int(batch.vectors.shape[1]) if batch.vectors.ndim == 2 else 1)
    return [encode_rows(keys[a : a + step], batch.vectors[a : a + step]) for a in range(0, len(keys), step)]
