"""A viewer's co-signal scale kept between pages gives the features computed afresh, before and after their
profile changes, and the cache stays within its memory bound."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sovereel.feed.features import ranker_features
from sovereel.feed.model import Event, FeedModel
from sovereel.feed.viewer_stats import TOP_K_STATS, ViewerStats, entries_at, scale_of
from tests.support.golden_feed import GOLDEN_DIR, NOW


def _cols(model: FeedModel, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(len(model.catalogue.ids), 120, replace=False)[None, :]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a.view(np.uint32), b.view(np.uint32)))  # bit for bit, NaN or not


def test_kept_scales_give_the_features_computed_afresh_even_after_the_profile_changes() -> None:
    model = FeedModel.load(GOLDEN_DIR / "model")
    stats = ViewerStats()
    now = np.array([NOW])
    cols = _cols(model, 1)
    for viewer in ("u0", "u3", "nobody", None):
        afresh = ranker_features(model, [viewer], cols, now)
        assert _same(ranker_features(model, [viewer], cols, now, stats), afresh)  # computed and kept
        assert _same(ranker_features(model, [viewer], cols, now, stats), afresh)  # from what was kept

    # u0 finishes a video they had not engaged with: their profile, and so their scale, changes.
    before = ranker_features(model, ["u0"], cols, now, stats)
    new = next(c for c in range(model.co_items) if c not in model.history["u0"])
    model.observe([Event("u0", model.catalogue.ids[new], NOW, "complete", 30.0, 30.0)])
    after = ranker_features(model, ["u0"], cols, now, stats)
    assert _same(after, ranker_features(model, ["u0"], cols, now))
    assert not _same(after, before)


def test_the_cache_keeps_to_its_memory_bound() -> None:
    model = FeedModel.load(GOLDEN_DIR / "model")
    stats = ViewerStats(max_bytes=20_000)
    now = np.array([NOW])
    for u in range(40):
        ranker_features(model, [f"u{u}"], _cols(model, u), now, stats)
    assert 0 < stats.nbytes <= 20_000


def test_a_scale_from_the_sparse_product_equals_the_dense_rows_bit_for_bit() -> None:
    # Rows with few or many positive scores, negatives (EASE links can be negative), and no zeros at all.
    rng = np.random.default_rng(4)
    for n, nnz, low in ((500, 30, -1.0), (500, 300, 0.0), (150, 150, -0.2), (500, 0, 0.0), (120, 110, -2.0)):
        dense = np.zeros((1, n), dtype=np.float32)
        dense[0, rng.choice(n, nnz, replace=False)] = rng.uniform(low, 1.0, nnz).astype(np.float32)
        product = sp.csr_matrix(dense)
        scale = scale_of(sp.csr_matrix((1, 1), dtype=np.float32), sp.csr_matrix((1, n), dtype=np.float32), product)
        k = min(TOP_K_STATS, n)
        best = np.sort(np.partition(dense, n - k, axis=1)[:, -k:], axis=1)  # as features.py takes it
        assert _same(scale.mean, best.mean(axis=1, keepdims=True)) and _same(scale.std, best.std(axis=1, keepdims=True))
        assert _same(scale.top, np.maximum(dense.max(axis=1, initial=0.0), 1e-6)[:, None])
        assert _same(scale.nonzero, np.sort(dense[0][dense[0] != 0]))
        cols = rng.choice(n, 40)
        assert _same(entries_at(product, cols), dense[0, cols])
