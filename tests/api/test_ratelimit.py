"""Rate limits on sign-up, login, upload, comment and watch events, in process and in Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sovereel.api.app import create_app
from sovereel.api.ratelimit import describe_window
from sovereel.runtime.region import open_runtime
from tests.support.api import signup
from tests.support.scale import REDIS_URL, redis_available, unique_region
from tests.support.settings import make_settings, require

LIMITS = {
    "rate_limits": True,
    "rate_signup": "3/3600",
    "rate_login_ip": "8/60",
    "rate_login_account": "3/900",
    "rate_upload": "2/3600",
    "rate_comment": "2/60",
    "rate_events": "3/60",
    "rate_writes_ip": "100/60",
}


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def hot_state_url(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        require(redis_available(), f"Redis is not reachable at {REDIS_URL}")
        return REDIS_URL
    return "memory://"


def limited_client(tmp_path: Path, **overrides: object) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, region=unique_region(), **{**LIMITS, **overrides})
    rt = open_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=rt, start_background=False)) as client:
            yield client
    finally:
        rt.close()


@pytest.fixture
def client(tmp_path: Path, hot_state_url: str) -> Iterator[TestClient]:
    yield from limited_client(tmp_path, hot_state_url=hot_state_url)


def assert_limited(response, what: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert what in error["message"] and "Try again in" in error["message"]
    assert 1 <= int(response.headers["retry-after"]) <= 3600


def test_signups_per_address(client: TestClient) -> None:
    for name in ("ann", "bob", "cat"):
        signup(client, name)
    r = client.post("/api/auth/signup", json={"username": "dan", "password": "correct horse battery"})
    assert_limited(r, "Too many sign-ups from this address: at most 3 per 1 hour")


def test_failed_logins_lock_the_account_for_that_address_only(client: TestClient) -> None:
    signup(client, "ann")
    signup(client, "bob")
    for _ in range(3):
        r = client.post("/api/auth/login", json={"username": "ann", "password": "wrong guess"})
        assert r.status_code == 401
    # Now even the right password is refused from this address for a while: guessing cannot continue here.
    r = client.post("/api/auth/login", json={"username": "ANN", "password": "correct horse battery"})
    assert_limited(r, "Too many failed sign-ins on this account from this address")
    # Another account from the same address still signs in.
    assert (
        client.post("/api/auth/login", json={"username": "bob", "password": "correct horse battery"}).status_code == 200
    )
    # The guesses do not lock the account itself: its owner signs in from elsewhere (the old rule refused this;
    # tests/security/test_login_throttle.py holds the whole rule).
    with TestClient(client.app, client=("192.0.2.1", 40000)) as elsewhere:
        r = elsewhere.post("/api/auth/login", json={"username": "ann", "password": "correct horse battery"})
        assert r.status_code == 200


def test_login_attempts_per_address(client: TestClient) -> None:
    for i in range(8):
        r = client.post("/api/auth/login", json={"username": f"nobody{i}", "password": "x"})
        assert r.status_code == 401
    r = client.post("/api/auth/login", json={"username": "nobody9", "password": "x"})
    assert_limited(r, "Too many sign-in attempts from this address")


def test_comments_per_user_with_other_users_unaffected(client: TestClient) -> None:
    ann, bob = signup(client, "ann"), signup(client, "bob")
    for _ in range(2):  # the video does not exist: the limit counts attempts, the route answers 404
        assert client.post("/api/videos/nope/comments", headers=ann, json={"body": "hi"}).status_code == 404
    r = client.post("/api/videos/nope/comments", headers=ann, json={"body": "hi"})
    assert_limited(r, "Too many comments: at most 2 per 1 minute")
    assert client.post("/api/videos/nope/comments", headers=bob, json={"body": "hi"}).status_code == 404


def test_uploads_and_event_batches_per_user(client: TestClient) -> None:
    ann = signup(client, "ann")
    for _ in range(2):
        r = client.post("/api/videos", headers=ann, files={"file": ("a.mp4", b"not a video", "video/mp4")})
        assert r.status_code in (415, 422)
    r = client.post("/api/videos", headers=ann, files={"file": ("a.mp4", b"not a video", "video/mp4")})
    assert_limited(r, "Too many uploads")
    batch = {
        "events": [{"client_id": uuid.uuid4().hex, "kind": "play", "video_id": "v", "ts": int(time.time() * 1000)}]
    }
    for _ in range(3):  # an unknown video: the route refuses the batch (422) after the limiter let it through
        assert client.post("/api/events", headers=ann, json=batch).status_code == 422
    assert_limited(client.post("/api/events", headers=ann, json=batch), "Too many watch-event reports")
    # Reading is never limited.
    assert client.get("/api/me", headers=ann).status_code == 200


def test_writes_per_address_across_users(tmp_path: Path) -> None:
    for client in limited_client(tmp_path, rate_writes_ip="4/60", rate_comment="100/60", rate_signup="10/60"):
        users = [signup(client, f"user{i}") for i in range(5)]
        for headers in users[:4]:
            assert client.post("/api/videos/nope/comments", headers=headers, json={"body": "x"}).status_code == 404
        r = client.post("/api/videos/nope/comments", headers=users[4], json={"body": "x"})
        assert_limited(r, "from this address")


def test_limits_can_be_turned_off(tmp_path: Path) -> None:
    for client in limited_client(tmp_path, rate_limits=False):
        for i in range(5):
            signup(client, f"user{i}")


def test_limits_are_validated_at_start() -> None:
    with pytest.raises(ValueError, match="COUNT/SECONDS"):
        make_settings(Path("/tmp"), rate_comment="lots")
    assert describe_window(60) == "1 minute"
    assert describe_window(900) == "15 minutes"
    assert describe_window(90) == "90 seconds"


@pytest.mark.redis
def test_redis_limits_are_shared_by_processes(tmp_path: Path) -> None:
    require(redis_available(), f"Redis is not reachable at {REDIS_URL}")
    region = unique_region()
    clients = []
    runtimes = []
    for _ in range(2):  # two API processes of one region share one database and one Redis
        settings = make_settings(tmp_path, region=region, hot_state_url=REDIS_URL, **LIMITS)
        rt = open_runtime(settings)
        runtimes.append(rt)
        clients.append(TestClient(create_app(settings, runtime=rt, start_background=False)))
    try:
        with clients[0] as one, clients[1] as two:
            signup(one, "ann")
            signup(two, "bob")
            signup(one, "cat")
            r = two.post("/api/auth/signup", json={"username": "dan", "password": "correct horse battery"})
            assert_limited(r, "sign-ups")
    finally:
        for rt in runtimes:
            rt.close()
