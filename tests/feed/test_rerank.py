"""Re-ranking rules: creator spacing, topic spacing, exploration slots, across page breaks."""

from __future__ import annotations

import itertools

from sovereel.feed.interface import Engagement, Skip
from sovereel.feed.params import RerankParams
from sovereel.feed.rerank import (
    Placed,
    Scored,
    fatigued_topics,
    is_exploration_slot,
    primary_topic,
    rerank,
    rerank_page,
)
from tests.support.feed import video

SPACING = RerankParams(creator_window=3, topic_window=2)


def _item(vid: str, creator: str, score: float, topic: str = "", exploration: bool = False) -> Scored:
    return Scored(vid, creator, topic, score, exploration)


def _creators(placed: list[Placed]) -> list[str]:
    return [p.item.creator_id for p in placed]


def test_without_constraints_the_best_scores_come_first() -> None:
    items = [_item(f"v{i}", f"c{i}", score=float(i)) for i in range(6)]
    placed = rerank(items, SPACING, exploration_share=0.0, limit=6)
    assert [p.item.video_id for p in placed] == ["v5", "v4", "v3", "v2", "v1", "v0"]
    assert [p.position for p in placed] == list(range(6))


def test_no_two_videos_of_a_creator_within_three_slots() -> None:
    # Alice has the four best videos; left alone by score she would fill the top of the page.
    items = [_item(f"a{i}", "alice", 10.0 - i) for i in range(4)]
    items += [_item(f"b{i}", "bob", 5.0 - i) for i in range(4)]
    items += [_item(f"c{i}", "carol", 1.0 - i) for i in range(4)]
    creators = _creators(rerank(items, SPACING, exploration_share=0.0, limit=12))
    assert creators[0] == "alice"
    for i in range(len(creators) - 2):
        assert len(set(creators[i : i + 3])) == 3, creators


def test_topics_are_spaced_when_the_candidates_allow() -> None:
    items = [_item(f"cook{i}", f"c{i}", 10.0 - i, topic="cooking") for i in range(3)]
    items += [_item(f"skate{i}", f"s{i}", 5.0 - i, topic="skate") for i in range(3)]
    topics = [p.item.topic for p in rerank(items, SPACING, exploration_share=0.0, limit=6)]
    assert topics == ["cooking", "skate"] * 3


def test_when_only_one_creator_is_left_the_page_still_fills() -> None:
    items = [_item("b0", "bob", 9.0)] + [_item(f"a{i}", "alice", 5.0 - i) for i in range(4)]
    placed = rerank(items, SPACING, exploration_share=0.0, limit=5)
    assert len(placed) == 5
    assert _creators(placed)[:2] == ["bob", "alice"]


def test_exploration_slots_take_the_reserved_share_even_for_low_scores() -> None:
    ranked = [_item(f"r{i}", f"c{i}", 100.0 - i) for i in range(30)]
    fresh = [_item(f"x{i}", f"new{i}", -1.0 - i, exploration=True) for i in range(5)]
    placed = rerank(ranked + fresh, SPACING, exploration_share=0.1, limit=30)
    slots = [p for p in placed if p.slot == "exploration"]
    assert len(slots) == 3  # 10% of 30 slots
    assert all(p.item.exploration for p in slots)
    assert [p.item.video_id for p in slots] == ["x0", "x1", "x2"]  # the best of the fresh videos, in order


def test_exploration_slots_are_evenly_spread_at_the_exact_share() -> None:
    for share in (0.1, 0.2, 0.25, 1 / 3):
        positions = [p for p in range(300) if is_exploration_slot(p, share, phase=4)]
        assert len(positions) == round(300 * share)
        gaps = {b - a for a, b in itertools.pairwise(positions)}
        assert max(gaps) - min(gaps) <= 1


def test_the_seed_moves_the_exploration_slot_within_a_page() -> None:
    ranked = [_item(f"r{i}", f"c{i}", 100.0 - i) for i in range(20)]
    fresh = [_item("x0", "new", 0.0, exploration=True)]
    where = set()
    for seed in range(10):
        placed, _ = rerank_page(ranked + fresh, SPACING, exploration_share=0.1, limit=10, start=0, seed=seed)
        where.add(next(p.position for p in placed if p.slot == "exploration"))
    assert len(where) > 3


def test_spacing_holds_across_the_page_break() -> None:
    items = [_item("a1", "alice", 10.0), _item("b1", "bob", 9.0), _item("c1", "carol", 1.0)]
    placed = rerank(items, SPACING, exploration_share=0.0, limit=3, start=10, history=[("alice", ""), ("dave", "")])
    assert _creators(placed)[0] == "bob"
    assert placed[0].position == 10


def test_rerank_page_says_whether_candidates_remain() -> None:
    items = [_item(f"v{i}", f"c{i}", float(i)) for i in range(5)]
    _, more = rerank_page(items, SPACING, exploration_share=0.0, limit=3, start=0, seed=1)
    _, none_left = rerank_page(items, SPACING, exploration_share=0.0, limit=5, start=0, seed=1)
    assert more and not none_left


def test_the_primary_topic_is_the_first_hashtag() -> None:
    assert primary_topic(video("v", "c", tags=("#Cooking", "pasta"))) == "cooking"
    assert primary_topic(video("v", "c")) == ""


def test_a_topic_the_viewer_keeps_skipping_waits_behind_the_others_but_topic_spacing_still_holds() -> None:
    travel = [_item(f"t{i}", f"tc{i}", 10.0 - i, topic="travel")._replace(fatigued=True) for i in range(4)]
    dance = [_item(f"d{i}", f"dc{i}", 9.5 - i, topic="dance")._replace(fatigued=True) for i in range(4)]
    cooking = [_item(f"c{i}", f"cc{i}", 1.0 - i, topic="cooking") for i in range(2)]
    pets = [_item(f"p{i}", f"pc{i}", 0.5 - i, topic="pets") for i in range(2)]
    topics = [p.item.topic for p in rerank(travel + dance + cooking + pets, SPACING, exploration_share=0.0, limit=8)]
    # The low-scored, unskipped topics come first, alternating (topic spacing outranks fatigue), then the rest.
    assert topics[:4] == ["cooking", "pets", "cooking", "pets"], topics
    assert topics[4:] == ["travel", "dance", "travel", "dance"], topics
    # With only a fatigued topic and one other left, spacing is kept by the fatigued one rather than broken.
    only = [_item("c", "c1", 5.0, topic="cooking"), _item("c2", "c2", 4.0, topic="cooking")]
    only.append(_item("t", "t1", 9.0, topic="travel")._replace(fatigued=True))
    assert [p.item.video_id for p in rerank(only, SPACING, exploration_share=0.0, limit=3)] == ["c", "t", "c2"]


def test_fatigued_topics_count_early_swipe_aways_since_the_last_engagement_with_the_topic() -> None:
    videos = {
        "t1": video("t1", "a", tags=("travel",)),
        "t2": video("t2", "a", tags=("Travel", "food")),
        "t3": video("t3", "b", tags=("travel",)),
        "d1": video("d1", "c", tags=("dance",)),
        "d2": video("d2", "c", tags=("dance",)),
        "n1": video("n1", "d"),
    }
    look = videos.get  # the support videos last 30 s
    early = [Skip("t1", 10.0, 1.0), Skip("t2", 20.0, 2.0), Skip("d1", 30.0, 0.5), Skip("n1", 35.0, 0.0)]
    assert fatigued_topics(early, (), look, 2) == {"travel"}  # one dance skip is not yet a pattern; n1 has no tag
    assert fatigued_topics(early, (), look, 0) == frozenset()  # the rule is off
    assert fatigued_topics([*early, Skip("d2", 40.0, 20.0)], (), look, 2) == {"travel"}  # 20 of 30 s: not a rejection
    assert fatigued_topics([*early, Skip("d2", 40.0, 3.0)], (), look, 2) == {"travel", "dance"}
    # Finishing a travel video forgives the skips before it; the ones after count again.
    liked = (Engagement("t3", "complete", 25.0),)
    assert fatigued_topics(early, liked, look, 2) == frozenset()
    assert fatigued_topics([*early, Skip("t3", 50.0), Skip("t1", 60.0)], liked, look, 2) == {"travel"}
    assert fatigued_topics([Skip("gone", 1.0), Skip("gone2", 2.0)], (), look, 1) == frozenset()  # unknown videos
