"""The served model on a tiny synthetic world: Scorer contract, online learning, determinism, persistence, D2Q."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from sovereel.feed.catalogue import quantile_table, watch_quantile
from sovereel.feed.interface import TASKS, VideoInfo
from sovereel.feed.model import Event, FeedModel, ModelConfig

TOPICS = ("cooking", "football", "jazz")
SMALL = ModelConfig(
    dim=8, neighbours=30, candidates=20, slices=4, folds=2, hidden=16, epochs=5, lr=3e-3, batch_lists=16
)


def world(seed: int = 0) -> tuple[list[VideoInfo], list[Event]]:
    """60 videos in 3 topics by 6 creators; 40 users who each finish videos of one topic and skip the others."""
    rng = np.random.default_rng(seed)
    videos = [
        VideoInfo(
            id=f"v{i}",
            creator_id=f"c{i % 6}",
            created_at=1000.0 + i,
            duration_s=float(10 + 20 * (i % 4)),
            hashtags=(TOPICS[i % 3],),
        )
        for i in range(60)
    ]
    events: list[Event] = []
    t = 10_000.0
    for u in range(40):
        topic = u % 3
        for i in rng.permutation(60)[:25]:
            v = videos[int(i)]
            t += 30.0
            events.append(Event(f"u{u}", v.id, t, "impression", 0.0, v.duration_s))
            if int(i) % 3 == topic:
                events.append(Event(f"u{u}", v.id, t + 1, "complete", v.duration_s, v.duration_s))
                if rng.random() < 0.3:
                    events.append(Event(f"u{u}", v.id, t + 2, "like", v.duration_s, v.duration_s))
            else:
                events.append(Event(f"u{u}", v.id, t + 1, "skip", 1.0, v.duration_s))
    return videos, events


@pytest.fixture(scope="module")
def trained() -> tuple[FeedModel, list[VideoInfo], list[Event]]:
    torch.set_num_threads(1)
    videos, events = world()
    model = FeedModel(SMALL)
    model.fit(events, videos)
    return model, videos, events


def test_event_kind_is_checked() -> None:
    with pytest.raises(ValueError):
        Event("u", "v", 0.0, "superlike")


def test_predict_follows_the_scorer_contract(trained: tuple[FeedModel, list[VideoInfo], list[Event]]) -> None:
    model, videos, _ = trained
    out = model.predict("u0", videos[:7], now=20_000.0)
    assert set(out) == set(TASKS)
    for task in TASKS:
        assert out[task].shape == (7,)
        assert np.all((out[task] > 0) & (out[task] < 1))
    assert model.predict("u0", [], 0.0)["like"].shape == (0,)
    # a signed-out viewer and a never-seen video still get finite scores
    stranger = VideoInfo(id="new", creator_id="c9", created_at=19_000.0, duration_s=12.0, hashtags=("jazz",))
    cold = model.predict(None, [stranger, videos[0]], now=20_000.0)
    assert np.all(np.isfinite(cold["complete"]))
    vec = model.user_vector("u0")
    assert vec is not None and vec.dtype == np.float32 and vec.shape == (SMALL.dim,)
    assert model.user_vector(None) is None and model.user_vector("nobody") is None
    ids, mat = model.item_vectors()
    assert len(ids) == mat.shape[0] and mat.shape[1] == SMALL.dim
    assert model.item_vectors()[1] is mat  # unchanged model: the same objects, so the ANN index skips a rebuild


def test_learns_each_users_topic(trained: tuple[FeedModel, list[VideoInfo], list[Event]]) -> None:
    model, videos, events = trained
    seen = {(e.user_id, e.video_id) for e in events}
    wins = 0
    for u in range(0, 40, 4):
        unseen = [v for v in videos if (f"u{u}", v.id) not in seen]
        scores = model.predict(f"u{u}", unseen, now=20_000.0)["complete"]
        mine = np.array([v.hashtags[0] == TOPICS[u % 3] for v in unseen])
        wins += int(scores[mine].mean() > scores[~mine].mean())
    assert wins >= 9


def test_predictions_are_deterministic_and_independent_of_the_batch(
    trained: tuple[FeedModel, list[VideoInfo], list[Event]],
) -> None:
    model, videos, events = trained
    first = model.predict("u3", videos[:10], now=20_000.0)
    again = model.predict("u3", videos[:10], now=20_000.0)
    alone = model.predict("u3", videos[4:5], now=20_000.0)
    for task in TASKS:
        assert np.array_equal(first[task], again[task])
        assert alone[task][0] == pytest.approx(first[task][4], abs=1e-6)
    twin = FeedModel(SMALL)
    twin.fit(events, videos)
    assert twin.version == model.version
    assert np.allclose(twin.predict("u3", videos[:10], 20_000.0)["complete"], first["complete"], atol=1e-6)


def test_a_like_changes_the_next_predictions_within_a_second(tmp_path: Path) -> None:
    videos, events = world(1)
    model = FeedModel(SMALL)
    model.fit(events, videos)
    version = model.version
    user = "u0"  # a cooking fan; now they like a jazz video
    jazz = [v for v in videos if v.hashtags == ("jazz",)]
    before = model.predict(user, jazz, now=30_000.0)["complete"]
    vec_before = model.user_vector(user)
    start = time.perf_counter()
    model.observe([Event(user, jazz[0].id, 30_000.0, "like", jazz[0].duration_s, jazz[0].duration_s)])
    after = model.predict(user, jazz, now=30_000.0)["complete"]
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0
    assert model.version != version  # the serving index must notice the moved vectors
    assert jazz[0].id in {model.catalogue.ids[c] for c in model.history[user]}
    assert not np.array_equal(model.user_vector(user), vec_before)
    assert not np.allclose(after, before)

    # Other jazz videos rise with the like: on average in log-odds (a mean of probabilities this small is the
    # largest one's alone).
    def log_odds(p: np.ndarray) -> float:
        q = np.clip(p.astype(np.float64), 1e-30, 1 - 1e-12)
        return float(np.mean(np.log(q) - np.log1p(-q)))

    assert log_odds(after[1:]) > log_odds(before[1:])


def test_save_and_load_round_trip(trained: tuple[FeedModel, list[VideoInfo], list[Event]], tmp_path: Path) -> None:
    model, videos, _ = trained
    manifest = model.save(tmp_path / "v1")
    loaded = FeedModel.load(tmp_path / "v1")
    assert loaded.version == model.version
    for task in TASKS:
        assert np.array_equal(
            loaded.predict("u5", videos[:9], 20_000.0)[task], model.predict("u5", videos[:9], 20_000.0)[task]
        )
    text = manifest.read_text()
    for key in ("events_sha256", "data_range", "parent_version", "code_version", "config", "metrics"):
        assert key in text
    arrays = tmp_path / "v1" / "model.safetensors"
    arrays.write_bytes(arrays.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ValueError):
        FeedModel.load(tmp_path / "v1")


def test_online_replay_is_deterministic(
    trained: tuple[FeedModel, list[VideoInfo], list[Event]], tmp_path: Path
) -> None:
    model, videos, _ = trained
    model.save(tmp_path / "base")
    a, b = FeedModel.load(tmp_path / "base"), FeedModel.load(tmp_path / "base")
    more = [Event("u7", videos[i].id, 40_000.0 + i, "complete", 5.0, videos[i].duration_s) for i in range(0, 30, 3)]
    a.observe(more)
    b.observe(more)
    assert a.version == b.version
    assert np.array_equal(a.predict("u7", videos, 41_000.0)["like"], b.predict("u7", videos, 41_000.0)["like"])


def test_watch_time_label_is_debiased_for_length() -> None:
    edges = (15.0, 60.0)
    rng = np.random.default_rng(0)
    durations = np.r_[np.full(500, 10.0), np.full(500, 120.0)]
    watched = np.r_[rng.uniform(0, 10, 500), rng.uniform(0, 120, 500)]
    table = quantile_table(durations, watched, edges)
    # 9 s is a near-complete watch of a 10 s video but a quick exit from a 2-minute one
    assert watch_quantile(table, edges, 10.0, 9.0) > 0.85
    assert watch_quantile(table, edges, 120.0, 9.0) < 0.15
    # the same relative watch gets the same label whatever the length
    assert watch_quantile(table, edges, 10.0, 5.0) == pytest.approx(watch_quantile(table, edges, 120.0, 60.0), abs=0.06)


def test_autoplay_and_short_watches_are_not_engagement_but_half_a_video_is() -> None:
    videos, _ = world()
    model = FeedModel(SMALL)
    model.describe(videos)
    glimpsed, half_watched, skipped = videos[1], videos[2], videos[3]  # 30 s, 50 s and 70 s long
    model.observe(
        [
            Event("viewer", glimpsed.id, 1.0, "play", 0.0, glimpsed.duration_s),  # every feed video autoplays
            Event("viewer", glimpsed.id, 2.0, "progress", 5.0, glimpsed.duration_s),  # a sixth of it
            Event("viewer", half_watched.id, 3.0, "progress", 30.0, half_watched.duration_s),  # more than half
            Event("viewer", skipped.id, 4.0, "skip", 2.0, skipped.duration_s),  # swiped away at once
        ]
    )
    engaged = {model.catalogue.ids[c] for c in model.history["viewer"]}
    assert engaged == {half_watched.id}


def test_an_untrained_model_ranks_by_the_viewers_hashtags_not_at_random() -> None:
    videos, _ = world()
    model = FeedModel(SMALL)
    model.describe(videos)
    cooking = [v for v in videos if v.hashtags == ("cooking",)]
    model.observe(
        [Event("fan", v.id, 10.0 + i, "complete", v.duration_s, v.duration_s) for i, v in enumerate(cooking[:3])]
    )
    rest = [v for v in videos if v not in cooking[:3]]
    scores = model.predict("fan", rest, now=100.0)["complete"]
    is_cooking = np.array([v.hashtags == ("cooking",) for v in rest])
    assert scores[is_cooking].min() > scores[~is_cooking].max()


def test_each_head_is_calibrated_to_its_label_rate_without_reordering() -> None:
    from sovereel.feed.features import FEATURES
    from sovereel.feed.ranker_fit import RankerLists, calibrate_heads
    from sovereel.feed.ranker_net import RankerNet

    rng = np.random.default_rng(3)
    feats = rng.standard_normal((200, 20, len(FEATURES))).astype(np.float32)
    targets = np.zeros((200, 20, len(TASKS)), dtype=np.float32)
    targets[:, :5, 0] = 1.0  # a frequent action: a quarter of the candidates
    targets[:3, 0, 5] = 1.0  # a rare one: 3 in 4,000
    net = RankerNet(len(FEATURES), 8, 0.0, 1, 0).eval()
    with torch.no_grad():
        before = net(torch.from_numpy(feats[:1]))[0]
    calibrate_heads(net, RankerLists(feats, targets))
    with torch.no_grad():
        probs = torch.sigmoid(net(torch.from_numpy(feats))).numpy()
        after = net(torch.from_numpy(feats[:1]))[0]
    assert probs[..., 0].mean() == pytest.approx(0.25, abs=1e-3)
    assert probs[..., 5].mean() == pytest.approx(3 / 4000, rel=0.02)
    for t in range(len(TASKS)):  # an offset per task: the order of candidates within a task is unchanged
        assert torch.equal(torch.argsort(before[:, t]), torch.argsort(after[:, t]))


def test_sequence_co_engagement_weights_neighbours_in_watch_order() -> None:
    from sovereel.feed.cooccurrence import sequence_matrix

    # Two viewers watch 0, 1, 2, 3 in that order (timestamps shuffled in the input); a third watches only 4.
    users = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2], dtype=np.int64)
    cols = np.array([2, 0, 3, 1, 1, 3, 0, 2, 4], dtype=np.int64)
    ts = np.array([3.0, 1.0, 4.0, 2.0, 2.0, 4.0, 1.0, 3.0, 9.0])
    m = sequence_matrix(users, cols, ts, n_items=5, window=2, k=10).toarray()
    assert np.allclose(m, m.T)
    assert m[0, 1] > m[0, 2] > 0.0  # one position apart counts more than two
    assert m[0, 3] == 0.0  # beyond the window
    assert m[4].sum() == 0.0 and np.all(np.diag(m) == 0.0)
    assert sequence_matrix(users[:0], cols[:0], ts[:0], n_items=3, window=2, k=10).nnz == 0


def test_order_and_burst_signals_train_save_and_serve_new_users(tmp_path: Path) -> None:
    from dataclasses import replace

    from sovereel.feed.features import FEATURES

    videos, events = world(2)
    model = FeedModel(replace(SMALL, burst_gap_s=60.0, order_windows=(2, 5, 10)))
    model.fit(events, videos)
    assert {"burst", "order_near", "order", "order_far"} <= set(model.co)
    loaded = FeedModel.load(model.save(tmp_path / "v").parent)
    cols = np.arange(12, dtype=np.int64)[None, :]
    feats = loaded.features(["u3"], cols, np.array([20_000.0]))[0]
    assert np.array_equal(feats, model.features(["u3"], cols, np.array([20_000.0]))[0])
    assert np.abs(feats[:, FEATURES.index("co_order")]).sum() > 0
    for user in (None, "somebody-new"):  # no history: the order and burst features are zero, predictions finite
        new = loaded.features([user], cols, np.array([20_000.0]))[0]
        assert not new[:, FEATURES.index("co_order")].any() and not new[:, FEATURES.index("co_burst")].any()
        assert all(np.isfinite(p).all() for p in loaded.predict(user, videos[:5], 20_000.0).values())
    loaded.observe([Event("somebody-new", videos[0].id, 20_000.0, "like", 10.0, 10.0)])
    after = loaded.features(["somebody-new"], cols, np.array([20_000.0]))[0]
    assert np.abs(after[:, FEATURES.index("co_order")]).sum() > 0  # the like reaches the order signal at once


def test_gfcf_filter_follows_its_definition() -> None:
    import scipy.sparse as sp

    from sovereel.feed.cooccurrence import gfcf_matrix

    r = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1], [1, 0, 0]], dtype=np.float64)
    got = gfcf_matrix(sp.csr_matrix(r * 2.0), k=1, alpha=0.5, neighbours=10, seed=0).toarray()  # weights count as 1
    du, di = r.sum(axis=1), r.sum(axis=0)
    norm = r / np.sqrt(du)[:, None] / np.sqrt(di)[None, :]
    v = np.linalg.svd(norm)[2][:1]
    want = norm.T @ norm + 0.5 * np.diag(di**-0.5) @ v.T @ v @ np.diag(di**0.5)
    assert np.allclose(got, want, atol=1e-5)


def test_history_links_to_a_candidate_are_aggregated_one_by_one() -> None:
    import scipy.sparse as sp

    from sovereel.feed.features import FEATURES

    model = FeedModel(SMALL)
    model.describe([VideoInfo(id=f"v{i}", creator_id="c", created_at=0.0, duration_s=10.0) for i in range(4)])
    # Links from the viewer's three videos (0, 1, 2) to video 3: 0.5, -0.2 and 0.9; none to video 0.
    model.co = {"ease": sp.csr_matrix(np.array([[0, 0, 0, 0.5], [0, 0, 0, -0.2], [0, 0, 0, 0.9], [0, 0, 0, 0]]))}
    model.co_items = 4
    model.history = {"u": {0: 1.0, 1: 1.0, 2: 1.0}}
    feats = model.features(["u"], np.array([[3, 0]]), np.array([0.0]))[0]
    got = {s: feats[:, FEATURES.index(f"agg_ease_{s}")] for s in ("max", "top3", "npos")}
    assert np.allclose(got["max"], [0.9, 0.0])
    assert np.allclose(got["top3"], [(0.9 + 0.5 - 0.2) / 3, 0.0])
    assert np.allclose(got["npos"], [np.log1p(2), 0.0])
    assert not feats[:, FEATURES.index("agg_burst_max")].any()  # not fitted: zero
