"""Explanations in words: each sentence backed by the Reason or by the viewer's own actions."""

from __future__ import annotations

from typing import Any

from sovereel.feed.explain import ExplainContext, explain, hashtag_history
from sovereel.feed.interface import CandidateWorld, Engagement, Reason, VideoInfo
from tests.support.feed import NOW, video

PASTA = video("pasta", "alice", tags=("cooking", "pasta"), caption="Pasta night", creator_name="alice")


def _reason(sources: list[str], personalised: bool = True, **terms: float) -> Reason:
    return Reason(
        sources=sources, model_version="m", params_version="p", score=1.0, terms=terms, personalised=personalised
    )


def _world(*videos: VideoInfo, **kw: Any) -> CandidateWorld:
    return CandidateWorld(videos={v.id: v for v in (PASTA, *videos)}, **kw)


def _completes(n: int, tag: str) -> tuple[list[VideoInfo], tuple[Engagement, ...]]:
    videos = [video(f"{tag}{i}", f"c{i}", tags=(tag,)) for i in range(n)]
    return videos, tuple(Engagement(v.id, "complete", NOW - 60) for v in videos)


def test_you_watched_n_videos_tagged_x_to_the_end() -> None:
    cooked, engagements = _completes(3, "cooking")
    # Watching one of them twice does not make it four videos.
    world = _world(*cooked, recent_engagements=(*engagements, Engagement("cooking0", "complete", NOW)))
    assert hashtag_history(PASTA, world) == "You watched 3 videos tagged #cooking to the end"
    sentences = explain(_reason(["embedding"]), ExplainContext(PASTA, world))
    assert "You watched 3 videos tagged #cooking to the end" in sentences
    assert "Similar to videos you watched and liked" in sentences


def test_one_video_reads_in_the_singular_and_likes_count_when_nothing_was_finished() -> None:
    cooked, engagements = _completes(1, "pasta")
    assert hashtag_history(PASTA, _world(*cooked, recent_engagements=engagements)) == (
        "You watched a video tagged #pasta to the end"
    )
    liked = video("liked", "bob", tags=("cooking",))
    world = _world(liked, recent_engagements=(Engagement("liked", "like", NOW),))
    assert hashtag_history(PASTA, world) == "You liked a video tagged #cooking"
    assert hashtag_history(PASTA, _world()) is None


def test_source_sentences() -> None:
    world = _world(following=frozenset({"alice"}))
    sentences = explain(_reason(["following", "trending"]), ExplainContext(PASTA, world))
    assert sentences[:2] == ["From @alice, whom you follow", "Popular in your region"]


def test_exploration_says_which_audience_the_video_is_being_shown_to() -> None:
    first = explain(_reason(["exploration"]), ExplainContext(PASTA, _world(), via={"exploration": "pool 0"}))
    assert "New video being shown to a first audience" in first
    wider = explain(
        _reason(["exploration"]), ExplainContext(PASTA, _world(), via={"exploration": "pool 2"}, slot="exploration")
    )
    assert any("wider audience" in s for s in wider)
    assert "Shown in a slot kept for new videos" in wider


def test_co_engagement_and_content_name_the_video_that_led_here() -> None:
    seed = video("seed", "bob", tags=("cooking",), creator_name="bobcooks")
    world = _world(seed, recent_engagements=(Engagement("seed", "complete", NOW), Engagement("seed", "like", NOW)))
    ctx = ExplainContext(PASTA, world, via={"co_engagement": "seed", "content": "seed"})
    sentences = explain(_reason(["co_engagement", "content"]), ctx)
    assert "Often watched together with a video by @bobcooks that you liked" in sentences
    assert "Tagged #cooking, like a video by @bobcooks that you liked" in sentences


def test_the_largest_score_term_is_named() -> None:
    sentences = explain(_reason(["trending"], complete=0.2, share=0.9, like=0.1), ExplainContext(PASTA, _world()))
    assert sentences[-1] == "Ranked mostly by the predicted chance that you share it"


def test_non_personalised_items_say_so_and_never_cite_the_viewers_activity() -> None:
    cooked, engagements = _completes(3, "cooking")
    world = _world(*cooked, recent_engagements=engagements)
    sentences = explain(_reason(["trending"], personalised=False, popularity=1.0), ExplainContext(PASTA, world))
    assert "not personalised" in sentences[0]
    assert not any("You watched" in s or "predicted chance" in s for s in sentences)
    assert "Popular in your region" in sentences


def test_a_new_viewer_is_told_why_they_see_popular_and_new_videos() -> None:
    sentences = explain(_reason(["trending"]), ExplainContext(PASTA, _world(), cold_start=True))
    assert sentences[0].startswith("You are new here")
