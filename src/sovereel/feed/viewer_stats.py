"""One viewer's co-engagement scale, kept between pages: the whole-catalogue part of the co signals' features.

Each co signal's scale-free features compare a candidate's score with the viewer's own scores over the whole
catalogue (their maximum, the mean and spread of the best `TOP_K_STATS`, how many items score higher). Every item
the viewer's profile does not reach scores 0, so the summary is made from the sparse product alone (`scale_of`):
its cost follows the profile's rows of the matrices, not the catalogue. It depends only on the viewer's profile
and the model's matrices, so `ViewerStats` keeps
its summary under exactly those (the profile's columns and values, the matrices by identity); a later page of an
unchanged profile then scores only its candidates. A new engagement, an online step that changes the profile, or
a refit (new matrices) is a different key: the summary is computed afresh, the same floats as without the cache.

Pure in effect: a summary is a function of its key; the cache only saves recomputing it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
TOP_K_STATS = 100  # a user's score scale is summarised over their best this-many items
CACHE_BYTES = 64 * 2**20  # summaries kept (sorted non-zero scores are most of it), least recently used dropped


@dataclass(frozen=True)
class SignalScale:
    """One signal's scores for one viewer: how to score any column, and their scale over the whole catalogue."""

    weights: sp.csr_matrix  # 1 x K: the viewer's profile (or neighbour similarities) the scores are a product of
    matrix: sp.csr_matrix  # K x items
    top: FloatArray  # (1, 1): the highest score, at least 1e-6
    mean: FloatArray  # (1, 1): the mean of the best TOP_K_STATS
    std: FloatArray  # (1, 1): and their standard deviation
    nonzero: FloatArray  # every non-zero score, sorted
    n_cols: int

    @property
    def nbytes(self) -> int:
        """Memory held beyond the model's own matrices."""
        return int(self.nonzero.nbytes + self.weights.data.nbytes + self.weights.indices.nbytes)


def scale_of(weights: sp.csr_matrix, matrix: sp.csr_matrix, product: sp.csr_matrix) -> SignalScale:
    """The scale of one viewer's scores, from their product (1 x items, weights @ matrix) kept sparse."""
    # From the product's stored entries only: every other item scores 0. The same values as features.py takes
    # from the dense row: the same maximum, the same sorted non-zero scores, and the best k in ascending order.
    n_cols = product.shape[1]
    product.sum_duplicates()
    data = product.data
    nonzero = np.sort(data[data != 0])
    row = nonzero[None, :]
    top = np.maximum(row.max(axis=1, initial=0.0), 1e-6)[:, None]
    best = _best(nonzero, n_cols - len(nonzero), min(TOP_K_STATS, n_cols))[None, :]
    mean, std = best.mean(axis=1, keepdims=True), best.std(axis=1, keepdims=True)
    return SignalScale(weights, matrix, top, mean, std, nonzero, n_cols)


def _best(nonzero: FloatArray, zeros: int, k: int) -> FloatArray:
    # The k largest of a row made of the sorted `nonzero` and `zeros` zeros, ascending: the positive tail, then
    # zeros, then the largest negatives, as far as k needs.
    split = int(np.searchsorted(nonzero, 0.0, side="right"))
    positive, negative = nonzero[split:], nonzero[:split]
    need = k - min(k, len(positive))
    from_zeros = min(need, zeros)
    from_negative = need - from_zeros
    parts = [
        negative[len(negative) - from_negative :] if from_negative else negative[:0],
        np.zeros(from_zeros, dtype=nonzero.dtype),
        positive[len(positive) - (k - need) :] if k - need else positive[:0],
    ]
    out: FloatArray = np.concatenate(parts)
    return out


def entries_at(product: sp.csr_matrix, cols: IntArray) -> FloatArray:
    """A sparse 1 x items product's values at these columns (0 where it stores none), as the dense row has them."""
    product.sum_duplicates()  # sorted columns, one entry each
    indices = product.indices
    out: FloatArray = np.zeros(len(cols), dtype=np.float32)
    if len(indices):
        pos = np.minimum(np.searchsorted(indices, cols), len(indices) - 1)
        hit = indices[pos] == cols
        out[hit] = product.data[pos[hit]]
    return out


def scores_at(scale: SignalScale, cols: IntArray) -> FloatArray:
    """The viewer's scores at these columns, equal to the whole product's entries there bit for bit."""
    # Only the profile's rows and the candidates' columns of the matrix: sparse products add each output's
    # terms in the order of the left row's stored entries, and that order is kept here, so every sum rounds
    # as it does in the whole product.
    w = scale.weights
    rows = w.indices[w.indptr[0] : w.indptr[1]]
    values = w.data[w.indptr[0] : w.indptr[1]]
    left = sp.csr_matrix((values, np.arange(len(rows)), [0, len(rows)]), shape=(1, len(rows)))
    right = scale.matrix[rows][:, cols]
    out: FloatArray = np.asarray((left @ right).todense(), dtype=np.float32)[0]
    return out


def ranks_of(scale: SignalScale, raw: npt.NDArray[np.floating]) -> FloatArray:
    """How many catalogue items score strictly higher than each of `raw` (as features._ranks_of counts)."""
    above = len(scale.nonzero) - np.searchsorted(scale.nonzero, raw, side="right")
    zeros = scale.n_cols - len(scale.nonzero)
    out = np.zeros(raw.shape, dtype=np.float32)
    out[:] = above + np.where(raw < 0, zeros, 0)
    return out


class ViewerStats:
    """Per (viewer, profile, model matrices), each co signal's `SignalScale`; least recently used dropped."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], dict[str, SignalScale | None]]] = (
            OrderedDict()
        )
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Memory held by the kept scales."""
        return self._bytes

    def get(self, key: tuple[Any, ...], held: tuple[Any, ...]) -> dict[str, SignalScale | None] | None:
        """The scales kept under `key`, if the objects `held` (compared by identity) are those it was made with."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or len(entry[0]) != len(held):
                return None
            if any(a is not b for a, b in zip(entry[0], held, strict=True)):
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: tuple[Any, ...], held: tuple[Any, ...], scales: dict[str, SignalScale | None]) -> None:
        """Keep scales under `key`; `held` are the model objects they came from (kept alive with them, so an
        id in the key is never another object's)."""
        size = sum(s.nbytes for s in scales.values() if s is not None)
        if size > self._max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= sum(s.nbytes for s in old[1].values() if s is not None)
            self._entries[key] = (held, scales)
            self._bytes += size
            while self._bytes > self._max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= sum(s.nbytes for s in dropped.values() if s is not None)
