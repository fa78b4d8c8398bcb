""" "Use this sound": the new video carries the sound (replacing or mixed with its own audio) and credits it;
opt-out, moderation removal and private originals are respected."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sovereel.media.audio_match import align, matches
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Sound
from tests.support.api import process_all, signup
from tests.support.moderation import moderator
from tests.support.sound_clips import fpcalc_raw, make_melody_clip

pytestmark = pytest.mark.usefixtures("ffmpeg")


def upload_with(
    client: TestClient, headers: dict[str, str], path: Path, *, sound_id: str = "", mode: str = "", **data: str
) -> Any:
    with path.open("rb") as f:
        return client.post(
            "/api/videos",
            headers=headers,
            files={"file": (path.name, f, "video/mp4")},
            data={"caption": data.get("caption", ""), "visibility": data.get("visibility", "public"),
                  "sound_id": sound_id, "sound_mode": mode},
        )  # fmt: skip


def original(client: TestClient, rt: RegionRuntime, tmp_path: Path, **data: str) -> tuple[dict[str, str], str, str]:
    """Ana's video with a melody of her own: (her headers, the video id, its sound id)."""
    ana = signup(client, "ana")
    r = upload_with(client, ana, make_melody_clip(tmp_path / "ana.mp4", seed=21, duration_s=10), **data)
    assert r.status_code == 202, r.text
    process_all(rt)
    v = client.get(f"/api/videos/{r.json()['id']}", headers=ana).json()
    assert v["sound"] is not None
    return ana, r.json()["id"], v["sound"]["id"]


def rendition_file(rt: RegionRuntime, client: TestClient, video_id: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{video_id}.mp4"
    out.write_bytes(client.get(f"/api/videos/{video_id}/media/360").content)
    return out


def sound_file(rt: RegionRuntime, sound_id: str) -> Path:
    with rt.db.session() as s:
        sound = s.get(Sound, sound_id)
        assert sound is not None and sound.audio_key is not None
        return rt.settings.region_dir / "media" / sound.audio_key


@pytest.mark.parametrize("mode", ["replace", "mix"])
def test_use_this_sound_puts_the_sound_under_the_new_video(
    client: TestClient, rt: RegionRuntime, tmp_path: Path, mode: str
) -> None:
    _, ana_video, sound_id = original(client, rt, tmp_path)
    ben = signup(client, "ben")
    # Ben's own audio is a different melody: replaced, it is gone; mixed, it is there under the sound.
    own = make_melody_clip(tmp_path / "ben.mp4", seed=99, duration_s=8)
    r = upload_with(client, ben, own, sound_id=sound_id, mode=mode)
    assert r.status_code == 202, r.text
    process_all(rt)
    v = client.get(f"/api/videos/{r.json()['id']}").json()
    assert v["status"] == "ready"
    assert v["sound"] == {"id": sound_id, "title": "original sound – @ana", "url": f"/sounds/{sound_id}"}
    made = fpcalc_raw(rendition_file(rt, client, r.json()["id"], tmp_path))
    assert matches(fpcalc_raw(sound_file(rt, sound_id)), made)  # the sound is what plays
    against_sound, against_own = align(fpcalc_raw(sound_file(rt, sound_id)), made), align(fpcalc_raw(own), made)
    assert against_sound is not None and against_own is not None
    if mode == "replace":  # the sound alone
        assert against_sound.ber < 0.03 and not matches(fpcalc_raw(own), made)
    else:  # the sound leads, with Ben's own audio under it (so it is not the sound alone)
        assert against_sound.ber > 0.03
    duration = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(rendition_file(rt, client, r.json()["id"], tmp_path))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert abs(float(duration) - 8.0) < 0.5  # cut to the new video's length, not the sound's 10 s
    # Both videos are on the sound's page; no new sound was made for Ben's video.
    page = client.get(f"/api/sounds/{sound_id}").json()
    assert {x["id"] for x in page["videos"]} == {ana_video, r.json()["id"]}
    assert page["sound"]["video_count"] == 2 and page["sound"]["original_available"] is True
    html = client.get(f"/sounds/{sound_id}").text
    assert "original sound – @ana" in html and 'data-testid="use-sound"' in html
    # Signed out, "Use this sound" leads through sign-in back to the upload page with the sound chosen.
    client.cookies.clear()
    to_login = client.get(f"/upload?sound={sound_id}", follow_redirects=False)
    assert to_login.headers["location"] == f"/login?next=/upload%3Fsound%3D{sound_id}"
    chosen = client.get(f"/upload?sound={sound_id}", headers=ben).text
    assert 'data-testid="chosen-sound"' in chosen and f'value="{sound_id}"' in chosen


def test_sound_page_lists_most_viewed_first_with_a_cursor(
    client: TestClient, rt: RegionRuntime, tmp_path: Path
) -> None:
    _, ana_video, sound_id = original(client, rt, tmp_path)
    ben = signup(client, "ben")
    ids = []
    for i in range(2):
        r = upload_with(client, ben, make_melody_clip(tmp_path / f"b{i}.mp4", seed=40 + i, duration_s=3),
                        sound_id=sound_id, mode="replace")  # fmt: skip
        ids.append(r.json()["id"])
    process_all(rt)
    from sovereel.storage.models import Video

    with rt.db.transaction() as s:
        for views, vid in zip((5, 9), ids, strict=True):
            row = s.get(Video, vid)
            assert row is not None
            row.view_count = views
    first = client.get(f"/api/sounds/{sound_id}", params={"limit": 2}).json()
    assert [v["id"] for v in first["videos"]] == [ids[1], ids[0]]
    rest = client.get(f"/api/sounds/{sound_id}", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [v["id"] for v in rest["videos"]] == [ana_video] and rest["next_cursor"] is None
    assert client.get(f"/api/sounds/{sound_id}", params={"cursor": "nan:x y"}).status_code == 422


def test_opt_out_refuses_use_with_403_and_hides_the_button(
    client: TestClient, rt: RegionRuntime, tmp_path: Path
) -> None:
    ana, _, sound_id = original(client, rt, tmp_path)
    assert client.put("/api/me/sound-reuse", headers=ana, json={"allow_reuse": False}).json() == {"allow_reuse": False}
    assert client.get("/api/me/sound-reuse", headers=ana).json() == {"allow_reuse": False}
    activity = client.get("/api/me/safety-log", headers=ana).json()
    assert "sound_reuse" in str(activity)  # the change is in Ana's Activity (and the audit log, by pseudonym)
    ben = signup(client, "ben")
    r = upload_with(client, ben, make_melody_clip(tmp_path / "ben.mp4", seed=5, duration_s=3), sound_id=sound_id)
    assert r.status_code == 403 and r.json()["error"]["code"] == "sound_reuse_off"
    assert client.get(f"/api/sounds/{sound_id}", headers=ben).json()["sound"]["reuse_allowed"] is False
    assert 'data-testid="use-sound"' not in client.get(f"/sounds/{sound_id}", headers=ben).text
    # Ana herself still may.
    mine = upload_with(client, ana, make_melody_clip(tmp_path / "a2.mp4", seed=6, duration_s=3), sound_id=sound_id)
    assert mine.status_code == 202, mine.text
    # Bad choices are clear 4xx, never a 500.
    assert upload_with(client, ben, tmp_path / "ben.mp4", sound_id="nope").status_code == 404
    bad_mode = upload_with(client, ben, tmp_path / "ben.mp4", sound_id=sound_id, mode="loud")
    assert bad_mode.status_code == 422


def test_moderation_removal_hides_the_video_and_retires_the_sound(
    client: TestClient, rt: RegionRuntime, tmp_path: Path
) -> None:
    _, ana_video, sound_id = original(client, rt, tmp_path)
    ben = signup(client, "ben")
    r = upload_with(client, ben, make_melody_clip(tmp_path / "ben.mp4", seed=3, duration_s=3), sound_id=sound_id)
    process_all(rt)
    mod = moderator(client, rt)
    body = {"target_kind": "video", "target_id": r.json()["id"], "action": "remove", "reason": "Rule 3"}
    assert client.post("/api/moderation/actions", headers=mod, json=body).status_code == 201
    page = client.get(f"/api/sounds/{sound_id}").json()
    assert [v["id"] for v in page["videos"]] == [ana_video]  # the removed video left the sound page
    # Now the original itself is removed: the page says so, and the sound can no longer be used.
    body["target_id"] = ana_video
    assert client.post("/api/moderation/actions", headers=mod, json=body).status_code == 201
    page = client.get(f"/api/sounds/{sound_id}").json()
    assert page["videos"] == [] and page["sound"]["original_available"] is False
    assert page["sound"]["reuse_allowed"] is False and page["sound"]["audio_url"] is None
    assert "no longer available" in client.get(f"/sounds/{sound_id}").text
    again = upload_with(client, ben, tmp_path / "ben.mp4", sound_id=sound_id)
    assert again.status_code == 403 and again.json()["error"]["code"] == "sound_unavailable"


def test_private_original_hides_its_sound(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    ana, _, sound_id = original(client, rt, tmp_path, visibility="private")
    ben = signup(client, "ben")
    assert client.get(f"/api/sounds/{sound_id}", headers=ana).status_code == 200
    assert client.get(f"/api/sounds/{sound_id}", headers=ben).status_code == 404
    assert client.get(f"/api/sounds/{sound_id}/audio").status_code == 404
    r = upload_with(client, ben, make_melody_clip(tmp_path / "ben.mp4", seed=4, duration_s=3), sound_id=sound_id)
    assert r.status_code == 404
