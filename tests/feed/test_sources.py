"""Candidate sources, the item ANN index and the text embedders, on small hand-built worlds."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from sovereel.feed.indexes import ContentIndex, ItemIndex
from sovereel.feed.interface import CandidateWorld, Engagement, EngagementBucket, ExposureStats, VideoInfo
from sovereel.feed.params import ExplorationParams, FollowingParams, HistoryParams, IndexParams, TrendingParams
from sovereel.feed.pools import exploration_candidates, pool_state
from sovereel.feed.sources import (
    RegionMemo,
    SourceHit,
    co_engagement_candidates,
    content_candidates,
    embedding_candidates,
    following_candidates,
    history_seeds,
)
from sovereel.feed.text_embed import HashingTextEmbedder, WordPieceTokenizer, load_minilm, minilm_model_dir
from sovereel.feed.trending import trending_candidates
from tests.support.feed import DAY, NOW, build_co_engagement, video

SMALL = IndexParams(hnsw_threshold=1000, hnsw_m=16, ef_construction=80, ef_search=64)
POOLS = ExplorationParams(
    share=0.1,
    max_age_s=7 * DAY,
    pool_sizes=(100, 400),
    min_completion_rate=(0.3, 0.4),
    min_engagement_rate=(0.05, 0.05),
)
HISTORY = HistoryParams(seed_count=5, half_life_s=DAY, kind_weights={"complete": 1.0, "like": 2.0})


def _ids(hits: list[SourceHit]) -> list[str]:
    return [h.video_id for h in hits]


def _world(*videos: VideoInfo, **kw: Any) -> CandidateWorld:
    return CandidateWorld(videos={v.id: v for v in videos}, **kw)


# --- item index and embedding retrieval -----------------------------------------------------------------------------


def test_embedding_source_returns_the_items_closest_to_the_user_vector() -> None:
    index = ItemIndex(SMALL)
    index.sync(["cook", "skate", "cats"], np.array([[1, 0, 0], [0, 1, 0], [0.7, 0, 0.7]], dtype=np.float32))
    hits = embedding_candidates(index, np.array([1.0, 0.0, 0.1]), k=2)
    assert _ids(hits) == ["cook", "cats"]
    assert all(h.source == "embedding" for h in hits) and hits[0].score > hits[1].score
    assert not index.uses_hnsw


def test_above_the_threshold_the_index_is_hnsw_and_finds_the_exact_neighbours() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(600, 16)).astype(np.float32)
    ids = [f"v{i}" for i in range(600)]
    approx = ItemIndex(IndexParams(hnsw_threshold=100, hnsw_m=16, ef_construction=80, ef_search=64))
    approx.sync(ids, vectors)
    assert approx.uses_hnsw
    recall = []
    for q in rng.normal(size=(20, 16)).astype(np.float32):
        exact = {ids[i] for i in np.argsort(-(vectors @ q))[:10]}
        recall.append(len(exact & {vid for vid, _ in approx.search(q, 10)}) / 10)
    assert np.mean(recall) >= 0.9


@pytest.mark.parametrize("threshold", [1000, 10])
def test_sync_picks_up_changed_added_and_removed_items(threshold: int) -> None:
    index = ItemIndex(IndexParams(hnsw_threshold=threshold, hnsw_m=8, ef_construction=40, ef_search=32))
    ids = [f"v{i}" for i in range(40)]
    vectors = np.eye(40, 8, dtype=np.float32) + 0.01
    index.sync(ids, vectors)
    query = np.zeros(8, dtype=np.float32)
    query[3] = 1.0
    assert index.search(query, 1)[0][0] == "v3"

    moved = vectors.copy()
    moved[3] = -moved[3]  # v3 turns away from the query; v20 turns towards it
    moved[20, 3] = 2.0
    index.sync([*ids[:-1], "new"], np.vstack([moved[:-1], np.full((1, 8), 0.5, dtype=np.float32)]))
    found = [vid for vid, _ in index.search(query, 40)]
    assert found[0] == "v20"
    assert "v39" not in index and "v39" not in found and "new" in index
    assert found.index("v3") == len(found) - 1
    assert len(index) == 40


def test_syncing_the_same_arrays_again_is_free_and_search_survives_many_updates() -> None:
    index = ItemIndex(IndexParams(hnsw_threshold=10, hnsw_m=8, ef_construction=40, ef_search=32))
    rng = np.random.default_rng(1)
    ids = [f"v{i}" for i in range(50)]
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    index.sync(ids, vectors)
    index.sync(ids, vectors)
    for step in range(30):  # an online learner touching a few rows at a time
        vectors = vectors.copy()
        vectors[step % 50] = rng.normal(size=8)
        index.sync(ids, vectors)
    q = rng.normal(size=8).astype(np.float32)
    exact = [ids[i] for i in np.argsort(-(vectors @ q))[:5]]
    assert [vid for vid, _ in index.search(q, 5)] == exact


@pytest.mark.parametrize("threshold", [1000, 10])
def test_stored_vectors_are_the_latest_after_growth_removal_and_compaction(threshold: int) -> None:
    # The index keeps no copy of its vectors beside faiss's storage: what it reads back (content seeds, the stale
    # check of a sync, a compaction) must follow that storage as it grows, moves and is rebuilt.
    index = ItemIndex(IndexParams(hnsw_threshold=threshold, hnsw_m=8, ef_construction=40, ef_search=32))
    rng = np.random.default_rng(3)
    latest: dict[str, np.ndarray] = {}
    for step in range(60):
        ids = [f"v{(step * 7 + j) % 45}" for j in range(5)]
        vectors = rng.normal(size=(5, 6)).astype(np.float32)
        index.upsert(ids, vectors)
        latest.update(zip(ids, vectors, strict=True))
        if step % 9 == 8:
            gone = ids[:2]
            index.remove(gone)
            for vid in gone:
                del latest[vid]
    assert len(index) == len(latest)
    for vid, vector in latest.items():
        stored = index.vector(vid)
        assert stored is not None and np.array_equal(stored, vector)
    q = rng.normal(size=6).astype(np.float32)
    best = max(latest, key=lambda vid: float(latest[vid] @ q))
    assert index.search(q, 1)[0][0] == best


def test_vectors_updated_in_place_are_picked_up_when_the_model_version_moves() -> None:
    index = ItemIndex(SMALL)
    ids = ["a", "b"]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    index.sync(ids, vectors, token="v1")
    vectors[1] = [2.0, 0.0]  # an online learner writing into the same array
    index.sync(ids, vectors, token="v1")
    assert index.search(np.array([1.0, 0.0]), 1)[0][0] == "a"  # same objects, same token: not looked at
    index.sync(ids, vectors, token="v1+1")
    assert index.search(np.array([1.0, 0.0]), 1)[0][0] == "b"


def test_index_refuses_mismatched_input() -> None:
    index = ItemIndex(SMALL)
    with pytest.raises(ValueError):
        index.sync(["a", "b"], np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError):
        index.sync(["a", "a"], np.zeros((2, 4), dtype=np.float32))
    assert index.search(np.zeros(4), 3) == []


# --- following, trending, exploration --------------------------------------------------------------------------------

FOLLOW = FollowingParams(max_age_s=14 * DAY, half_life_s=2 * DAY, per_creator=2)


def test_following_brings_followed_creators_newest_videos() -> None:
    world = _world(
        video("a_new", "alice", age_s=0.1 * DAY),
        video("a_mid", "alice", age_s=1 * DAY),
        video("a_old", "alice", age_s=2 * DAY),  # over alice's per-creator cap
        video("a_ancient", "alice", age_s=30 * DAY),
        video("b_new", "bob", age_s=0.5 * DAY),
        video("stranger", "carol", age_s=0.01 * DAY),
        following=frozenset({"alice", "bob"}),
    )
    hits = following_candidates(world, FOLLOW, NOW, k=10)
    assert _ids(hits) == ["a_new", "b_new", "a_mid"]
    assert following_candidates(_world(video("x", "alice")), FOLLOW, NOW, k=10) == []


TREND = TrendingParams(
    half_life_s=6 * 3600.0, kind_weights={"like": 1.0, "share": 4.0, "comment": 2.0, "complete": 1.0}
)


def test_trending_decays_engagement_with_the_half_life() -> None:
    world = _world(
        video("yesterday_hit", "a"),
        video("rising", "b"),
        video("quiet", "c"),
        region_engagement=(
            EngagementBucket("yesterday_hit", "like", NOW - DAY, 100),  # 4 half-lives ago: worth 6.25
            EngagementBucket("rising", "like", NOW - 3600, 5),
            EngagementBucket("rising", "share", NOW - 3600, 2),  # 13 * 0.89 = 11.6
            EngagementBucket("gone", "like", NOW, 1000),  # not an eligible video
        ),
    )
    hits = trending_candidates(world, TREND, NOW, k=10)
    assert _ids(hits) == ["rising", "yesterday_hit"]
    assert hits[1].score == pytest.approx(100 * 0.5**4)


def test_trending_falls_back_to_lifetime_counts_when_the_region_has_no_buckets() -> None:
    world = _world(video("liked", "a", like_count=50), video("shared", "b", share_count=20), video("none", "c"))
    assert _ids(trending_candidates(world, TREND, NOW, k=10)) == ["shared", "liked"]


def test_pool_state_follows_the_traffic_pools() -> None:
    assert pool_state(ExposureStats(), POOLS) == (0, "active", 100)
    assert pool_state(ExposureStats(impressions=60), POOLS) == (0, "active", 40)
    # Pool 0 full and its audience finished and engaged: on to pool 1.
    assert pool_state(ExposureStats(impressions=100, completes=40, engagements=6), POOLS) == (1, "active", 400)
    # Pool 0 full but few watched to the end: no bigger audience.
    assert pool_state(ExposureStats(impressions=100, completes=10, engagements=20), POOLS).status == "stopped"
    assert pool_state(ExposureStats(impressions=500, completes=300, engagements=1), POOLS).status == "stopped"
    assert pool_state(ExposureStats(impressions=500, completes=300, engagements=100), POOLS).status == "graduated"


def test_exploration_pushes_fresh_videos_still_owed_an_audience() -> None:
    world = _world(
        video("brand_new", "a", age_s=600),
        video("half_way", "b", age_s=DAY),
        video("flopped", "c", age_s=DAY),
        video("graduated", "d", age_s=DAY),
        video("too_old", "e", age_s=30 * DAY),
        exposure={
            "half_way": ExposureStats(impressions=50, completes=20, engagements=5),
            "flopped": ExposureStats(impressions=100, completes=5, engagements=0),
            "graduated": ExposureStats(impressions=500, completes=400, engagements=100),
        },
    )
    hits = exploration_candidates(world, POOLS, NOW, k=10, seed=1)
    assert _ids(hits) == ["brand_new", "half_way"]
    assert hits[0].via == "pool 0" and hits[0].score == 1.0 and hits[1].score == 0.5


def test_exploration_spreads_many_new_videos_across_requests_by_seed() -> None:
    world = _world(*(video(f"n{i}", f"c{i}", age_s=60.0) for i in range(50)))
    first = _ids(exploration_candidates(world, POOLS, NOW, k=5, seed=1))
    assert first == _ids(exploration_candidates(world, POOLS, NOW, k=5, seed=1))
    others = {tuple(_ids(exploration_candidates(world, POOLS, NOW, k=5, seed=s))) for s in range(2, 8)}
    assert len(others | {tuple(first)}) > 3


def _shared(world: CandidateWorld, eligible: set[str]) -> CandidateWorld:
    """The world as a platform passes it: the whole catalogue shared, the viewer's eligible set a subset."""
    by_creator: dict[str, list[VideoInfo]] = {}
    for v in world.videos.values():
        by_creator.setdefault(v.creator_id, []).append(v)
    return CandidateWorld(
        videos={vid: v for vid, v in world.videos.items() if vid in eligible},
        following=world.following,
        exposure=world.exposure,
        region_engagement=world.region_engagement,
        region_videos=world.videos,
        region_by_creator=by_creator,
    )


def test_with_a_shared_catalogue_exploration_walks_a_bounded_window_of_the_most_owed() -> None:
    fresh = [video(f"n{i:03}", f"c{i}", age_s=60.0) for i in range(400)]
    shown = {f"n{i:03}": ExposureStats(impressions=60 + i) for i in range(20)}  # less owed than the never-shown
    everything = _world(*fresh, video("too_old", "old", age_s=30 * DAY), exposure=shown)
    blocked = {"n005", "n300", "n301"}
    world = _shared(everything, {v.id for v in fresh} - blocked)
    memo = RegionMemo()
    hits = exploration_candidates(world, POOLS, NOW, k=10, seed=3, memo=memo)
    assert len(hits) == 10 and not blocked & set(_ids(hits))
    assert all(h.score == 1.0 for h in hits)  # never-shown videos first, as without the memo
    assert hits == exploration_candidates(world, POOLS, NOW, k=10, seed=3, memo=memo)
    assert {tuple(_ids(exploration_candidates(world, POOLS, NOW, k=10, seed=s, memo=memo))) for s in range(6)} != {
        tuple(_ids(hits))
    }
    # Fewer owed videos than the window: exactly the page the whole-catalogue walk gives.
    small = _shared(_world(*fresh[:15], exposure=shown), {v.id for v in fresh[:15]} - blocked)
    assert exploration_candidates(small, POOLS, NOW, k=10, seed=3, memo=RegionMemo()) == exploration_candidates(
        replace(small, region_videos=None), POOLS, NOW, k=10, seed=3
    )


def test_with_a_shared_catalogue_following_and_trending_match_the_eligible_set_walk() -> None:
    everything = _world(
        video("a_new", "alice", age_s=0.1 * DAY, like_count=3),
        video("a_mid", "alice", age_s=1 * DAY),
        video("b_new", "bob", age_s=0.5 * DAY, share_count=2),
        video("b_blocked", "bob", age_s=0.2 * DAY, like_count=90),
        video("stranger", "carol", age_s=0.01 * DAY, like_count=7),
        following=frozenset({"alice", "bob"}),
    )
    world = _shared(everything, {"a_new", "a_mid", "b_new", "stranger"})
    plain = replace(world, region_videos=None, region_by_creator=None)
    assert following_candidates(world, FOLLOW, NOW, k=10) == following_candidates(plain, FOLLOW, NOW, k=10)
    memo = RegionMemo()
    for _ in range(2):  # the newest-first order is built on first use, then reused
        assert following_candidates(world, FOLLOW, NOW, k=10, memo=memo) == following_candidates(
            plain, FOLLOW, NOW, k=10
        )
    assert trending_candidates(world, TREND, NOW, k=10, memo=RegionMemo()) == trending_candidates(
        plain, TREND, NOW, k=10
    )


# --- history: co-engagement and content ------------------------------------------------------------------------------


def test_history_seeds_weigh_kind_and_recency() -> None:
    world = _world(
        recent_engagements=(
            Engagement("old_like", "like", NOW - 3 * DAY),
            Engagement("fresh_complete", "complete", NOW - 60),
            Engagement("fresh_like", "like", NOW - 60),
            Engagement("shared", "share", NOW),  # a kind these params give no weight
        )
    )
    seeds = history_seeds(world, HISTORY, NOW)
    assert [s for s, _ in seeds] == ["fresh_like", "fresh_complete", "old_like"]


def test_co_engagement_proposes_what_sessions_paired_with_the_viewers_recent_likes() -> None:
    table = build_co_engagement([["pasta", "pizza"], ["pasta", "pizza"], ["pasta", "ramen"], ["skate", "bmx"]])
    world = _world(co_engagement=table)
    hits = co_engagement_candidates(world, [("pasta", 1.0)], k=10)
    assert _ids(hits) == ["pizza", "ramen"]
    assert hits[0].via == "pasta"
    assert co_engagement_candidates(world, [], k=10) == []


def test_content_source_finds_videos_with_similar_captions_and_hashtags() -> None:
    videos = [
        video("liked", "a", caption="Creamy garlic pasta in 10 minutes", tags=("cooking", "pasta")),
        video("pasta2", "b", caption="Pasta carbonara the Roman way", tags=("cooking", "pasta")),
        video("soup", "c", caption="Quick garlic soup", tags=("cooking",)),
        video("skate", "d", caption="Kickflip tutorial for beginners", tags=("skate",)),
    ]
    content = ContentIndex(HashingTextEmbedder(dim=512), SMALL)
    content.sync({v.id: v for v in videos})
    hits = content_candidates(content.index, [("liked", 1.0)], k=3)
    assert _ids(hits) == ["pasta2", "soup", "skate"]
    assert all(h.via == "liked" for h in hits)


def test_content_index_re_embeds_only_edited_texts_and_forgets_removed_videos() -> None:
    calls: list[list[str]] = []
    embedder = HashingTextEmbedder(dim=64)

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return embedder(texts)

    content = ContentIndex(counting, SMALL)
    a, b = video("a", "x", caption="one"), video("b", "y", caption="two")
    content.sync({"a": a, "b": b})
    content.sync({"a": a, "b": b})
    content.sync({"a": video("a", "x", caption="one, edited")})
    assert [len(c) for c in calls] == [2, 1]
    assert "b" not in content.index


# --- text embedders --------------------------------------------------------------------------------------------------


def test_the_hashing_embedder_is_deterministic_and_puts_related_texts_closer() -> None:
    embed = HashingTextEmbedder(dim=256)
    out = embed(["garlic pasta #cooking", "pasta with garlic and #cooking", "kickflip #skate", ""])
    assert out.dtype == np.float32 and out.shape == (4, 256)
    assert np.allclose(np.linalg.norm(out[:3], axis=1), 1.0) and not out[3].any()
    assert out[0] @ out[1] > out[0] @ out[2]
    assert np.array_equal(out[:1], embed(["Garlic PASTA, #Cooking!"]))


def test_the_wordpiece_tokenizer_splits_like_bert() -> None:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "cafe", "!", "猫", "runs"]
    tok = WordPieceTokenizer({t: i for i, t in enumerate(vocab)})
    # Lowercased, accents stripped, punctuation and CJK split off, unknown words as [UNK].
    assert tok.encode("UnAffable Café! 猫 xyz", max_length=32) == [2, 4, 5, 6, 7, 8, 9, 1, 3]
    assert tok.encode("runs runs runs", max_length=4) == [2, 10, 10, 3]


def test_minilm_is_absent_without_its_package_and_never_downloads() -> None:
    if minilm_model_dir() is None:
        assert load_minilm() is None
        return
    embed = load_minilm()
    assert embed is not None
    out = embed(["Easy pasta recipe #cooking", "How to cook spaghetti", "Skateboard tricks at the park"])
    assert out.shape == (3, 384)
    assert out[0] @ out[1] > out[0] @ out[2]


def test_the_newest_first_walk_of_followed_creators_matches_checking_every_video() -> None:
    rng = random.Random(4)
    videos = [
        video(f"v{i:03d}", f"c{rng.randrange(6)}", age_s=rng.choice([0.5, 1.0, 3.0, 9.0, 20.0]) * DAY)
        for i in range(200)
    ]
    everything = _world(*videos, following=frozenset({"c0", "c2", "c3", "c9"}))
    memo = RegionMemo()
    for trial in range(20):
        world = _shared(everything, {v.id for v in videos if rng.random() < 0.6})
        plain = replace(world, region_videos=None, region_by_creator=None)
        params = replace(FOLLOW, per_creator=trial % 4, max_age_s=rng.choice([2.0, 10.0, 30.0]) * DAY)
        want = following_candidates(plain, params, NOW, k=50)
        assert following_candidates(world, params, NOW, k=50, memo=memo) == want
