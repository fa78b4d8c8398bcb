"""The ranker learns from what viewers did with what they were shown, and remembers what they swiped away."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from sovereel.feed import train
from sovereel.feed.features import FEATURES
from sovereel.feed.interface import VideoInfo
from sovereel.feed.model import Event, FeedModel
from sovereel.feed.train import cross_fit_lists, fold_events
from tests.feed.test_model import SMALL, world


def quality_world(seed: int = 3) -> tuple[list[VideoInfo], list[Event], np.ndarray]:
    """40 videos of one hashtag with a hidden quality (the chance a viewer finishes it) and an exposure (how many
    of the 80 viewers were shown it: 5-10 or 60-79) drawn independently: many engagements can mean "shown a lot"."""
    rng = np.random.default_rng(seed)
    n_videos, n_users = 40, 80
    quality = rng.uniform(0.05, 0.95, n_videos)
    exposure = np.where(rng.random(n_videos) < 0.5, rng.integers(5, 11, n_videos), rng.integers(60, n_users, n_videos))
    videos = [
        VideoInfo(id=f"q{i}", creator_id=f"c{i}", created_at=0.0, duration_s=20.0, hashtags=("all",))
        for i in range(n_videos)
    ]
    events: list[Event] = []
    t = 1_000.0
    for i, v in enumerate(videos):
        for u in rng.permutation(n_users)[: exposure[i]]:
            t += 10.0
            events.append(Event(f"u{u}", v.id, t, "impression", 0.0, 20.0))
            if rng.random() < quality[i]:
                events.append(Event(f"u{u}", v.id, t + 1, "complete", 20.0, 20.0))
            else:
                events.append(Event(f"u{u}", v.id, t + 1, "skip", 2.0, 20.0))
    return videos, events, quality


def test_impression_lists_hold_every_shown_video_once_with_its_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train, "COLD_EVERY", 10**9)  # without the stranger copies (the next test)
    videos, events = world()
    model = FeedModel(replace(SMALL, slices=4, folds=4))
    model.describe(videos)
    data = fold_events(model, events)
    completed = {(e.user_id, e.video_id) for e in events if e.kind == "complete"}
    shown = {(e.user_id, e.video_id) for e in events if e.kind == "impression"}
    assert len(data.users) == len(completed)
    assert len(data.shown_users) == len(shown - completed)  # every skipped video is a negative, none twice
    lists = cross_fit_lists(model, data)
    assert lists.mask is not None  # the log records impressions: the ranker learns from them
    assert int(lists.mask.sum()) == len(shown)  # with folds == slices every impression is held out exactly once
    assert int(lists.targets[..., 0].sum()) == len(completed)  # ... labelled "complete" exactly when it was
    assert not lists.targets[~lists.mask].any()  # padding carries no label


def test_some_impression_lists_are_also_learnt_as_a_stranger_would_have_seen_them() -> None:
    videos, events = world()
    model = FeedModel(replace(SMALL, slices=4, folds=4))
    model.describe(videos)
    lists = cross_fit_lists(model, fold_events(model, events))
    assert lists.mask is not None
    activity = lists.features[:, 0, FEATURES.index("user_log_activity")]
    strangers = activity == 0  # every viewer in this world has a history: these are the copies without it
    assert 0.8 / (train.COLD_EVERY + 1) < strangers.mean() < 1.5 / (train.COLD_EVERY + 1)
    assert int(lists.mask[strangers].sum()) > 0


def test_a_log_of_ratings_alone_trains_on_retrieved_candidates() -> None:
    videos, events = world()
    ratings = [e for e in events if e.kind == "complete"]  # no impressions, no skips: like MovieLens
    model = FeedModel(SMALL)
    model.fit(ratings, videos)
    assert model.manifest["ranker_lists_kind"] == "retrieval"
    model.fit(events, videos)
    assert model.manifest["ranker_lists_kind"] == "impressions"


def test_a_video_most_of_its_few_viewers_finish_outranks_one_only_many_views_made_popular() -> None:
    torch.set_num_threads(1)
    videos, events, quality = quality_world()
    model = FeedModel(replace(SMALL, candidates=40, slices=4, folds=4, epochs=12))
    model.fit(events, videos)
    engagements = np.array([sum(e.video_id == v.id and e.kind == "complete" for e in events) for v in videos])
    by_popularity = spearmanr(engagements, quality).statistic
    assert by_popularity < 0.6  # in this world many engagements mostly mean "shown a lot"
    for viewer in ("newcomer", "u0"):  # a stranger, and a viewer with a history
        predicted = model.predict(viewer, videos, now=events[-1].ts)["complete"]
        assert spearmanr(predicted, quality).statistic > by_popularity + 0.1
        assert quality[int(np.argmax(predicted))] > 0.8


def test_swiping_away_a_hashtag_lowers_it_at_once_and_refresh_forgets_it(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    videos, events = world()
    model = FeedModel(SMALL)
    model.fit(events, videos)
    t = events[-1].ts + 100.0
    jazz = [v for v in videos if v.hashtags == ("jazz",)]
    cooking = [v for v in videos if v.hashtags == ("cooking",)]
    model.observe([Event("newbie", cooking[0].id, t, "complete", 10.0, 10.0)])
    rest = jazz[4:]
    before = model.predict("newbie", rest, t)["complete"]
    model.observe([Event("newbie", v.id, t + 1 + n, "skip", 1.0, v.duration_s) for n, v in enumerate(jazz[:4])])
    after = model.predict("newbie", rest, t + 10)["complete"]
    assert after.mean() < 0.5 * before.mean()
    cols = np.array([[model.catalogue.col[v.id] for v in rest]])
    feats = model.features(["newbie"], cols, np.array([t + 10]))[0]
    assert (feats[:, FEATURES.index("hashtag_rejection")] > 0.5).all()

    model.save(tmp_path / "v")
    loaded = FeedModel.load(tmp_path / "v")
    assert loaded.rejections["newbie"] == model.rejections["newbie"]  # the swipe-aways survive a restart
    assert np.array_equal(loaded.catalogue.shown, model.catalogue.shown)

    model.forget_user("newbie")  # "Refresh For You"
    assert "newbie" not in model.rejections
    feats = model.features(["newbie"], cols, np.array([t + 10]))[0]
    assert not feats[:, FEATURES.index("hashtag_rejection")].any()


def test_a_version_trained_on_other_ranker_inputs_is_refused_with_a_clear_reason(tmp_path: Path) -> None:
    videos, events = world()
    model = FeedModel(SMALL)
    model.fit(events, videos)
    manifest = model.save(tmp_path / "v")
    text = manifest.read_text().replace('"item_log_shown"', '"some_old_input"')
    manifest.write_text(text)
    with pytest.raises(ValueError, match="different set of ranker inputs"):
        FeedModel.load(tmp_path / "v")
