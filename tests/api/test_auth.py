"""Sign-up, sign-in, sign-out, sessions and profiles, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import User
from tests.support.api import ADULT_BIRTH_DATE, signup


def test_signup_login_me_logout(client: TestClient) -> None:
    r = client.post(
        "/api/auth/signup", json={"username": "Alice", "password": "s3cret-password", "birth_date": ADULT_BIRTH_DATE}
    )
    assert r.status_code == 201
    assert r.json()["user"]["username"] == "Alice"
    assert "sovereel_session" in r.cookies
    assert client.get("/api/me").json()["username"] == "Alice"  # the cookie signs the browser in

    client.cookies.clear()
    assert client.get("/api/me").status_code == 401
    bad = client.post("/api/auth/login", json={"username": "alice", "password": "wrong-password"})
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "bad_credentials"

    ok = client.post("/api/auth/login", json={"username": "alice", "password": "s3cret-password"})
    assert ok.status_code == 200
    headers = {"Authorization": f"Bearer {ok.json()['token']}"}
    client.cookies.clear()
    assert client.get("/api/me", headers=headers).json()["username"] == "Alice"
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/me", headers=headers).status_code == 401


def test_username_rules(client: TestClient) -> None:
    signup(client, "bob")
    dup = client.post(
        "/api/auth/signup", json={"username": "BOB", "password": "another-password", "birth_date": ADULT_BIRTH_DATE}
    )
    assert dup.status_code == 409
    assert dup.json()["error"]["code"] == "username_taken"
    for bad in ("a", "../etc", "has space", "api", "x" * 40):
        r = client.post(
            "/api/auth/signup", json={"username": bad, "password": "long-enough-pw", "birth_date": ADULT_BIRTH_DATE}
        )
        assert r.status_code == 422, bad
        assert "error" in r.json()
    short = client.post(
        "/api/auth/signup", json={"username": "carol", "password": "short", "birth_date": ADULT_BIRTH_DATE}
    )
    assert short.status_code == 422


def test_forged_and_missing_sessions_are_refused(client: TestClient) -> None:
    signup(client, "dave")
    assert client.get("/api/me").status_code == 401
    forged = client.get("/api/me", headers={"Authorization": "Bearer forged-token-value"})
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "bad_session"
    client.cookies.set("sovereel_session", "forged-cookie")
    assert client.get("/api/me").status_code == 401
    # From this site's own page (Origin), so the forged cookie is what is judged, not the cross-origin check.
    assert client.post("/api/videos/x/like", headers={"Origin": "http://testserver"}).status_code == 401


def test_password_is_stored_as_argon2(client: TestClient, rt: RegionRuntime) -> None:
    signup(client, "erin", "my-password-123")
    with rt.db.session() as s:
        user = s.scalar(select(User).where(User.username_key == "erin"))
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")
    assert "my-password-123" not in user.password_hash


def test_profile_edit_and_avatar(client: TestClient, ffmpeg: None, tmp_path: object) -> None:
    headers = signup(client, "frank")
    r = client.patch("/api/me", headers=headers, json={"display_name": "Frank F.", "bio": "I film <b>cats</b>"})
    assert r.status_code == 200
    profile = client.get("/api/users/frank").json()["user"]
    assert profile["display_name"] == "Frank F."
    assert profile["bio"] == "I film <b>cats</b>"
    too_long = client.patch("/api/me", headers=headers, json={"bio": "x" * 281})
    assert too_long.status_code == 422

    import subprocess
    from pathlib import Path

    png = Path(str(tmp_path)) / "a.png"
    subprocess.run(
        [
            "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=300x200",
            "-frames:v",
            "1",
            str(png),
        ],
        check=True,
    )
    up = client.post("/api/me/avatar", headers=headers, files={"file": ("a.png", png.read_bytes(), "image/png")})
    assert up.status_code == 200, up.text
    avatar = client.get(up.json()["avatar_url"])
    assert avatar.status_code == 200
    assert avatar.content[:3] == b"\xff\xd8\xff"
    text_file = client.post("/api/me/avatar", headers=headers, files={"file": ("a.png", b"not an image", "image/png")})
    assert text_file.status_code == 415
