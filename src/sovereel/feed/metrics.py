"""Top-K ranking metrics and a full-ranking evaluator, in pure numpy.

The arithmetic follows RecBole 1.2.1 (`recbole/evaluator/metrics.py`) so numbers are
comparable with its published yardsticks:

- a user's ranked list is summarised by `hits`, a boolean matrix (users x K) that is
  True where the item at that rank is one of the user's held-out items, and `n_pos`,
  how many held-out items the user has;
- Recall@K = hits in the top K / n_pos;
- Hit@K = 1 if any of the top K is a hit;
- MRR@K = 1 / rank of the first hit in the top K (0 if none);
- NDCG@K uses binary relevance; the ideal DCG sums over min(n_pos, K) positions.

Every metric is averaged over the users that have at least one held-out item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def _check(hits: BoolArray, k: int) -> BoolArray:
    if hits.ndim != 2:
        raise ValueError("hits must be a (users, ranks) matrix")
    if k < 1 or k > hits.shape[1]:
        raise ValueError(f"k={k} outside 1..{hits.shape[1]}")
    return hits[:, :k].astype(bool)


def recall_at_k(hits: BoolArray, n_pos: npt.ArrayLike, k: int) -> FloatArray:
    """Per-user Recall@K: the share of the user's held-out items found in the top K."""
    top = _check(hits, k)
    pos = np.asarray(n_pos, dtype=np.float64)
    return np.asarray(top.sum(axis=1) / np.maximum(pos, 1.0), dtype=np.float64)


def precision_at_k(hits: BoolArray, k: int) -> FloatArray:
    """Per-user Precision@K: the share of the top K that are held-out items."""
    return np.asarray(_check(hits, k).sum(axis=1) / float(k), dtype=np.float64)


def hit_at_k(hits: BoolArray, k: int) -> FloatArray:
    """Per-user Hit@K: 1.0 when any of the top K is a held-out item."""
    return np.asarray(_check(hits, k).any(axis=1), dtype=np.float64)


def mrr_at_k(hits: BoolArray, k: int) -> FloatArray:
    """Per-user MRR@K: the reciprocal rank of the first hit in the top K, 0 without one."""
    top = _check(hits, k)
    first = top.argmax(axis=1)
    found = top.any(axis=1)
    return np.where(found, 1.0 / (first + 1.0), 0.0).astype(np.float64)


def ndcg_at_k(hits: BoolArray, n_pos: npt.ArrayLike, k: int) -> FloatArray:
    """Per-user NDCG@K with binary relevance; the ideal DCG covers min(n_pos, K) ranks."""
    top = _check(hits, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    dcg = (top * discounts).sum(axis=1)
    ideal_cum = np.cumsum(discounts)
    ideal_len = np.clip(np.asarray(n_pos, dtype=np.int64), 1, k)
    return np.asarray(dcg / ideal_cum[ideal_len - 1], dtype=np.float64)


def top_k_items(scores: npt.NDArray[np.floating], k: int) -> IntArray:
    """Column indices of the k best scores per row, best first (ties broken by lower index)."""
    n_items = scores.shape[1]
    k = min(k, n_items)
    # argpartition keeps this O(items) per row; only the k survivors are sorted.
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.asarray(np.take_along_axis(part, order, axis=1), dtype=np.int64)


def hits_matrix(ranked: IntArray, truth: Sequence[npt.NDArray[np.integer]]) -> BoolArray:
    """Boolean (users x K) matrix: ranked[u, r] is one of truth[u]."""
    out = np.zeros(ranked.shape, dtype=bool)
    for row, items in enumerate(truth):
        if len(items):
            out[row] = np.isin(ranked[row], items)
    return out


def summarise(hits: BoolArray, n_pos: npt.ArrayLike, ks: Sequence[int]) -> dict[str, float]:
    """Mean of every metric at every K, keyed like RecBole: ``ndcg@10``."""
    result: dict[str, float] = {}
    for k in ks:
        result[f"recall@{k}"] = float(recall_at_k(hits, n_pos, k).mean())
        result[f"ndcg@{k}"] = float(ndcg_at_k(hits, n_pos, k).mean())
        result[f"hit@{k}"] = float(hit_at_k(hits, k).mean())
        result[f"mrr@{k}"] = float(mrr_at_k(hits, k).mean())
        result[f"precision@{k}"] = float(precision_at_k(hits, k).mean())
    return result


ScoreFn = Callable[[IntArray], npt.NDArray[np.floating]]
"""Given user indices, a (len(users) x n_items) score matrix; higher is better."""


def evaluate_full_ranking(
    score_users: ScoreFn,
    masked: Sequence[npt.NDArray[np.integer]],
    truth: Sequence[npt.NDArray[np.integer]],
    ks: Sequence[int] = (10,),
    batch_size: int = 256,
) -> dict[str, float]:
    """Rank every item for every user with held-out items, masking `masked[u]`, and average the metrics.

    `masked[u]` are the items the user already interacted with in the data the model saw
    (RecBole masks train items when validating and train+valid items when testing);
    `truth[u]` are the user's held-out items. Users without held-out items are skipped.
    """
    if len(masked) != len(truth):
        raise ValueError("masked and truth must have one entry per user")
    users = np.asarray([u for u, items in enumerate(truth) if len(items)], dtype=np.int64)
    k_max = max(ks)
    all_hits: list[BoolArray] = []
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        scores = np.array(score_users(batch), dtype=np.float64, copy=True)
        if scores.shape[0] != len(batch):
            raise ValueError("score function returned the wrong number of rows")
        for row, user in enumerate(batch):
            scores[row, np.asarray(masked[user], dtype=np.int64)] = -np.inf
        ranked = top_k_items(scores, k_max)
        all_hits.append(hits_matrix(ranked, [truth[u] for u in batch]))
    hits = np.concatenate(all_hits) if all_hits else np.zeros((0, k_max), dtype=bool)
    n_pos = np.asarray([len(truth[u]) for u in users], dtype=np.int64)
    result = summarise(hits, n_pos, ks)
    result["users"] = float(len(users))
    return result
