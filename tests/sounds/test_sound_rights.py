"""Data rights: erasing an account removes its original sounds' audio; deleting a video retires its sound."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sovereel.governance.residency import user_columns
from sovereel.runtime.region import RegionRuntime
from tests.sounds.test_use_sound import original, upload_with
from tests.support.api import process_all, signup
from tests.support.sound_clips import make_melody_clip

pytestmark = pytest.mark.usefixtures("ffmpeg")
PASSWORD = "correct horse battery"


def stored_sounds(rt: RegionRuntime) -> list[Path]:
    return list((rt.settings.region_dir / "media" / "sounds").rglob("*.m4a"))


def test_erasing_the_account_removes_its_sounds_audio(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    ana, _, sound_id = original(client, rt, tmp_path)
    ben = signup(client, "ben")
    r = upload_with(client, ben, make_melody_clip(tmp_path / "b.mp4", seed=2, duration_s=3), sound_id=sound_id)
    process_all(rt)
    assert stored_sounds(rt)
    assert client.request("DELETE", "/api/me", headers=ana, json={"password": PASSWORD}).status_code in (200, 202)
    assert stored_sounds(rt) == []  # Ana's audio is gone from the store
    page = client.get(f"/api/sounds/{sound_id}", headers=ben).json()
    assert page["sound"]["title"] == "original sound" and page["sound"]["creator_username"] is None
    assert page["sound"]["original_available"] is False and page["sound"]["audio_url"] is None
    assert [v["id"] for v in page["videos"]] == [r.json()["id"]]  # Ben's own video stays, still crediting it
    refused = upload_with(client, ben, tmp_path / "b.mp4", sound_id=sound_id)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "sound_unavailable"


def test_deleting_the_original_retires_the_sound(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    ana, video_id, sound_id = original(client, rt, tmp_path)
    assert client.delete(f"/api/videos/{video_id}", headers=ana).status_code == 204
    assert stored_sounds(rt) == []
    assert client.get(f"/api/sounds/{sound_id}").json()["sound"]["original_available"] is False


def test_residency_scan_and_export_cover_sounds(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    assert ("sounds", "creator_id") in user_columns() and ("sound_preferences", "user_id") in user_columns()
    ana, _, sound_id = original(client, rt, tmp_path)
    from sovereel.governance.rights import collect_user_data
    from sovereel.storage.models import User

    with rt.db.session() as s:
        user = s.query(User).filter_by(username="ana").one()
        data = collect_user_data(s, user.id)
    assert [x["id"] for x in data["sounds"]["original_sounds"]] == [sound_id]
    assert data["sounds"]["allow_reuse"] is True and data["videos"][0]["sound_id"] == sound_id
    assert signup is not None and ana
