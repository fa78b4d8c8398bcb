"""Cookie-authenticated writes from other origins: every unsafe request carried by the session cookie must come
from this origin (Sec-Fetch-Site: same-origin, or a matching Origin), or it is 403 `cross_origin` and changes
nothing; bearer-token requests are not affected; sign-in and sign-up refuse a browser on another site."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sovereel.api.app import create_app
from sovereel.runtime.region import open_runtime
from sovereel.settings import Settings
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip
from tests.support.settings import make_settings, require

HERE = "http://testserver"  # TestClient's origin
CROSS = {
    "other site": {"Origin": "http://evil.example"},
    "other port": {"Origin": "http://127.0.0.1:9999"},
    "same host, other port": {"Origin": "http://testserver:8080"},
    "https, other site": {"Origin": "https://evil.example"},
    "opaque origin": {"Origin": "null"},
    "not an origin": {"Origin": "evil"},
    "sibling subdomain": {"Origin": "http://sub.testserver", "Sec-Fetch-Site": "same-site"},
    "cross-site fetch": {"Sec-Fetch-Site": "cross-site"},
    "cross-site, origin spoofed": {"Sec-Fetch-Site": "cross-site", "Origin": HERE},
    "no proof at all": {},
}
SAME = {"origin": {"Origin": HERE}, "fetch metadata": {"Sec-Fetch-Site": "same-origin"}}


@dataclass
class World:
    client: TestClient
    ana: dict[str, str]  # bearer headers
    vic: dict[str, str]
    vic_token: str
    ana_token: str
    video_id: str
    avatar: Path


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    require(bool(shutil.which("ffmpeg") and shutil.which("ffprobe")), "ffmpeg/ffprobe are not installed")
    rt = open_runtime(make_settings(tmp_path))
    clip = make_clip(tmp_path / "c.mp4", duration_s=1.0)
    avatar = tmp_path / "a.png"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1",
         str(avatar)],
        check=True,
    )  # fmt: skip
    try:
        with TestClient(create_app(rt.settings, runtime=rt, start_background=False)) as client:
            ana, vic = signup(client, "ana_xo"), signup(client, "vic_xo")
            video_id = upload(client, ana, clip, "hello").json()["id"]
            assert process_all(rt) == 1
            yield World(client, ana, vic, vic["Authorization"][7:], ana["Authorization"][7:], video_id, avatar)
    finally:
        rt.close()


def cookie(token: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"Cookie": f"sovereel_session={token}", **extra}


def writes(w: World) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(name, who, method, path, request kwargs) of cookie-carried writes; destructive ones last."""
    return [
        ("like", "vic", "POST", f"/api/videos/{w.video_id}/like", {}),
        ("follow", "vic", "POST", "/api/users/ana_xo/follow", {}),
        ("comment", "vic", "POST", f"/api/videos/{w.video_id}/comments", {"json": {"body": "hi"}}),
        ("profile", "vic", "PATCH", "/api/me", {"json": {"bio": "pwned"}}),
        ("feed settings", "vic", "PUT", "/api/me/feed-settings", {"json": {"personalised": False}}),
        ("avatar", "vic", "POST", "/api/me/avatar", {"files": {"file": ("a.png", w.avatar.read_bytes(), "image/png")}}),
        ("delete video", "ana", "DELETE", f"/api/videos/{w.video_id}", {}),
        ("logout", "vic", "POST", "/api/auth/logout", {}),
    ]


def state(w: World) -> dict[str, Any]:
    """Everything the writes above would change, read with bearer tokens."""
    c = w.client
    video = c.get(f"/api/videos/{w.video_id}", headers=w.vic)
    me = c.get("/api/me", headers=w.vic).json()
    return {
        "video": video.status_code,
        "likes": video.json().get("like_count") if video.status_code == 200 else None,
        "comments": video.json().get("comment_count") if video.status_code == 200 else None,
        "followers": c.get("/api/users/ana_xo").json()["user"]["follower_count"],
        "bio": me.get("bio"),
        "avatar": me.get("avatar_url"),
        "personalised": c.get("/api/me/feed-settings", headers=w.vic).json()["personalised"],
        "session": c.get("/api/me", headers=cookie(w.vic_token, SAME["origin"])).status_code,
    }


@pytest.mark.usefixtures("ffmpeg")
@pytest.mark.parametrize("case", list(CROSS))
def test_cookie_writes_from_another_origin_are_refused_and_change_nothing(world: World, case: str) -> None:
    before = state(world)
    for name, who, method, path, kwargs in writes(world):
        token = world.vic_token if who == "vic" else world.ana_token
        r = world.client.request(method, path, headers=cookie(token, CROSS[case]), **kwargs)
        assert r.status_code == 403, (name, r.status_code, r.text)
        assert r.json()["error"]["code"] == "cross_origin", name
    assert state(world) == before


@pytest.mark.usefixtures("ffmpeg")
@pytest.mark.parametrize("case", list(SAME))
def test_cookie_writes_from_this_origin_work(world: World, case: str) -> None:
    for name, who, method, path, kwargs in writes(world):
        token = world.vic_token if who == "vic" else world.ana_token
        r = world.client.request(method, path, headers=cookie(token, SAME[case]), **kwargs)
        assert r.status_code < 300, (name, r.status_code, r.text)
    assert world.client.get("/api/me", headers=cookie(world.vic_token, SAME[case])).status_code == 401


@pytest.mark.usefixtures("ffmpeg")
def test_bearer_writes_are_not_affected_by_origin(world: World) -> None:
    evil = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    r = world.client.post(f"/api/videos/{world.video_id}/like", headers={**world.vic, **evil})
    assert r.json() == {"liked": True, "like_count": 1}
    assert world.client.post("/api/users/ana_xo/follow", headers={**world.vic, **evil}).status_code == 200
    # A bearer token and a cookie together: the token is what authenticates, so the request goes through.
    both = {**world.vic, **cookie(world.vic_token, evil)}
    assert world.client.delete(f"/api/videos/{world.video_id}/like", headers=both).status_code == 200


def test_sign_in_and_sign_up_from_another_site_are_refused(sqlite_client: TestClient) -> None:
    signup(sqlite_client, "lena_xo")
    login = {"username": "lena_xo", "password": "correct horse battery"}
    new = {"username": "mia_xo", "password": "correct horse battery", "birth_date": "1990-05-17"}
    for case, headers in CROSS.items():
        if not headers:
            continue  # no header at all: an app or a script, not a browser page (see below)
        r = sqlite_client.post("/api/auth/login", json=login, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "cross_origin"), case
        assert "set-cookie" not in r.headers
        r = sqlite_client.post("/api/auth/signup", json=new, headers=headers)
        assert r.status_code == 403, case
    assert sqlite_client.post("/api/auth/login", json=login, headers=SAME["origin"]).status_code == 200
    sqlite_client.cookies.clear()  # a browser would send Origin with its cookie; this is a bare client
    assert sqlite_client.post("/api/auth/login", json=login, headers={}).status_code == 200


def test_the_configured_public_origin_is_this_origin(tmp_path: Path) -> None:
    # Behind a proxy the Host the app sees may differ from the address in the browser: public_url names it.
    settings: Settings = make_settings(tmp_path, public_url="https://video.example.org")
    rt = open_runtime(settings)
    try:
        with TestClient(create_app(rt.settings, runtime=rt, start_background=False)) as client:
            token = signup(client, "pia_xo")["Authorization"][7:]
            ok = client.patch(
                "/api/me", json={"bio": "x"}, headers=cookie(token, {"Origin": "https://video.example.org"})
            )
            assert ok.status_code == 200
            bad = client.patch("/api/me", json={"bio": "y"}, headers=cookie(token, {"Origin": "https://example.org"}))
            assert bad.status_code == 403
    finally:
        rt.close()
