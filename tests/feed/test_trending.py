"""The trending board: an order kept by count changes is the order of the scores, through overflow and ageing out."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from sovereel.feed.interface import CandidateWorld, EngagementBucket
from sovereel.feed.params import TrendingParams
from sovereel.feed.sources import RegionMemo
from sovereel.feed.trending import LiveBuckets, TrendingBoard, board_of, trending_candidates, trending_scores
from tests.support.feed import DAY, NOW, video

TREND = TrendingParams(half_life_s=6 * 3600.0, kind_weights={"like": 1.0, "share": 4.0, "complete": 1.0, "skip": 0.0})


def _ranked(scores: dict[str, float]) -> list[str]:
    return [vid for vid, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


@pytest.mark.parametrize("top_size", [3, 50, 4096])
def test_the_board_ranks_as_the_scores_do_after_any_sequence_of_changes(top_size: int) -> None:
    rng = random.Random(top_size)
    board = TrendingBoard(TREND, top_size=top_size)
    counts: dict[tuple[str, str, float], int] = {}
    for step in range(3000):
        key = (f"v{rng.randrange(60)}", rng.choice(["like", "share", "complete"]), NOW - 3600 * rng.randrange(160))
        if rng.random() < 0.2 and counts:  # a bucket ages out
            key = rng.choice(sorted(counts))
            del counts[key]
            board.set(key[0], (key[1], key[2], 0), 0.0)
        else:
            counts[key] = counts.get(key, 0) + 1
            board.set(key[0], (key[1], key[2], 0), TREND.kind_weights[key[1]] * counts[key])
        if step % 500 == 499:
            buckets = [EngagementBucket(v, kind, at, n) for (v, kind, at), n in counts.items()]
            world = CandidateWorld(videos={v: video(v, "c") for v, _, _ in counts}, region_engagement=tuple(buckets))
            scores = trending_scores(world, TREND, NOW)
            assert board.leaders(len(scores) + 5) == _ranked(scores)
            assert all(board.score(v, NOW) == pytest.approx(s, rel=1e-12) for v, s in scores.items())


def test_a_live_board_serves_the_same_hits_as_the_buckets_it_was_kept_from() -> None:
    rng = random.Random(5)
    videos = {f"v{i}": video(f"v{i}", f"c{i % 7}", age_s=DAY) for i in range(300)}
    buckets = tuple(
        EngagementBucket(f"v{rng.randrange(400)}", rng.choice(["like", "share"]), NOW - 3600 * i, 1 + i % 4)
        for i in range(160)
    )
    eligible = {vid: v for vid, v in videos.items() if not vid.endswith("3")}  # a viewer's eligible set
    board = board_of(buckets, TREND)
    live = LiveBuckets(lambda: buckets, lambda _params: board, len(buckets))
    world = CandidateWorld(videos=eligible, region_engagement=buckets, region_videos=videos)
    plain = CandidateWorld(videos=eligible, region_engagement=buckets)
    want = trending_candidates(plain, TREND, NOW, k=20)
    assert len(want) == 20
    assert trending_candidates(world, TREND, NOW, k=20, memo=RegionMemo()) == want
    assert trending_candidates(replace(world, region_engagement=live), TREND, NOW, k=20, memo=RegionMemo()) == want
