"""The "sound" candidate source: other videos with the sound of what the viewer just engaged with."""

from __future__ import annotations

from sovereel.feed.interface import CandidateWorld, Engagement, FeedRequest
from sovereel.feed.params import default_params, params_from_dict
from sovereel.feed.pipeline import ForYouRecommender
from sovereel.feed.sources import sound_candidates
from tests.support.feed import DAY, NOW, DotScorer, video


def _world() -> CandidateWorld:
    videos = [
        video("liked", "ann", sound_id="song"),
        video("song-new", "bob", age_s=DAY, sound_id="song"),
        video("song-old", "cat", age_s=5 * DAY, sound_id="song"),
        video("other-sound", "dan", sound_id="drums"),
        video("silent", "eve"),
    ]
    return CandidateWorld(
        videos={v.id: v for v in videos},
        recent_engagements=(Engagement("liked", "like", NOW - 60),),
    )


def test_a_liked_videos_sound_brings_its_other_videos_newest_first() -> None:
    hits = sound_candidates(_world(), [("liked", 2.0)], k=10)
    assert [h.video_id for h in hits] == ["song-new", "song-old"]  # never the seed itself, nor other sounds
    assert {h.via for h in hits} == {"liked"} and {h.source for h in hits} == {"sound"}


def test_the_source_reads_the_regions_bounded_index_when_it_has_one() -> None:
    world = _world()
    # The index lists only one of the sound's videos: the source takes what it lists, it does not walk the catalogue.
    indexed = CandidateWorld(
        videos=world.videos,
        recent_engagements=world.recent_engagements,
        region_by_sound={"song": (world.videos["song-old"],)},
    )
    assert [h.video_id for h in sound_candidates(indexed, [("liked", 2.0)], k=10)] == ["song-old"]


def test_seeds_without_a_sound_propose_nothing() -> None:
    assert sound_candidates(_world(), [("silent", 2.0)], k=10) == []


def test_a_served_sound_candidate_says_whose_sound_it_uses() -> None:
    world = _world()
    scorer = DotScorer({}, {})
    page = ForYouRecommender(scorer, default_params()).recommend(
        FeedRequest(user_id="me", region="default", limit=10, now=NOW), world
    )
    by_id = {item.video_id: item for item in page.items}
    assert "sound" in by_id["song-new"].reason.sources
    assert "Uses the sound of a video by @ann that you liked" in by_id["song-new"].reason.explanation


def test_parameter_sets_from_before_the_sound_source_keep_their_version() -> None:
    raw = default_params().to_dict()
    raw["quotas"].pop("sound")
    old = params_from_dict(raw)
    assert old.quotas["sound"] == 0
    assert "sound" not in old.to_dict()["quotas"]  # so the hash of an older file is what it was
    assert default_params().quotas["sound"] > 0
