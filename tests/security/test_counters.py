"""Issue 14 item 4: public counters count a viewer once per video per UTC day, and so do the ranking inputs.

Views (the first `play`) and shares rise by one per viewer (account, or address when signed out), video and
day, however many events, client ids or requests are sent; shares are also rate limited per address. Trending,
exposure and the model's per-video statistics weigh one account's flood like one viewer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sovereel.api.app import create_app
from sovereel.feed.interface import CandidateWorld, VideoInfo
from sovereel.feed.trending import trending_scores
from sovereel.runtime.region import RegionRuntime, open_runtime
from tests.support.api import signup
from tests.support.counters import deliver, events, ready_video, user_id
from tests.support.settings import make_settings


def views(client: TestClient, vid: str) -> int:
    return int(client.get(f"/api/videos/{vid}").json()["view_count"])


def shares(client: TestClient, vid: str) -> int:
    return int(client.get(f"/api/videos/{vid}").json()["share_count"])


def test_replayed_plays_from_one_account_count_one_view(client: TestClient, rt: RegionRuntime) -> None:
    ana, fan, flooder = signup(client, "ana"), signup(client, "fan"), signup(client, "flooder")
    vid = ready_video(rt, user_id(client, ana))
    assert client.post("/api/events", headers=fan, json=events(vid, "play")).status_code == 200
    assert views(client, vid) == 1
    for _ in range(2):  # the probe: two batches of 500 plays with fresh client ids
        r = client.post("/api/events", headers=flooder, json=events(vid, "play", 500))
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 500  # still recorded for learning, just not counted again
    assert views(client, vid) == 2


def test_each_signed_in_viewer_counts_once(client: TestClient, rt: RegionRuntime) -> None:
    ana = signup(client, "ana")
    vid = ready_video(rt, user_id(client, ana))
    for name in ("one", "two"):
        viewer = signup(client, name)
        for _ in range(3):
            assert client.post("/api/events", headers=viewer, json=events(vid, "play", 2)).status_code == 200
    assert views(client, vid) == 2


def test_share_floods_count_once_per_viewer(client: TestClient, rt: RegionRuntime) -> None:
    ana, fan = signup(client, "ana"), signup(client, "fan")
    vid = ready_video(rt, user_id(client, ana))
    for _ in range(20):  # anonymous, one address
        r = client.post(f"/api/videos/{vid}/share", json={"channel": "link"})
        assert r.status_code == 200, r.text
        assert r.json()["share_count"] == 1
    for _ in range(20):  # a signed-in viewer is a second viewer, however often they share
        assert client.post(f"/api/videos/{vid}/share", headers=fan).json()["share_count"] == 2
    assert shares(client, vid) == 2


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[TestClient, RegionRuntime]]:
    settings = make_settings(tmp_path, rate_limits=True, rate_share_ip="5/3600")
    rt = open_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=rt, start_background=False)) as c:
            yield c, rt
    finally:
        rt.close()


def test_shares_past_the_limit_are_refused(limited: tuple[TestClient, RegionRuntime]) -> None:
    client, rt = limited
    ana = signup(client, "ana")
    vid = ready_video(rt, user_id(client, ana))
    for _ in range(5):
        assert client.post(f"/api/videos/{vid}/share").status_code == 200
    r = client.post(f"/api/videos/{vid}/share", headers=ana)  # signing in does not lift the address's limit
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert "shares" in r.json()["error"]["message"]
    assert shares(client, vid) == 1


def test_one_account_floods_ranking_inputs_like_one_viewer(client: TestClient, rt: RegionRuntime) -> None:
    """Trending, exposure and the model's per-video statistics: 500 completes by one account weigh like one."""
    ana, honest, flooder = signup(client, "ana"), signup(client, "honest"), signup(client, "flooder")
    creator = user_id(client, ana)
    calm, flooded = ready_video(rt, creator), ready_video(rt, creator)
    for kind in ("impression", "play", "complete"):
        assert client.post("/api/events", headers=honest, json=events(calm, kind, watched_s=10.0)).status_code == 200
        for _ in range(2):
            r = client.post("/api/events", headers=flooder, json=events(flooded, kind, 250, watched_s=10.0))
            assert r.status_code == 200, r.text
    share = client.post(f"/api/videos/{calm}/share", headers=honest)
    assert share.status_code == 200
    for _ in range(30):
        assert client.post(f"/api/videos/{flooded}/share", headers=flooder).status_code == 200
    deliver(rt)

    state = rt.learner.state
    exposure = state.exposure()
    assert exposure[flooded] == exposure[calm]  # impressions, completes and engagements: one viewer each
    now = time.time()
    world = CandidateWorld(
        videos={v: VideoInfo(id=v, creator_id=creator, created_at=now - 60, duration_s=10.0) for v in (calm, flooded)},
        region_engagement=state.region_engagement(now),
    )
    scores = trending_scores(world, rt.learner.recommender.params.trending, now)
    assert scores[flooded] == pytest.approx(scores[calm], rel=0.05)

    model = rt.learner.scorer.model
    with rt.learner.scorer.lock:
        rt.learner.scorer.apply_pending()
        cols = np.array([model.catalogue.col[calm], model.catalogue.col[flooded]])
        shown = model.catalogue.viewers(cols)
    assert shown[1] == shown[0] == 1.0
