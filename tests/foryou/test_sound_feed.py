"""Sounds in the served For You feed: one sound never plays twice in a row, and a liked video's sound brings
its other videos."""

from __future__ import annotations

import itertools
import time

from fastapi.testclient import TestClient

from sovereel.actions.videos import _attach_caption
from sovereel.events.outbox import emit
from sovereel.ids import new_id
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Sound, User, Video
from tests.support.api import signup
from tests.support.foryou import deliver


def _seed(rt: RegionRuntime, sounds: dict[str, int], silent: int = 0) -> dict[str, str | None]:
    """Ready videos (rows only), each by its own creator and with its own hashtag, so that only the sound rule
    can keep two of a sound apart; returns video id -> sound id."""
    now = time.time()
    sound_of: dict[str, str | None] = {}
    plan = [(sound, i) for sound, n in sounds.items() for i in range(n)] + [(None, i) for i in range(silent)]
    with rt.db.transaction() as s:
        for sound in sounds:
            s.add(Sound(id=sound, region=rt.region, title=f"{sound} theme", created_at=now))
        for n, (sound, i) in enumerate(plan):
            creator = f"maker{n}"
            s.add(User(id=creator, region=rt.region, username=creator, username_key=creator, password_hash="x",
                       created_at=now))  # fmt: skip
            vid = new_id(now - 60 * (n + 1))
            video = Video(
                id=vid, region=rt.region, creator_id=creator, caption=f"clip {n} #tag{n}", visibility="public",
                status="ready", duration_s=10.0, width=720, height=1280, sound_id=sound,
                renditions={"720": {"key": f"videos/{vid}/720.mp4"}}, created_at=now - 60 * (n + 1), ready_at=now,
                like_count=100 if sound == "anthem" else i,  # the one sound is also the most popular
            )  # fmt: skip
            s.add(video)
            s.flush()
            _attach_caption(s, video)
            emit(s, "video.ready", {"video_id": vid, "creator_id": creator, "sound_id": sound})
            sound_of[vid] = sound
    deliver(rt)
    return sound_of


def _scroll(client: TestClient, headers: dict[str, str], pages: int, limit: int) -> list[list[str]]:
    shown: list[list[str]] = []
    cursor = None
    for _ in range(pages):
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = client.get("/api/feed/foryou", params=params, headers=headers)
        assert r.status_code == 200, r.text
        shown.append([item["id"] for item in r.json()["items"]])
        cursor = r.json()["next_cursor"]
    return shown


def test_a_scroll_never_plays_one_sound_twice_in_a_row(sqlite_client: TestClient, sqlite_rt: RegionRuntime) -> None:
    # Most of the catalogue uses one sound, and its videos are the most popular: ranked alone they would run on.
    sound_of = _seed(sqlite_rt, {"anthem": 20, "drums": 6}, silent=10)
    viewer = signup(sqlite_client, "vic")
    pages = _scroll(sqlite_client, viewer, pages=4, limit=8)
    shown = [vid for page in pages for vid in page]
    assert len(shown) >= 24 and len(set(shown)) == len(shown)
    sounds = [sound_of[vid] for vid in shown]
    repeats = [(i, a) for i, (a, b) in enumerate(itertools.pairwise(sounds)) if a and a == b]
    assert not repeats, f"the same sound twice in a row (across page breaks too): {sounds}"
    assert sounds.count("anthem") >= 10  # spread out, not left out


def test_a_viewer_who_liked_a_sounds_videos_is_offered_its_other_videos(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime
) -> None:
    sound_of = _seed(sqlite_rt, {"lullaby": 6, "anthem": 6, "drums": 6}, silent=20)
    viewer = signup(sqlite_client, "val")
    lullabies = sorted(vid for vid, s in sound_of.items() if s == "lullaby")
    for vid in lullabies[:2]:
        assert sqlite_client.post(f"/api/videos/{vid}/like", headers=viewer).status_code == 200
    deliver(sqlite_rt)
    r = sqlite_client.get("/api/feed/foryou", params={"limit": 30}, headers=viewer)
    assert r.status_code == 200, r.text
    by_sound = [item for item in r.json()["items"] if "sound" in item["reason"]["sources"]]
    offered = {item["id"] for item in by_sound}
    assert offered and offered <= set(lullabies[2:]), "the sound source offers the liked sound's other videos only"
    assert offered == set(lullabies[2:])
    assert all(
        any(line.startswith("Uses the sound of a video by @maker") and line.endswith("that you liked")
            for line in item["reason"]["explanation"])
        for item in by_sound
    )  # fmt: skip
