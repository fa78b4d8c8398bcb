"""The live feed state: what a viewer's recent actions leave behind for the next page."""

from __future__ import annotations

import random
from dataclasses import replace

from sovereel.feed.interface import CandidateWorld, Engagement, Skip
from sovereel.feed.params import ExplorationParams, TrendingParams
from sovereel.feed.pools import exploration_candidates
from sovereel.feed.sources import RegionMemo
from sovereel.foryou.live_state import RegionFeedState, Signal
from tests.support.feed import DAY, NOW, video


def test_skips_are_kept_apart_from_engagements_and_refresh_for_you_forgets_both() -> None:
    state = RegionFeedState()
    state.apply(
        [
            Signal("ana", "v1", "impression", 1.0),
            Signal("ana", "v1", "skip", 2.0, watched_s=0.8),
            Signal("ana", "v2", "complete", 3.0, watched_s=10.0),
            Signal("ana", "v3", "skip", 4.0),
            Signal("ben", "v1", "skip", 5.0, watched_s=1.5),
        ]
    )
    assert state.recent_skips("ana") == (Skip("v1", 2.0, 0.8), Skip("v3", 4.0, 0.0))
    assert state.recent("ana") == (Engagement("v2", "complete", 3.0),)
    assert state.exposure()["v1"].impressions == 1  # a skip is no engagement and no completion
    assert state.exposure()["v1"].completes == 0
    state.forget_user("ana")
    assert state.recent_skips("ana") == () and state.recent("ana") == ()
    assert state.recent_skips("ben") == (Skip("v1", 5.0, 1.5),)


def test_the_trending_order_follows_each_event_and_ages_out_after_a_week() -> None:
    now = 1_900_800_000.0  # on the hour: the bucket of an event now starts now
    params = TrendingParams(half_life_s=6 * 3600.0, kind_weights={"like": 1.0, "complete": 1.0, "share": 4.0})
    state = RegionFeedState()
    state.apply([Signal("ana", "v1", "like", now - 10)])
    first = state.region_engagement(now)
    assert [(b.video_id, b.kind, b.count) for b in first] == [("v1", "like", 1)]
    board = first.board(params)
    assert board.leaders(10) == ["v1"]
    # Two viewers' actions put v2 ahead at once: no snapshot to wait for, and no rebuild of the buckets.
    state.apply([Signal("ben", "v2", "complete", now), Signal("cy", "v2", "share", now)])
    assert state.region_engagement(now + 61).board(params) is board
    assert board.leaders(10) == ["v2", "v1"]
    assert board.score("v2", now) == 5.0
    assert {b.video_id for b in state.region_engagement(now + 61)} == {"v1", "v2"}
    assert list(state.region_engagement(now + 8 * 86400)) == []  # a week on, both aged out
    assert board.leaders(10) == [] and board.score("v2", now) == 0.0


def test_exploration_over_the_live_pool_order_proposes_what_a_walk_of_every_video_does() -> None:
    pools = ExplorationParams(
        share=0.1, max_age_s=7 * DAY, pool_sizes=(4, 12), min_completion_rate=(0.3, 0.3), min_engagement_rate=(0, 0)
    )
    rng = random.Random(7)
    videos = {f"v{i:03}": video(f"v{i:03}", f"c{i % 9}", age_s=rng.choice([DAY, 3 * DAY, 9 * DAY])) for i in range(300)}
    eligible = {vid: v for vid, v in videos.items() if not vid.endswith("7")}
    public = {vid: v for vid, v in videos.items() if not vid.endswith("5")}  # the rest: followers-only, never pushed
    state = RegionFeedState()
    memo = RegionMemo()  # kept across rounds, as a server's: the never-shown list drops what was shown since
    for round_ in range(6):
        # Impressions and completions by many viewers move videos through (and out of) their pools.
        signals = []
        for n in range(400):
            vid, who = f"v{rng.randrange(300):03}", f"u{round_}-{n}"
            signals.append(Signal(who, vid, "impression", NOW))
            if rng.random() < 0.4:
                signals.append(Signal(who, vid, "complete", NOW))
        state.apply(signals)
        live = state.exposure()
        copied = dict(live.items())
        for seed in range(3):
            # The same bounded window of the most owed as a walk of a copied exposure, sorted afresh.
            copy = CandidateWorld(videos=eligible, exposure=copied, region_videos=public)
            want = exploration_candidates(copy, pools, NOW, k=10, seed=seed, memo=RegionMemo())
            shared = replace(copy, exposure=live)
            assert exploration_candidates(shared, pools, NOW, k=10, seed=seed, memo=memo) == want
            assert len(want) == 10 and all(videos[h.video_id].created_at > NOW - 7 * DAY for h in want)


def test_co_engagement_rows_are_read_live_one_row_at_a_time() -> None:
    state = RegionFeedState()
    co = state.co_engagement()
    state.apply([Signal("ana", "v1", "like", NOW), Signal("ana", "v2", "complete", NOW + 1)])
    assert co.get("v1") == {"v2": 1.0} and "v3" not in co  # a view taken before the events sees them
    state.apply([Signal("ben", "v1", "like", NOW), Signal("ben", "v2", "like", NOW + 1)])
    row = co["v2"]
    assert row == {"v1": 2.0}
    state.apply([Signal("ben", "v3", "like", NOW + 2)])
    assert row == {"v1": 2.0}  # a copy: what a request read does not move under it
    assert dict(state.co_engagement()) == {
        "v1": {"v2": 2.0, "v3": 1.0},
        "v2": {"v1": 2.0, "v3": 1.0},
        "v3": {"v1": 1.0, "v2": 1.0},
    }
