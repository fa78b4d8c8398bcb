"""Candidate filters: each rule on its own, then all of them together."""

from __future__ import annotations

import random

from sovereel.feed.filters import (
    FILTERS,
    FilterContext,
    apply_filters,
    audience_ok,
    creator_not_hidden,
    keywords_absent,
    moderation_ok,
    not_own,
    not_rejected,
    not_seen,
    not_served,
    passes_all,
)
from sovereel.feed.interface import CandidateWorld
from tests.support.feed import video


def test_already_watched_videos_are_dropped() -> None:
    ctx = FilterContext(seen=frozenset({"v1"}))
    assert not not_seen(video("v1", "a"), ctx)
    assert not_seen(video("v2", "a"), ctx)


def test_videos_served_earlier_in_the_scroll_are_dropped() -> None:
    ctx = FilterContext(served=frozenset({"v1"}))
    assert not not_served(video("v1", "a"), ctx)
    assert not_served(video("v2", "a"), ctx)


def test_not_interested_covers_the_video_its_creator_and_its_hashtags() -> None:
    world = CandidateWorld(
        videos={},
        not_interested_videos=frozenset({"v1"}),
        not_interested_creators=frozenset({"bob"}),
        not_interested_hashtags=frozenset({"#Pranks"}),
    )
    ctx = FilterContext.from_world(world, "me", use_history=True)
    assert not not_rejected(video("v1", "alice"), ctx)
    assert not not_rejected(video("v2", "bob"), ctx)
    assert not not_rejected(video("v3", "carol", tags=("PRANKS",)), ctx)
    assert not_rejected(video("v4", "carol", tags=("cooking",)), ctx)


def test_hidden_creators_are_dropped() -> None:
    ctx = FilterContext(hidden_creators=frozenset({"bob"}))
    assert not creator_not_hidden(video("v1", "bob"), ctx)
    assert creator_not_hidden(video("v2", "alice"), ctx)


def _keywords(*filters: str) -> FilterContext:
    return FilterContext.from_world(CandidateWorld(videos={}, keyword_filters=filters), "me", use_history=True)


def test_keyword_filters_match_whole_words_in_any_case_in_captions_and_hashtags() -> None:
    ctx = _keywords("Spider")
    assert not keywords_absent(video("v1", "a", caption="A huge SPIDER in my bath"), ctx)
    assert not keywords_absent(video("v2", "a", tags=("spider",)), ctx)
    assert not keywords_absent(video("v3", "a", caption="look #spider"), ctx)
    # A word that merely contains the keyword is not the keyword.
    assert keywords_absent(video("v4", "a", caption="Spiderman costume"), ctx)


def test_a_phrase_filter_matches_the_phrase_and_its_hashtag_forms() -> None:
    ctx = _keywords("horror movie")
    assert not keywords_absent(video("v1", "a", caption="Best horror movie of 2025"), ctx)
    assert not keywords_absent(video("v2", "a", tags=("HorrorMovie",)), ctx)
    assert not keywords_absent(video("v3", "a", tags=("horror_movie",)), ctx)
    assert keywords_absent(video("v4", "a", caption="a movie that is not horror"), ctx)


def test_keyword_filters_work_beyond_ascii() -> None:
    ctx = _keywords("Straße")
    assert not keywords_absent(video("v1", "a", caption="Die STRASSE ist nass"), ctx)
    assert not keywords_absent(video("v2", "a", caption="über die straße"), ctx)


def test_audience_public_followers_only_and_private() -> None:
    follower = FilterContext(viewer_id="me", following=frozenset({"alice"}))
    stranger = FilterContext(viewer_id="me")
    signed_out = FilterContext(following=frozenset({"alice"}))
    public = video("v1", "alice")
    followers_only = video("v2", "alice", visibility="followers")
    private = video("v3", "alice", visibility="private")
    assert audience_ok(public, stranger) and audience_ok(public, signed_out)
    assert audience_ok(followers_only, follower)
    assert not audience_ok(followers_only, stranger)
    assert not audience_ok(followers_only, signed_out)
    assert not audience_ok(private, follower)


def test_only_videos_cleared_by_moderation_are_recommended() -> None:
    ctx = FilterContext()
    assert moderation_ok(video("v1", "a"), ctx)
    for state in ("removed", "not_for_you", "pending", "something_new"):
        assert not moderation_ok(video("v2", "a", moderation=state), ctx)


def test_viewers_are_not_recommended_their_own_videos() -> None:
    assert not not_own(video("v1", "me"), FilterContext(viewer_id="me"))
    assert not_own(video("v1", "me"), FilterContext(viewer_id=None))


def test_apply_filters_keeps_order_and_names_the_filter_that_dropped_each_video() -> None:
    videos = {
        v.id: v
        for v in [
            video("ok1", "alice"),
            video("gone", "alice", moderation="removed"),
            video("watched", "bob"),
            video("hidden", "eve"),
            video("spoiler", "carol", caption="finale spoiler inside"),
            video("ok2", "bob"),
        ]
    }
    world = CandidateWorld(
        videos=videos, seen=frozenset({"watched"}), hidden_creators=frozenset({"eve"}), keyword_filters=("spoiler",)
    )
    ctx = FilterContext.from_world(world, "me", use_history=True)
    kept, dropped = apply_filters(["ok2", "gone", "watched", "hidden", "spoiler", "ok1", "missing"], videos, ctx)
    assert kept == ["ok2", "ok1"]
    assert dropped == {
        "gone": "moderation",
        "watched": "seen",
        "hidden": "hidden_creator",
        "spoiler": "keyword",
        "missing": "unknown",
    }


def test_without_history_the_seen_set_is_not_consulted_but_explicit_controls_are() -> None:
    world = CandidateWorld(videos={}, seen=frozenset({"v1"}), hidden_creators=frozenset({"eve"}))
    ctx = FilterContext.from_world(world, "me", use_history=False)
    assert not_seen(video("v1", "a"), ctx)
    assert not creator_not_hidden(video("v2", "eve"), ctx)


def test_the_inlined_check_keeps_exactly_what_every_filter_keeps() -> None:
    rng = random.Random(3)
    creators, tags = ["ann", "bob", "me", "zed"], ["Cats", "#cats", "dogs", "horror_movie", "chess"]
    videos = [
        video(
            f"v{i}",
            rng.choice(creators),
            tags=tuple(rng.sample(tags, rng.randrange(3))),
            caption=rng.choice(["", "a horror movie night", "cats and dogs", "chess opening"]),
            visibility=rng.choice(["public", "public", "followers", "private"]),
            moderation=rng.choice(["ok", "ok", "ok", "removed", "pending"]),
        )
        for i in range(300)
    ]
    for _ in range(60):
        world = CandidateWorld(
            videos={},
            seen=frozenset(rng.sample([v.id for v in videos], 40)),
            following=frozenset(rng.sample(creators, rng.randrange(3))),
            not_interested_videos=frozenset(rng.sample([v.id for v in videos], 5)),
            not_interested_creators=frozenset(rng.sample(creators, rng.randrange(2))),
            not_interested_hashtags=frozenset(rng.sample(tags, rng.randrange(2))),
            hidden_creators=frozenset(rng.sample(creators, rng.randrange(2))),
            keyword_filters=tuple(rng.sample(["horror movie", "DOGS", "opening"], rng.randrange(3))),
        )
        viewer = rng.choice([None, "me", "ann"])
        ctx = FilterContext.from_world(world, viewer, use_history=rng.random() < 0.5, served=["v1", "v2", "v3"])
        for v in videos:
            assert passes_all(v, ctx) == all(keep(v, ctx) for _, keep in FILTERS), (v, ctx)
