"""The ranker's sound inputs: the candidate's sound against the viewer's engaged and swiped-away videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sovereel.feed.features import FEATURES, SOUND_FEATURES
from sovereel.feed.interface import VideoInfo
from sovereel.feed.model import FeedModel, ModelConfig


def _model() -> FeedModel:
    model = FeedModel(ModelConfig(dim=8, epochs=1))
    sounds = ["song", "song", "song", "drums", "drums", None, "song"]
    model.describe(
        [
            VideoInfo(id=f"v{i}", creator_id=f"c{i}", created_at=0.0, duration_s=10.0, sound_id=s)
            for i, s in enumerate(sounds)
        ]
    )
    # The viewer engaged with two "song" videos and a silent one, and swiped away a "drums" one.
    model.history = {"fan": {0: 1.0, 1: 1.0, 5: 1.0}}
    model.rejections = {"fan": {3: 100.0}}
    return model


def _sound_columns(model: FeedModel, user: str | None) -> dict[str, np.ndarray]:
    cols = np.array([[6, 4, 5]], dtype=np.int64)  # a "song" video, a "drums" video and a silent one
    feats = model.features([user], cols, np.array([1000.0]))[0]
    return {name: feats[:, FEATURES.index(name)] for name in SOUND_FEATURES}


def test_the_sound_inputs_come_last_so_the_earlier_inputs_keep_their_places() -> None:
    assert FEATURES[-len(SOUND_FEATURES) :] == SOUND_FEATURES
    assert FEATURES.index("agg_order_far_npos") == len(FEATURES) - len(SOUND_FEATURES) - 1


def test_a_viewers_history_with_a_sound_shows_in_its_videos_inputs() -> None:
    got = _sound_columns(_model(), "fan")
    assert np.allclose(got["sound_share"], [2 / 3, 0.0, 0.0])  # two of three engaged videos use "song"
    assert np.allclose(got["sound_rejection"], [0.0, 1 / 2, 0.0])  # one swipe-away, no engagement: 1 / (1 + 0 + 1)
    assert np.allclose(got["sound_log_uses"], [np.log1p(4), np.log1p(2), 0.0])


def test_a_viewer_without_history_gets_only_the_sounds_catalogue_uses() -> None:
    got = _sound_columns(_model(), None)
    assert not got["sound_share"].any() and not got["sound_rejection"].any()
    assert np.allclose(got["sound_log_uses"], [np.log1p(4), np.log1p(2), 0.0])


def test_a_saved_version_keeps_its_videos_sounds(tmp_path: Path) -> None:
    model = _model()
    loaded = FeedModel.load(model.save(tmp_path / "v").parent)
    assert loaded.catalogue.sound_ids == model.catalogue.sound_ids
    assert np.allclose(_sound_columns(loaded, "fan")["sound_share"], [2 / 3, 0.0, 0.0])


def test_the_sound_inputs_start_at_zero_weight_and_leave_the_seeded_initialisation_as_it_was() -> None:
    import torch

    from sovereel.feed.ranker_net import RankerNet

    net = RankerNet(len(FEATURES), 16, 0.0, 2, seed=5)
    for m, member in enumerate(net.members):
        torch.manual_seed(5 + m)
        before = torch.nn.Linear(len(FEATURES) - len(SOUND_FEATURES), 16)  # the first layer before sounds
        assert torch.equal(member[0].weight[:, : before.in_features], before.weight)
        assert not member[0].weight[:, before.in_features :].any()
