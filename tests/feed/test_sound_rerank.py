"""Re-ranking with sounds: two videos with the same sound are never adjacent, on a page or across its break."""

from __future__ import annotations

import itertools

from sovereel.feed.params import RerankParams
from sovereel.feed.rerank import Placed, Scored, rerank, rerank_page

SPACING = RerankParams(creator_window=3, topic_window=2)


def _item(vid: str, sound: str, score: float, creator: str = "", topic: str = "") -> Scored:
    # Each video its own creator unless told: only the sound rule is under test.
    return Scored(vid, creator or f"by-{vid}", topic, score, False, sound=sound)


def _sounds(placed: list[Placed]) -> list[str]:
    return [p.item.sound for p in placed]


def _no_neighbours_share_a_sound(sounds: list[str]) -> bool:
    return all(not (a and a == b) for a, b in itertools.pairwise(sounds))


def test_the_best_videos_sharing_a_sound_are_spread_out() -> None:
    # The four best videos all use one trending sound; left alone by score they would play back to back.
    hits = [_item(f"hit{i}", "trend", score=10.0 - i) for i in range(4)]
    others = [_item(f"o{i}", f"own{i}", score=1.0 - 0.1 * i) for i in range(4)]
    placed = rerank(hits + others, SPACING, exploration_share=0.0, limit=8)
    assert [p.item.video_id for p in placed] == ["hit0", "o0", "hit1", "o1", "hit2", "o2", "hit3", "o3"]
    assert _no_neighbours_share_a_sound(_sounds(placed))


def test_videos_without_a_sound_never_count_as_sharing_one() -> None:
    silent = [_item(f"s{i}", "", score=5.0 - i) for i in range(4)]
    placed = rerank(silent, SPACING, exploration_share=0.0, limit=4)
    assert [p.item.video_id for p in placed] == ["s0", "s1", "s2", "s3"]


def test_the_rule_holds_across_the_page_break() -> None:
    # The previous page ended on a video with the sound "trend": the next page must not open with another.
    items = [_item("hit", "trend", score=9.0), _item("other", "own", score=1.0)]
    placed = rerank(items, SPACING, exploration_share=0.0, limit=2, start=10, history=[("alice", "", "trend")])
    assert [p.item.video_id for p in placed] == ["other", "hit"]
    # Histories of (creator, topic) only, as cursors made before sounds carry, still work.
    placed = rerank(items, SPACING, exploration_share=0.0, limit=2, start=10, history=[("alice", "")])
    assert [p.item.video_id for p in placed] == ["hit", "other"]


def test_the_sound_rule_outranks_creator_spacing() -> None:
    # Every candidate left is by the creator just shown; one also has the sound just played: it waits.
    items = [_item("same-sound", "trend", 9.0, creator="alice"), _item("own-sound", "own", 1.0, creator="alice")]
    placed = rerank(items, SPACING, exploration_share=0.0, limit=1, history=[("alice", "", "trend")])
    assert [p.item.video_id for p in placed] == ["own-sound"]


def test_a_page_ends_short_rather_than_play_one_sound_twice() -> None:
    items = [_item(f"hit{i}", "trend", score=5.0 - i) for i in range(3)]
    placed, more = rerank_page(items, SPACING, exploration_share=0.0, limit=3, start=0, seed=1)
    assert [p.item.video_id for p in placed] == ["hit0"]
    assert more  # the others are still there for a later page, after something else
