"""Every upload's audio becomes a sound, and the same audio uploaded again joins it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Sound, Video
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip
from tests.support.sound_clips import make_clip_with_audio, make_melody_clip, make_melody_wav

pytestmark = pytest.mark.usefixtures("ffmpeg")


def sound_of(rt: RegionRuntime, video_id: str) -> str | None:
    with rt.db.session() as s:
        video = s.get(Video, video_id)
        assert video is not None
        return video.sound_id


def test_upload_with_audio_makes_an_original_sound(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    ana = signup(client, "ana")
    r = upload(client, ana, make_melody_clip(tmp_path / "a.mp4", seed=1, duration_s=8))
    assert r.status_code == 202, r.text
    process_all(rt)
    sound_id = sound_of(rt, r.json()["id"])
    assert sound_id is not None
    with rt.db.session() as s:
        sound = s.get(Sound, sound_id)
        assert sound is not None and sound.original_video_id == r.json()["id"] and sound.title == "original sound"
        assert sound.audio_key is not None and rt.blobs.exists(sound.audio_key)
    v = client.get(f"/api/videos/{r.json()['id']}").json()
    assert v["sound"] == {"id": sound_id, "title": "original sound – @ana", "url": f"/sounds/{sound_id}"}


def test_video_without_audio_gets_no_sound(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    ana = signup(client, "ana")
    r = upload(client, ana, make_clip(tmp_path / "silent.mp4", audio=False, duration_s=2.0))
    process_all(rt)
    assert sound_of(rt, r.json()["id"]) is None
    assert client.get(f"/api/videos/{r.json()['id']}").json()["sound"] is None


def test_identical_audio_is_one_sound_and_different_audio_two(
    client: TestClient, rt: RegionRuntime, tmp_path: Path
) -> None:
    ana, ben = signup(client, "ana"), signup(client, "ben")
    wav = make_melody_wav(tmp_path / "song.wav", seed=7, duration_s=10)
    first = make_clip_with_audio(tmp_path / "first.mp4", wav, duration_s=10)
    # Ben's copy: another picture, and the audio re-encoded from the same recording.
    again = make_clip_with_audio(tmp_path / "again.mp4", wav, duration_s=10, pattern="smptebars")
    other = make_melody_clip(tmp_path / "other.mp4", seed=8, duration_s=10)
    ids = [upload(client, who, clip).json()["id"] for who, clip in ((ana, first), (ben, again), (ben, other))]
    process_all(rt)
    sounds = [sound_of(rt, vid) for vid in ids]
    assert sounds[0] is not None and sounds[0] == sounds[1]  # grouped: Ben's video credits Ana's original sound
    assert sounds[2] is not None and sounds[2] != sounds[0]
    with rt.db.session() as s:
        assert len(list(s.scalars(select(Sound.id)))) == 2
    # The grouped upload's own audio copy was not kept: only the two sounds' audio is stored.
    stored = sorted(p.parent.name for p in (rt.settings.region_dir / "media" / "sounds").rglob("*.m4a"))
    assert stored == sorted({sounds[0], sounds[2]})
