"""After an upgrade that changes ranker inputs other than by appending (appended ones, like the sound features,
are read with zero weight by older versions: `RankerNet.widen_inputs`), a version trained on the old inputs cannot
be loaded: the region keeps serving, never retries it in a loop, and trains a replacement when its schedule runs."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from sovereel.feed import model_io
from sovereel.feed.features import FEATURES
from sovereel.feed.row_scoring import UNTRAINED
from sovereel.foryou.learner import Learner
from sovereel.foryou.training import train_version
from sovereel.runtime.region import RegionRuntime
from tests.support.api import signup
from tests.support.foryou import TOPICS, seed_ready_videos


def test_a_version_trained_on_other_ranker_inputs_leaves_the_region_serving(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    creators = {}
    for topic in TOPICS:
        for k in range(2):
            headers = signup(sqlite_client, f"{topic}{k}")
            creators[f"{topic}{k}"] = sqlite_client.get("/api/me", headers=headers).json()["id"]
    topic_of = seed_ready_videos(sqlite_rt, creators)
    viewer = signup(sqlite_client, "val")
    for vid in sorted(topic_of)[:3]:
        assert sqlite_client.post(f"/api/videos/{vid}/like", headers=viewer).status_code == 200
    region_dir = sqlite_rt.settings.region_dir
    version, _ = train_version(sqlite_rt.db, region_dir, epochs=1)
    serving = sqlite_rt.learner.scorer.model.version
    # The code now computes another last input than the version was trained on (a change no zero weight bridges).
    monkeypatch.setattr(model_io, "FEATURES", (*FEATURES[:-1], "an_input_of_a_later_release"))

    sqlite_rt.learner.watch_registry(interval_s=0.05)
    deadline = time.monotonic() + 10
    while version not in sqlite_rt.learner.incompatible and time.monotonic() < deadline:
        time.sleep(0.05)
    assert version in sqlite_rt.learner.incompatible, "the watcher never tried the new version"
    assert sqlite_rt.learner.scorer.model.version == serving  # the model it had keeps serving
    r = sqlite_client.get("/api/feed/foryou", params={"limit": 5}, headers=viewer)
    assert r.status_code == 200 and r.json()["items"], r.text

    # A restart on the new code starts untrained, rather than failing, and knows to train a replacement.
    restarted = Learner(sqlite_rt.db, region_dir)
    assert restarted.scorer.model.base_version == UNTRAINED and version in restarted.incompatible
