"""Serving speed-ups must not change a single served page: the golden world's pages against those served before."""

from __future__ import annotations

import gzip
import json
import math
from typing import Any

import numpy as np

from sovereel.feed.model import FeedModel
from tests.support.golden_feed import GOLDEN_DIR, GoldenWorld


def _first_difference(want: Any, got: Any, where: str = "") -> str | None:
    """Where two served pages differ, or None. Ids, order, sources and words must match exactly; a float may
    differ in its last bits only: float32 kernels round differently on another CPU model (an AVX2-only EPYC gave an
    embedding score of 0.0078131407 for the golden 0.0078131109: a float32 dot product of unit vectors, whose
    rounding is about 1e-7 of the vectors' scale, not of the small result). So 1e-6 relative, or 1e-6 absolute,
    while the speed-ups this guards are bit-identical on one machine (any real change moves far more than that)."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted(set(want) | set(got)):
            found = _first_difference(want.get(key), got.get(key), f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            found = _first_difference(a, b, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(want, float) and isinstance(got, float) and math.isclose(want, got, rel_tol=1e-6, abs_tol=1e-6):
        return None
    if want == got and type(want) is type(got):
        return None
    return f"{where}: {str(want)[:200]} != {str(got)[:200]}"


def test_every_served_page_is_the_golden_one() -> None:
    world = GoldenWorld(FeedModel.load(GOLDEN_DIR / "model"))
    with gzip.open(GOLDEN_DIR / "pages.json.gz", "rt", encoding="utf-8") as f:
        golden = json.load(f)
    # Through JSON, as the golden was stored: floats round-trip exactly, tuples become lists.
    served = json.loads(json.dumps(world.pages(), sort_keys=True))
    assert sum(len(page) for pages in served.values() for page in pages) == 270
    difference = _first_difference(golden, served)
    assert difference is None, difference


def test_pages_served_again_over_the_same_world_are_the_same() -> None:
    # The caches behind serving (catalogue, model and per-viewer) must give the first answer on every later call.
    world = GoldenWorld(FeedModel.load(GOLDEN_DIR / "model"))
    first = json.dumps(world.pages(), sort_keys=True)
    assert json.dumps(world.pages(), sort_keys=True) == first


def test_a_content_hit_names_the_seed_the_pairwise_products_name_ties_included() -> None:
    from sovereel.feed.sources import _closest_seeds

    rng = np.random.default_rng(5)
    seeds = rng.normal(size=(12, 384)).astype(np.float32)
    seeds /= np.linalg.norm(seeds, axis=1, keepdims=True)
    seeds[7] = seeds[2]  # an exact tie: the earlier seed is named
    seeds[9] = seeds[4] * np.float32(1.0 + 1e-7)  # a near tie, inside the matrix product's rounding
    hits = [seeds[2].copy(), seeds[4].copy(), *rng.normal(size=(60, 384)).astype(np.float32)]
    named = [(f"s{i}", v) for i, v in enumerate(seeds)]
    want = [max(range(len(named)), key=lambda s: float(named[s][1] @ h)) for h in hits]
    assert list(_closest_seeds(named, hits)) == want
    assert want[0] == 2
