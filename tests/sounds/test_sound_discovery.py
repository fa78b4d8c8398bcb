"""Sounds are found through search and on hashtag pages, only where their viewer may see them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sovereel.runtime.region import RegionRuntime
from tests.sounds.test_use_sound import original, upload_with
from tests.support.api import process_all, signup
from tests.support.sound_clips import make_melody_clip

pytestmark = pytest.mark.usefixtures("ffmpeg")


def test_search_and_hashtag_pages_show_sounds(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    _, _, sound_id = original(client, rt, tmp_path, caption="my song #tune")
    ben = signup(client, "ben")
    upload_with(client, ben, make_melody_clip(tmp_path / "b.mp4", seed=31, duration_s=3), sound_id=sound_id,
                caption="dancing #tune")  # fmt: skip
    process_all(rt)
    found = client.get("/api/search", params={"q": "ana"}).json()["sounds"]
    assert found == [{"id": sound_id, "title": "original sound – @ana", "url": f"/sounds/{sound_id}", "video_count": 2}]
    assert [x["id"] for x in client.get("/api/search", params={"q": "original sound"}).json()["sounds"]] == [sound_id]
    assert client.get("/api/search", params={"q": "zzz"}).json()["sounds"] == []
    assert 'data-testid="search-sound"' in client.get("/search", params={"q": "ana"}).text
    tag = client.get("/api/hashtags/tune").json()
    assert [x["id"] for x in tag["sounds"]] == [sound_id] and tag["sounds"][0]["video_count"] == 2
    assert "original sound – @ana" in client.get("/tag/tune").text


def test_private_sounds_stay_out_of_search_and_hashtags(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    ana, _, sound_id = original(client, rt, tmp_path, caption="secret #hush", visibility="private")
    assert client.get("/api/search", params={"q": "ana"}).json()["sounds"] == []
    assert [x["id"] for x in client.get("/api/search", params={"q": "ana"}, headers=ana).json()["sounds"]] == [sound_id]
    assert client.get("/api/hashtags/hush", headers=ana).json()["sounds"][0]["id"] == sound_id
    anonymous = client.get("/api/hashtags/hush")
    assert anonymous.status_code == 200 and anonymous.json()["videos"] == [] and anonymous.json()["sounds"] == []
