"""Ranking metrics against hand-computed values and RecBole's own arithmetic."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from sovereel.feed.metrics import (
    evaluate_full_ranking,
    hit_at_k,
    hits_matrix,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    summarise,
    top_k_items,
)

# Four users' ranked lists, top 4; True where the item is held out for the user.
HITS = np.array(
    [
        [1, 0, 1, 0],  # 3 held-out items
        [0, 0, 0, 1],  # 1 held-out item
        [0, 1, 0, 0],  # 10 held-out items: ideal DCG is capped at K ranks
        [0, 0, 0, 0],  # 2 held-out items, none found
    ],
    dtype=bool,
)
N_POS = np.array([3, 1, 10, 2])


def test_recall_by_hand() -> None:
    assert recall_at_k(HITS, N_POS, 4) == pytest.approx([2 / 3, 1.0, 0.1, 0.0])
    assert recall_at_k(HITS, N_POS, 1) == pytest.approx([1 / 3, 0.0, 0.0, 0.0])


def test_ndcg_by_hand() -> None:
    # user 0: DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal over 3 ranks = 1 + 1/log2(3) + 1/2.
    ideal3 = 1 + 1 / math.log2(3) + 0.5
    ideal4 = ideal3 + 1 / math.log2(5)
    expected = [1.5 / ideal3, (1 / math.log2(5)) / 1.0, (1 / math.log2(3)) / ideal4, 0.0]
    assert ndcg_at_k(HITS, N_POS, 4) == pytest.approx(expected)
    assert ndcg_at_k(HITS, N_POS, 4)[0] == pytest.approx(0.703918, abs=1e-6)


def test_hit_mrr_precision_by_hand() -> None:
    assert hit_at_k(HITS, 4) == pytest.approx([1, 1, 1, 0])
    assert hit_at_k(HITS, 3) == pytest.approx([1, 0, 1, 0])
    assert mrr_at_k(HITS, 4) == pytest.approx([1.0, 0.25, 0.5, 0.0])
    assert mrr_at_k(HITS, 3) == pytest.approx([1.0, 0.0, 0.5, 0.0])
    assert precision_at_k(HITS, 4) == pytest.approx([0.5, 0.25, 0.25, 0.0])


def _recbole_ndcg(pos_index: npt.NDArray[np.bool_], pos_len: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    # A literal transcription of RecBole 1.2.1 NDCG.metric_info, to pin our vectorised form to it.
    len_rank = np.full_like(pos_len, pos_index.shape[1])
    idcg_len = np.where(pos_len > len_rank, len_rank, pos_len)
    iranks = np.zeros_like(pos_index, dtype=np.float64)
    iranks[:, :] = np.arange(1, pos_index.shape[1] + 1)
    idcg = np.cumsum(1.0 / np.log2(iranks + 1), axis=1)
    for row, idx in enumerate(idcg_len):
        idcg[row, idx:] = idcg[row, idx - 1]
    ranks = np.zeros_like(pos_index, dtype=np.float64)
    ranks[:, :] = np.arange(1, pos_index.shape[1] + 1)
    dcg = np.cumsum(np.where(pos_index, 1.0 / np.log2(ranks + 1), 0), axis=1)
    return np.asarray((dcg / idcg)[:, -1], dtype=np.float64)


def test_ndcg_matches_recbole_on_random_lists() -> None:
    rng = np.random.default_rng(7)
    hits = rng.random((200, 10)) < 0.2
    n_pos = np.maximum(hits.sum(axis=1), rng.integers(1, 15, size=200))
    assert ndcg_at_k(hits, n_pos, 10) == pytest.approx(_recbole_ndcg(hits, n_pos))


def test_k_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        ndcg_at_k(HITS, N_POS, 5)
    with pytest.raises(ValueError):
        hit_at_k(HITS, 0)


def test_top_k_items_orders_best_first_and_breaks_ties_by_index() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.9, -1.0], [3.0, 2.0, 1.0, 0.0, 4.0]])
    assert top_k_items(scores, 3).tolist() == [[1, 3, 2], [4, 0, 1]]


def test_summarise_keys_and_means() -> None:
    result = summarise(HITS, N_POS, [2, 4])
    assert result["hit@4"] == pytest.approx(0.75)
    assert result["recall@2"] == pytest.approx((1 / 3 + 1 / 10) / 4)
    assert set(result) == {f"{m}@{k}" for m in ("recall", "ndcg", "hit", "mrr", "precision") for k in (2, 4)}


def test_full_ranking_masks_seen_items_and_skips_users_without_truth() -> None:
    # 3 users x 5 items; user 2 has nothing held out and must not count.
    table = np.array(
        [
            [5.0, 4.0, 3.0, 2.0, 1.0],
            [1.0, 2.0, 3.0, 4.0, 5.0],
            [1.0, 1.0, 1.0, 1.0, 1.0],
        ]
    )

    def score(users: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return table[users]

    masked = [np.array([0]), np.array([4, 3]), np.array([], dtype=np.int64)]
    truth = [np.array([2]), np.array([0]), np.array([], dtype=np.int64)]
    # user 0 ranks [1, 2, 3] after masking item 0: hit at rank 2; user 1 ranks [2, 1, 0]: hit at rank 3.
    result = evaluate_full_ranking(score, masked, truth, ks=(1, 3), batch_size=1)
    assert result["users"] == 2
    assert result["hit@1"] == 0.0
    assert result["hit@3"] == 1.0
    assert result["mrr@3"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert result["ndcg@3"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 2)
    # without the mask, user 0's held-out item 2 drops to rank 3 behind the seen item 0
    unmasked = evaluate_full_ranking(score, [np.array([], dtype=np.int64)] * 3, truth, ks=(1,))
    assert unmasked["hit@1"] == 0.0


def test_hits_matrix_marks_held_out_items() -> None:
    ranked = np.array([[3, 1, 2], [0, 4, 5]])
    assert hits_matrix(ranked, [np.array([2, 3]), np.array([9])]).tolist() == [
        [True, False, True],
        [False, False, False],
    ]
