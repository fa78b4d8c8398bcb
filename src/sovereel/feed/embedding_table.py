"""A collisionless embedding table keyed by raw ids, in the manner of ByteDance's Monolith.

Monolith (Liu et al., 2022) keeps one row per raw id instead of hashing ids into a fixed
number of buckets, so two videos never share a vector. To keep memory bounded it
(1) admits an id only after it has been seen `min_count` times — the long tail of ids
seen once never gets a vector — and (2) expires rows not seen for `expire_s` of data time.
Training touches few rows per step, and only those rows are shipped to serving:
`drain_touched()` returns exactly the rows changed since the previous drain.

The table is pure (no I/O) and single-writer; readers of a serving copy see whole rows.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Key = str | int
FloatArray = npt.NDArray[np.float32]


def stable_seed(key: Hashable, salt: int) -> int:
    """A process-independent 64-bit seed for `key` (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(f"{type(key).__name__}:{key}".encode(), digest_size=8, key=salt.to_bytes(8, "little"))
    return int.from_bytes(digest.digest(), "little")


@dataclass
class SyncBatch:
    """Rows changed since the last sync: what a serving replica must apply, nothing more."""

    keys: list[Key]
    vectors: FloatArray
    deleted: list[Key] = field(default_factory=list)
    version: int = 0


class EmbeddingTable:
    """Collisionless id -> vector table with frequency admission, expiry and touched-row sync."""

    def __init__(
        self,
        dim: int,
        *,
        min_count: int = 1,
        expire_s: float = math.inf,
        optimizer: str = "adagrad",
        lr: float = 0.05,
        init_std: float = 0.05,
        seed: int = 0,
        initial_capacity: int = 1024,
    ) -> None:
        if optimizer not in ("adagrad", "sgd"):
            raise ValueError("optimizer must be 'adagrad' or 'sgd'")
        if dim < 1 or min_count < 1:
            raise ValueError("dim and min_count must be positive")
        self.dim = dim
        self.min_count = min_count
        self.expire_s = expire_s
        self.optimizer = optimizer
        self.lr = lr
        self.init_std = init_std
        self.seed = seed
        cap = max(1, initial_capacity)
        self._vectors = np.zeros((cap, dim), dtype=np.float32)
        # Adagrad keeps one accumulator per row (not per element): half the memory, and
        # Monolith-scale sparse features rarely need per-coordinate rates.
        self._accum = np.zeros(cap, dtype=np.float32)
        self._last_seen = np.zeros(cap, dtype=np.float64)
        self._touched = np.zeros(cap, dtype=np.int64)
        self._index: dict[Key, int] = {}
        self._keys: list[Key | None] = []
        self._free: list[int] = []
        self._pending: dict[Key, tuple[int, float]] = {}  # id -> (times seen, last seen) before admission
        self._deleted: dict[Key, int] = {}
        self.version = 0
        self._synced = 0
        self.expiries = 0  # expire() passes that dropped rows: a reader of `touched_since` must re-read all then

    # -- admission -------------------------------------------------------------------
    def observe(self, key: Key, now: float) -> bool:
        """Count one sighting of `key` at data time `now`; returns True when it has a vector."""
        row = self._index.get(key)
        if row is not None:
            self._last_seen[row] = max(self._last_seen[row], now)
            return True
        seen, _ = self._pending.get(key, (0, now))
        seen += 1
        if seen < self.min_count:
            self._pending[key] = (seen, now)
            return False
        self._pending.pop(key, None)
        self._admit(key, now)
        return True

    def _admit(self, key: Key, now: float) -> int:
        row = self._free.pop() if self._free else self._append_row()
        rng = np.random.default_rng(stable_seed(key, self.seed))
        # The initial vector depends only on (id, seed), so replaying the same events in any
        # order of admission gives the same table.
        self._vectors[row] = rng.normal(0.0, self.init_std, self.dim).astype(np.float32)
        self._accum[row] = 0.0
        self._last_seen[row] = now
        self._index[key] = row
        self._keys[row] = key
        self._pending.pop(key, None)
        self._deleted.pop(key, None)
        self._touch(np.array([row]))
        return row

    def _append_row(self) -> int:
        row = len(self._keys)
        if row >= len(self._vectors):
            grow = len(self._vectors) * 2
            self._vectors = np.resize(self._vectors, (grow, self.dim))
            self._accum = np.resize(self._accum, grow)
            self._last_seen = np.resize(self._last_seen, grow)
            self._touched = np.resize(self._touched, grow)
        self._keys.append(None)
        return row

    def _touch(self, rows: npt.NDArray[np.int64]) -> None:
        self.version += 1
        self._touched[rows] = self.version

    # -- reads -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def pending_count(self, key: Key) -> int:
        """How many times a not-yet-admitted id has been seen (0 once admitted or never seen)."""
        return self._pending.get(key, (0, 0.0))[0]

    def get(self, key: Key) -> FloatArray | None:
        """A copy of the id's vector, or None when it has none."""
        row = self._index.get(key)
        return None if row is None else self._vectors[row].copy()

    def rows(self, keys: Sequence[Key]) -> npt.NDArray[np.int64]:
        """Row numbers of `keys`, -1 where an id has no vector."""
        return np.array([self._index.get(k, -1) for k in keys], dtype=np.int64)

    def lookup(self, keys: Sequence[Key]) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """Vectors of `keys` (zeros where absent) and a mask of which ids have one."""
        rows = self.rows(keys)
        present = rows >= 0
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        out[present] = self._vectors[rows[present]]
        return out, present

    def keys(self) -> list[Key]:
        """Admitted ids in row order."""
        return [k for k in self._keys if k is not None]

    def matrix(self) -> tuple[list[Key], FloatArray]:
        """Admitted ids and a copy of their vectors, aligned."""
        rows = np.array([r for r, k in enumerate(self._keys) if k is not None], dtype=np.int64)
        keys = [self._keys[r] for r in rows]
        return [k for k in keys if k is not None], self._vectors[rows].copy()

    # -- writes ----------------------------------------------------------------------
    def apply_gradients(self, keys: Sequence[Key], grads: npt.ArrayLike, now: float | None = None) -> int:
        """One optimizer step on the rows of `keys` (ids without a vector are skipped); returns rows updated."""
        g = np.asarray(grads, dtype=np.float32).reshape(len(keys), self.dim)
        rows = self.rows(keys)
        ok = rows >= 0
        if not ok.any():
            return 0
        rows, g = rows[ok], g[ok]
        # Repeated ids in one batch: sum their gradients so each row takes one step.
        uniq, inv = np.unique(rows, return_inverse=True)
        summed = np.zeros((len(uniq), self.dim), dtype=np.float32)
        np.add.at(summed, inv, g)
        if self.optimizer == "adagrad":
            self._accum[uniq] += (summed * summed).mean(axis=1)
            step = self.lr / np.sqrt(self._accum[uniq] + 1e-8)
            self._vectors[uniq] -= step[:, None] * summed
        else:
            self._vectors[uniq] -= self.lr * summed
        if now is not None:
            self._last_seen[uniq] = np.maximum(self._last_seen[uniq], now)
        self._touch(uniq)
        return len(uniq)

    def assign(self, keys: Sequence[Key], vectors: npt.ArrayLike, now: float) -> None:
        """Set the vectors of `keys`, admitting them regardless of `min_count` (batch training output)."""
        vec = np.asarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        rows = np.array([self._index[k] if k in self._index else self._admit(k, now) for k in keys], dtype=np.int64)
        self._vectors[rows] = vec
        self._last_seen[rows] = np.maximum(self._last_seen[rows], now)
        self._touch(rows)

    def expire(self, now: float) -> list[Key]:
        """Drop rows (and pending counters) unseen for longer than `expire_s`; returns the expired ids."""
        cutoff = now - self.expire_s
        gone: list[Key] = []
        for key, row in list(self._index.items()):
            if self._last_seen[row] < cutoff:
                del self._index[key]
                self._keys[row] = None
                self._vectors[row] = 0.0
                self._free.append(row)
                self.version += 1
                self._deleted[key] = self.version
                gone.append(key)
        for key, (_, seen_at) in list(self._pending.items()):
            if seen_at < cutoff:
                del self._pending[key]
        if gone:
            self.expiries += 1
        return gone

    # -- sync to serving ---------------------------------------------------------------
    def touched_since(self, version: int) -> list[Key]:
        """Ids whose vectors changed after `version` (admitted, updated or assigned)."""
        rows = np.nonzero(self._touched[: len(self._keys)] > version)[0]
        return [k for k in (self._keys[r] for r in rows) if k is not None]

    def drain_touched(self) -> SyncBatch:
        """Rows changed and ids expired since the previous drain; the next drain starts after this one."""
        keys = self.touched_since(self._synced)
        vectors = self.lookup(keys)[0]
        deleted = [k for k, v in self._deleted.items() if v > self._synced]
        self._deleted = {k: v for k, v in self._deleted.items() if v <= self._synced}
        self._synced = self.version
        return SyncBatch(keys=keys, vectors=vectors, deleted=deleted, version=self.version)

    # -- accounting ------------------------------------------------------------------
    def nbytes(self) -> int:
        """Bytes held: the arrays' allocated capacity plus the id index and its keys."""
        arrays = self._vectors.nbytes + self._accum.nbytes + self._last_seen.nbytes + self._touched.nbytes
        index = sys.getsizeof(self._index) + sys.getsizeof(self._keys) + sys.getsizeof(self._pending)
        keys = sum(sys.getsizeof(k) for k in self._index)
        pending = sum(sys.getsizeof(k) + 64 for k in self._pending)  # key + its (count, time) tuple
        return int(arrays + index + keys + pending)

    def state(self) -> tuple[list[Key], dict[str, npt.NDArray[np.generic]]]:
        """Admitted ids and their arrays (vectors, accumulators, last seen), for saving."""
        rows = np.array([r for r, k in enumerate(self._keys) if k is not None], dtype=np.int64)
        keys = [k for k in (self._keys[r] for r in rows) if k is not None]
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "vectors": self._vectors[rows].copy(),
            "accum": self._accum[rows].copy(),
            "last_seen": self._last_seen[rows].copy(),
        }
        return keys, arrays

    def load_state(self, keys: Sequence[Key], arrays: dict[str, npt.NDArray[np.generic]]) -> None:
        """Replace the table's rows with a saved state (pending counters are not persisted)."""
        n = len(keys)
        cap = max(1, n)
        self._vectors = np.zeros((cap, self.dim), dtype=np.float32)
        self._vectors[:n] = arrays["vectors"]
        self._accum = np.zeros(cap, dtype=np.float32)
        self._accum[:n] = arrays["accum"]
        self._last_seen = np.zeros(cap, dtype=np.float64)
        self._last_seen[:n] = arrays["last_seen"]
        self._touched = np.zeros(cap, dtype=np.int64)
        self._index = {k: r for r, k in enumerate(keys)}
        self._keys = list(keys)
        self._free = []
        self._pending = {}
        self._deleted = {}
        self.version = 0
        self._synced = 0
