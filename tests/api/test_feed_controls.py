"""The viewer's For You controls through the API: each one visibly changes the next page."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sovereel.runtime.region import RegionRuntime
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip

pytestmark = pytest.mark.usefixtures("ffmpeg")


@pytest.fixture
def feed_world(sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path) -> dict[str, dict[str, str]]:
    """Two creators (cooking, travel), three videos each, and a viewer."""
    cook, hiker = signup(sqlite_client, "cook"), signup(sqlite_client, "hiker")
    clip = make_clip(tmp_path / "c.mp4", duration_s=1.0)
    for i in range(3):
        assert upload(sqlite_client, cook, clip, f"Soup number {i} #cooking").status_code == 202
        assert upload(sqlite_client, hiker, clip, f"Ridge walk {i} #travel #mountains").status_code == 202
    assert process_all(sqlite_rt) == 6
    return {"viewer": signup(sqlite_client, "viewer"), "cook": cook, "hiker": hiker}


def feed_captions(client: TestClient, headers: dict[str, str]) -> list[str]:
    page = client.get("/api/feed/foryou", params={"limit": 20}, headers=headers)
    assert page.status_code == 200, page.text
    return [item["caption"] for item in page.json()["items"]]


def test_not_interested_in_a_creator_hashtag_or_video(sqlite_client: TestClient, feed_world: dict) -> None:
    viewer = feed_world["viewer"]
    assert len(feed_captions(sqlite_client, viewer)) == 6
    r = sqlite_client.post("/api/feed/not-interested", headers=viewer, json={"kind": "creator", "value": "cook"})
    assert r.status_code == 200
    assert {"kind": "creator", "value": "cook"} in r.json()["not_interested"]
    captions = feed_captions(sqlite_client, viewer)
    assert captions and all("#travel" in c for c in captions)

    sqlite_client.request(
        "DELETE", "/api/feed/not-interested", headers=viewer, json={"kind": "creator", "value": "cook"}
    )
    sqlite_client.post("/api/feed/not-interested", headers=viewer, json={"kind": "hashtag", "value": "#Mountains"})
    captions = feed_captions(sqlite_client, viewer)
    assert captions and all("#cooking" in c for c in captions)

    one = sqlite_client.get("/api/feed/foryou", params={"limit": 1}, headers=viewer).json()["items"][0]
    sqlite_client.post("/api/feed/not-interested", headers=viewer, json={"kind": "video", "value": one["id"]})
    assert one["caption"] not in feed_captions(sqlite_client, viewer)

    bad = sqlite_client.post("/api/feed/not-interested", headers=viewer, json={"kind": "planet", "value": "x"})
    assert bad.status_code == 422
    missing = sqlite_client.post("/api/feed/not-interested", headers=viewer, json={"kind": "creator", "value": "ghost"})
    assert missing.status_code == 404
    assert sqlite_client.post("/api/feed/not-interested", json={"kind": "video", "value": "x"}).status_code == 401


def test_keyword_filters(sqlite_client: TestClient, feed_world: dict) -> None:
    viewer = feed_world["viewer"]
    r = sqlite_client.put("/api/me/feed-settings", headers=viewer, json={"keyword_filters": ["Soup", " soup ", ""]})
    assert r.json()["keyword_filters"] == ["soup"]
    captions = feed_captions(sqlite_client, viewer)
    assert captions and not any("Soup" in c for c in captions)
    too_long = sqlite_client.put("/api/me/feed-settings", headers=viewer, json={"keyword_filters": ["x" * 51]})
    assert too_long.status_code == 422


def test_personalisation_off_is_recorded_and_honoured_in_new_sessions(
    sqlite_client: TestClient, feed_world: dict
) -> None:
    viewer = feed_world["viewer"]
    assert sqlite_client.get("/api/me/feed-settings", headers=viewer).json()["personalised"] is True
    r = sqlite_client.put("/api/me/feed-settings", headers=viewer, json={"personalised": False})
    assert r.json()["personalised"] is False
    login = sqlite_client.post("/api/auth/login", json={"username": "viewer", "password": "correct horse battery"})
    fresh = {"Authorization": f"Bearer {login.json()['token']}"}
    assert sqlite_client.get("/api/me/feed-settings", headers=fresh).json()["personalised"] is False
    items = sqlite_client.get("/api/feed/foryou", params={"limit": 5}, headers=fresh).json()["items"]
    assert items
    why = sqlite_client.get(f"/api/videos/{items[0]['id']}/why", headers=fresh).json()
    assert why["personalised"] is False
    assert any("personal" in sentence.lower() for sentence in why["explanation"])


def test_why_this_video_and_refresh(sqlite_client: TestClient, feed_world: dict) -> None:
    viewer = feed_world["viewer"]
    item = sqlite_client.get("/api/feed/foryou", params={"limit": 1}, headers=viewer).json()["items"][0]
    why = sqlite_client.get(f"/api/videos/{item['id']}/why", headers=viewer)
    assert why.status_code == 200
    body = why.json()
    assert body["explanation"] and body["sources"] and body["model_version"] and body["params_version"]
    assert isinstance(body["terms"], dict)
    other = feed_world["cook"]
    assert sqlite_client.get(f"/api/videos/{item['id']}/why", headers=other).status_code == 404
    refreshed = sqlite_client.post("/api/feed/refresh", headers=viewer).json()
    assert refreshed["profile_reset_at"] is not None
