"""The Monolith-style embedding table: admission, no collisions, expiry, touched-row sync."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np
import pytest

from sovereel.feed.embedding_table import EmbeddingTable


def observe_all(table: EmbeddingTable, keys: Iterable[Hashable], now: float) -> None:
    """One sighting of each key, in order (how the learner feeds a batch of events)."""
    for key in keys:
        table.observe(key, now)


def test_id_gets_a_vector_only_after_min_count_sightings() -> None:
    table = EmbeddingTable(4, min_count=3)
    assert table.observe("v1", 0.0) is False
    assert table.observe("v1", 1.0) is False
    assert table.pending_count("v1") == 2
    assert table.get("v1") is None
    assert table.observe("v1", 2.0) is True
    assert table.get("v1") is not None
    assert table.pending_count("v1") == 0
    assert len(table) == 1
    # gradients for an id without a vector are ignored, not applied to someone else's row
    assert table.apply_gradients(["never-seen"], np.ones((1, 4))) == 0


def test_ids_that_collide_under_hashing_keep_separate_vectors() -> None:
    buckets = 2**10
    a, b = 7, 7 + buckets  # same bucket under `id % buckets`
    assert a % buckets == b % buckets
    table = EmbeddingTable(8, min_count=1, optimizer="sgd", lr=1.0)
    for key in (a, b, "7"):
        table.observe(key, 0.0)
    before_b = table.get(b)
    before_s = table.get("7")
    table.apply_gradients([a], np.ones((1, 8)))
    assert np.array_equal(table.get(b), before_b)
    assert np.array_equal(table.get("7"), before_s)  # the int 7 and the string "7" are different ids
    assert len(table) == 3
    assert len({table.rows([k])[0] for k in (a, b, "7")}) == 3


def test_initial_vectors_depend_only_on_id_and_seed() -> None:
    first = EmbeddingTable(6, seed=3)
    second = EmbeddingTable(6, seed=3)
    observe_all(first, ["x", "y"], 0.0)
    observe_all(second, ["y", "x"], 0.0)
    assert np.array_equal(first.get("x"), second.get("x"))
    other = EmbeddingTable(6, seed=4)
    other.observe("x", 0.0)
    assert not np.array_equal(first.get("x"), other.get("x"))


def test_sgd_and_adagrad_steps() -> None:
    sgd = EmbeddingTable(2, optimizer="sgd", lr=0.5, init_std=0.0)
    sgd.observe("a", 0.0)
    sgd.apply_gradients(["a", "a"], np.array([[1.0, 0.0], [1.0, 2.0]]))  # summed: one step
    assert sgd.get("a") == pytest.approx([-1.0, -1.0])
    ada = EmbeddingTable(2, optimizer="adagrad", lr=0.1, init_std=0.0)
    ada.observe("a", 0.0)
    ada.apply_gradients(["a"], np.array([[2.0, 2.0]]))
    # accumulator = mean(g^2) = 4 -> step = 0.1 / 2 per unit of gradient
    assert ada.get("a") == pytest.approx([-0.1, -0.1], rel=1e-5)
    ada.apply_gradients(["a"], np.array([[2.0, 2.0]]))
    assert ada.get("a") == pytest.approx([-0.1 - 0.2 / np.sqrt(8.0)] * 2, rel=1e-5)


def test_expiry_removes_stale_rows_and_counters_and_reuses_rows() -> None:
    table = EmbeddingTable(3, min_count=2, expire_s=100.0)
    observe_all(table, ["old", "old", "fresh", "fresh", "tail"], 0.0)
    table.observe("fresh", 150.0)
    table.apply_gradients(["fresh"], np.ones((1, 3)), now=160.0)
    gone = table.expire(now=180.0)
    assert gone == ["old"]
    assert "old" not in table and "fresh" in table
    assert table.pending_count("tail") == 0  # its counter expired too: it must start again
    observe_all(table, ["new", "new"], 181.0)
    assert len(table) == 2 and table.rows(["new"])[0] == 0  # the freed row is reused


def test_only_touched_rows_are_synced() -> None:
    table = EmbeddingTable(2, expire_s=50.0)
    observe_all(table, ["a", "b", "c"], 0.0)
    first = table.drain_touched()
    assert sorted(map(str, first.keys)) == ["a", "b", "c"]
    assert first.vectors.shape == (3, 2)
    assert table.drain_touched().keys == []  # nothing changed since
    mark = table.version
    table.apply_gradients(["b"], np.ones((1, 2)), now=60.0)
    assert table.touched_since(mark) == ["b"]
    table.expire(now=70.0)  # a and c were last seen at 0
    sync = table.drain_touched()
    assert sync.keys == ["b"]
    assert sync.vectors[0] == pytest.approx(table.get("b"))
    assert sorted(map(str, sync.deleted)) == ["a", "c"]
    assert table.drain_touched().deleted == []


def test_state_round_trip_and_nbytes_grows_with_ids() -> None:
    table = EmbeddingTable(16)
    empty = table.nbytes()
    observe_all(table, range(5000), 0.0)
    assert table.nbytes() > empty + 5000 * 16 * 4
    keys, arrays = table.state()
    copy = EmbeddingTable(16)
    copy.load_state(keys, arrays)
    assert copy.get(1234) == pytest.approx(table.get(1234))
    assert len(copy) == 5000
