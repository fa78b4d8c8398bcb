"""The For You pipeline end to end on a small region: taste, reasons, determinism, pages, modes."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any

import numpy as np
import pytest

from sovereel.feed import rerank
from sovereel.feed.cursor import InvalidCursor
from sovereel.feed.interface import (
    TASKS,
    CandidateWorld,
    Engagement,
    EngagementBucket,
    FeedPage,
    FeedRequest,
    Reason,
    VideoInfo,
)
from sovereel.feed.params import Params, default_params
from sovereel.feed.pipeline import ForYouRecommender, replay
from sovereel.feed.text_embed import HashingTextEmbedder
from tests.support.feed import DAY, NOW, DotScorer, build_co_engagement, topic_vector, video

TOPICS = ("cooking", "skate", "cats", "music")
CREATORS = {"cooking": ("alice", "bob"), "skate": ("carol", "dave"), "cats": ("erin", "frank"), "music": ("gus", "hal")}


def _region() -> tuple[dict[str, VideoInfo], dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    videos: dict[str, VideoInfo] = {}
    vectors: dict[str, np.ndarray] = {}
    for t, topic in enumerate(TOPICS):
        for i in range(10):
            creator = CREATORS[topic][i % 2]
            # Older than the exploration window: these compete on the model's predictions alone.
            v = video(f"{topic}{i}", creator, age_s=(8 + i / 3) * DAY, tags=(topic,), caption=f"{topic} clip {i}")
            videos[v.id] = v
            vectors[v.id] = topic_vector(t) + rng.normal(scale=0.2, size=4).astype(np.float32)
    for i in range(4):  # fresh uploads still in their first traffic pool
        v = video(f"fresh{i}", f"newbie{i}", age_s=600.0, tags=("music",), caption="my first video")
        videos[v.id] = v
        vectors[v.id] = np.zeros(4, dtype=np.float32)
    return videos, vectors


VIDEOS, VECTORS = _region()
USERS = {"cook_fan": topic_vector(0), "skater": topic_vector(1)}
POPULAR = tuple(EngagementBucket(f"skate{i}", "like", NOW - 3600, 50 - i) for i in range(5))


def _world(**kw: Any) -> CandidateWorld:
    return CandidateWorld(videos=dict(VIDEOS), region_engagement=POPULAR, **kw)


def _request(user: str | None = "cook_fan", limit: int = 10, now: float = NOW, **kw: Any) -> FeedRequest:
    return FeedRequest(user_id=user, region="default", limit=limit, now=now, **kw)


def _recommender(scorer: DotScorer | None = None, params: Params | None = None, **kw: Any) -> ForYouRecommender:
    return ForYouRecommender(scorer or DotScorer(USERS, VECTORS), params or default_params(), **kw)


def _ids(page: FeedPage) -> list[str]:
    return [item.video_id for item in page.items]


def test_a_personalised_page_follows_the_viewers_taste_and_explains_every_item() -> None:
    params = default_params()
    page = _recommender(params=params).recommend(_request(), _world())
    assert len(page.items) == 10
    topics = [VIDEOS[i.video_id].hashtags[0] for i in page.items]
    # Topic spacing allows every other slot at most; the viewer's topic takes all of those it can.
    assert topics.count("cooking") == 5 and topics[0] == "cooking"
    skater_topics = [VIDEOS[v].hashtags[0] for v in _ids(_recommender().recommend(_request("skater"), _world()))]
    assert skater_topics.count("skate") == 5
    for item in page.items:
        r = item.reason
        assert r.sources and r.model_version == "dot-1" and r.params_version == params.version
        assert set(r.terms) == set(TASKS)
        assert r.score == pytest.approx(sum(r.terms.values()))
        assert r.terms["share"] == pytest.approx(params.weights["share"] * r.inputs["predictions"]["share"])
        assert r.explanation and r.personalised
        assert r.inputs["video"]["id"] == item.video_id and r.inputs["user_id"] == "cook_fan"
    assert "embedding" in page.items[0].reason.sources


def test_the_same_request_gives_the_same_items_and_scores() -> None:
    first = _recommender().recommend(_request(), _world())
    second = _recommender().recommend(_request(), _world())
    assert [(i.video_id, i.reason.score) for i in first.items] == [(i.video_id, i.reason.score) for i in second.items]
    assert [i.reason.as_dict() for i in first.items] == [i.reason.as_dict() for i in second.items]
    assert first.next_cursor == second.next_cursor


def test_an_auditor_can_replay_every_score_from_its_reason() -> None:
    scorer, params = DotScorer(USERS, VECTORS), default_params()
    for item in _recommender(scorer, params).recommend(_request(), _world()).items:
        # As an auditor gets it: the stored JSON record, not the live object.
        stored = Reason(**json.loads(json.dumps(item.reason.as_dict())))
        score, terms = replay(scorer, params, stored)
        assert score == item.reason.score and terms == item.reason.terms
    with pytest.raises(ValueError, match="model"):
        replay(DotScorer(USERS, VECTORS, version="dot-2"), params, item.reason)


def test_paging_never_repeats_and_reaches_every_eligible_video() -> None:
    rec, world = _recommender(), _world()
    served: list[str] = []
    cursor = None
    for _ in range(20):
        page = rec.recommend(_request(cursor=cursor, limit=7), world)
        served += _ids(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(served) == len(set(served)) == len(VIDEOS)
    positions = [i.reason.inputs["position"] for i in page.items]
    assert positions[-1] == len(VIDEOS) - 1


def test_creator_spacing_holds_on_served_pages() -> None:
    rec, cursor, creators = _recommender(), None, []
    for _ in range(3):
        page = rec.recommend(_request(cursor=cursor), _world())
        creators += [VIDEOS[v].creator_id for v in _ids(page)]
        cursor = page.next_cursor
    for i in range(len(creators) - 2):
        assert len(set(creators[i : i + 3])) == 3, creators


def test_each_page_gives_new_videos_their_exploration_slot() -> None:
    page = _recommender().recommend(_request(), _world())
    explored = [i for i in page.items if i.reason.inputs["slot"] == "exploration"]
    assert len(explored) == 1 and explored[0].video_id.startswith("fresh")
    assert "New video being shown to a first audience" in explored[0].reason.explanation


def test_what_the_viewer_excluded_or_may_not_see_is_never_served() -> None:
    videos = dict(VIDEOS)
    videos["cooking1"] = dataclasses.replace(videos["cooking1"], moderation="removed")
    videos["cooking3"] = dataclasses.replace(videos["cooking3"], visibility="followers")
    world = CandidateWorld(
        videos=videos,
        seen=frozenset({"cooking2"}),
        hidden_creators=frozenset({"bob"}),
        keyword_filters=("clip 4",),
        not_interested_hashtags=frozenset({"cats"}),
    )
    rec, cursor, served = _recommender(), None, set()
    for _ in range(10):
        page = rec.recommend(_request(cursor=cursor), world)
        served |= set(_ids(page))
        if (cursor := page.next_cursor) is None:
            break
    assert cursor is None
    banned = {"cooking1", "cooking2", "cooking3", "skate4", "music4"} | {v for v in VIDEOS if v.startswith("cats")}
    banned |= {v.id for v in VIDEOS.values() if v.creator_id == "bob"}
    assert served and not served & banned


def test_a_followed_creators_video_says_whom_it_is_from() -> None:
    page = _recommender().recommend(_request(user="skater"), _world(following=frozenset({"carol"})))
    from_carol = [i for i in page.items if "following" in i.reason.sources]
    assert from_carol and all(VIDEOS[i.video_id].creator_id == "carol" for i in from_carol)
    assert all("From @carol, whom you follow" in i.reason.explanation for i in from_carol)


def test_non_personalised_mode_uses_nothing_about_the_viewer() -> None:
    scorer = DotScorer(USERS, VECTORS)
    rec = _recommender(scorer, embed_texts=HashingTextEmbedder())
    scorer.calls.clear()  # building the item index at start-up asks for item vectors, never about a viewer
    history = (Engagement("cooking0", "complete", NOW - 60), Engagement("cooking1", "like", NOW - 30))
    cook_world = _world(seen=frozenset({"skate0"}), recent_engagements=history, co_engagement={"cooking0": {"x": 1.0}})
    cook = rec.recommend(_request("cook_fan", personalised=False), cook_world)
    skater = rec.recommend(_request("skater", personalised=False), _world())
    assert scorer.calls == []
    assert [(i.video_id, i.reason.score) for i in cook.items] == [(i.video_id, i.reason.score) for i in skater.items]
    # Ranked by region popularity alone (spaced by topic); what the cook fan watched is not held back either.
    assert [v for v in _ids(cook) if v.startswith("skate")] == ["skate0", "skate1", "skate2", "skate3", "skate4"]
    for item in cook.items:
        assert not item.reason.personalised and item.reason.model_version == "none"
        assert set(item.reason.sources) <= {"trending", "exploration"}
        assert "not personalised" in item.reason.explanation[0]
        assert item.reason.inputs["user_id"] is None


def test_a_new_viewer_gets_popular_and_new_videos() -> None:
    page = _recommender().recommend(_request("newcomer"), _world())
    assert page.items
    assert {s for i in page.items for s in i.reason.sources} == {"trending", "exploration"}
    assert all(i.reason.inputs["cold_start"] for i in page.items)
    assert page.items[0].reason.explanation[0].startswith("You are new here")
    signed_out = _recommender().recommend(_request(None), _world())
    assert {s for i in signed_out.items for s in i.reason.sources} <= {"trending", "exploration"}
    assert signed_out.items[0].reason.explanation[0].startswith("You are not signed in")


def test_a_new_viewer_who_finishes_a_video_sees_related_ones_on_the_next_page() -> None:
    rec = _recommender(embed_texts=HashingTextEmbedder())
    before = rec.recommend(_request("newcomer"), _world())
    table = build_co_engagement([["cats0", "cats5"], ["cats0", "cats5"], ["cats0", "cats7"]])
    liked = (Engagement("cats0", "complete", NOW - 5),)
    after = rec.recommend(_request("newcomer"), _world(recent_engagements=liked, co_engagement=table))
    new = set(_ids(after)) - set(_ids(before))
    assert {"cats5", "cats7"} <= new
    cats5 = next(i for i in after.items if i.video_id == "cats5")
    assert {"co_engagement", "content"} <= set(cats5.reason.sources)


def test_swapping_the_model_changes_the_version_and_the_ranking() -> None:
    rec = _recommender()
    rec.scorer = DotScorer({"cook_fan": topic_vector(2)}, VECTORS, version="dot-2")  # now the model says cats
    page = rec.recommend(_request(), _world())
    assert {i.reason.model_version for i in page.items} == {"dot-2"}
    assert page.items[0].video_id.startswith("cats")


def test_a_forged_cursor_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        _recommender().recommend(_request(cursor="not-a-cursor!"), _world())
    with pytest.raises(InvalidCursor):
        _recommender().recommend(_request(cursor="A" * 5000), _world())


def test_a_scorer_that_skips_a_task_is_a_loud_error() -> None:
    class Broken(DotScorer):
        def predict(self, user_id: str | None, videos: list[VideoInfo], now: float) -> dict[str, Any]:
            out = super().predict(user_id, videos, now)
            del out["follow"]
            return out

    with pytest.raises(ValueError, match="follow"):
        _recommender(Broken(USERS, VECTORS)).recommend(_request(), _world())


def test_captions_embedded_ahead_of_time_are_not_embedded_again_in_a_request() -> None:
    batches: list[int] = []
    embedder = HashingTextEmbedder()

    def counting(texts: list[str]) -> np.ndarray:
        batches.append(len(texts))
        return embedder(texts)

    rec = _recommender(embed_texts=counting)
    rec.index_texts(VIDEOS)
    assert sum(batches) == len(VIDEOS)
    world = _world(recent_engagements=(Engagement("cats0", "like", NOW),))
    world.videos["late"] = video("late", "ivy", tags=("cats",), caption="cats clip late")
    page = rec.recommend(_request("newcomer"), world)
    assert sum(batches) == len(VIDEOS) + 1  # only the video published since
    assert any("content" in i.reason.sources for i in page.items)


def test_swapping_models_under_concurrent_requests_fails_none_and_never_mixes_versions() -> None:
    rec = _recommender()
    errors: list[BaseException] = []
    versions_per_page: list[set[str]] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                page = rec.recommend(_request(), _world())
                versions_per_page.append({i.reason.model_version for i in page.items})
            except BaseException as exc:  # any failure at all is what this test looks for
                errors.append(exc)

    threads = [threading.Thread(target=serve) for _ in range(3)]
    for t in threads:
        t.start()
    for n in range(2, 8):
        rec.scorer = DotScorer(USERS, {k: v * n for k, v in VECTORS.items()}, version=f"dot-{n}")
        served = len(versions_per_page)
        deadline = time.monotonic() + 5
        while len(versions_per_page) < served + 2 and time.monotonic() < deadline:  # pages served between swaps
            time.sleep(0.001)
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert len(versions_per_page) >= 12 and all(len(v) == 1 for v in versions_per_page)
    assert {v for vs in versions_per_page for v in vs} >= {"dot-7"}


def test_a_platform_that_tracks_the_scroll_itself_gets_no_repeats_in_either_mode() -> None:
    rec = _recommender()
    for personalised in (True, False):
        served: set[str] = set()
        for step in range(3):  # no cursor passed on: the platform lists what this scroll was served
            request = _request(limit=3, personalised=personalised, now=NOW + step)
            page = rec.recommend(request, _world(served=frozenset(served)))
            assert page.items and not set(_ids(page)) & served
            served |= set(_ids(page))


def test_a_page_hands_its_best_unplaced_candidates_to_the_next_page_which_the_model_ranks_as_it_is_then() -> None:
    scorer, params = DotScorer(USERS, VECTORS), default_params()
    rec, world = _recommender(scorer, params), _world()
    first = rec.recommend(_request(limit=5), world)
    carry = first.carry
    assert carry and not first.from_carry
    assert not set(carry) & set(_ids(first))  # only what the page did not place
    assert len(carry) <= (rerank.CARRY_RANKED + rerank.CARRY_EXPLORATION) * 5
    assert any(v.startswith("fresh") for v in carry)  # enough new videos for the next exploration slot
    # Between the pages the viewer's taste turned from cooking to skating (the online model moved).
    rec.scorer = DotScorer({"cook_fan": topic_vector(1)}, VECTORS, version="dot-2")
    second = rec.recommend(_request(limit=5, cursor=first.next_cursor), dataclasses.replace(world, carried=carry))
    assert second.from_carry and len(second.items) == 5
    assert set(_ids(second)) <= set(carry) and not set(_ids(second)) & set(_ids(first))
    assert VIDEOS[second.items[0].video_id].hashtags == ("skate",)  # ranked by the model as it is now
    for item in second.items:
        assert item.reason.inputs["carried"] is True and item.reason.model_version == "dot-2"
        assert set(item.reason.sources) == set(carry[item.video_id])  # what proposed it, on the first page
        stored = Reason(**json.loads(json.dumps(item.reason.as_dict())))
        assert replay(rec.scorer, params, stored) == (item.reason.score, item.reason.terms)
    assert second.next_cursor is not None and second.carry  # the sources may have more: the scroll goes on


def test_a_carried_page_drops_what_the_viewer_has_since_excluded_and_asks_the_sources_when_too_few_are_left() -> None:
    rec, world = _recommender(), _world()
    first = rec.recommend(_request(limit=5), world)
    carried_creators = {VIDEOS[v].creator_id for v in first.carry}
    blocked = frozenset(sorted(carried_creators)[:2])
    second = rec.recommend(
        _request(limit=5, cursor=first.next_cursor), _world(carried=first.carry, hidden_creators=blocked)
    )
    assert second.from_carry and not {VIDEOS[v].creator_id for v in _ids(second)} & blocked
    # Every carried candidate has since been watched: the page comes from the sources, full, and repeats nothing.
    third = rec.recommend(
        _request(limit=5, cursor=first.next_cursor), _world(carried=first.carry, seen=frozenset(first.carry))
    )
    assert not third.from_carry and len(third.items) == 5
    assert not set(_ids(third)) & (set(first.carry) | set(_ids(first)))
    assert all("carried" not in i.reason.inputs for i in third.items)


def test_a_non_personalised_page_carries_nothing() -> None:
    page = _recommender().recommend(_request(personalised=False, limit=3), _world())
    assert page.items and page.next_cursor is not None and not page.carry
