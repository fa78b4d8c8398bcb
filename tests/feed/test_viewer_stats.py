"""A viewer's co-signal scale kept between pages gives the features computed afresh, before and after their
profile changes, and the cache stays within its memory bound."""

from __future__ import annotations

import numpy as np

from sovereel.feed.features import ranker_features
from sovereel.feed.model import Event, FeedModel
from sovereel.feed.viewer_stats import ViewerStats
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
