"""Response headers, /metrics exposure, and request bodies that never finish arriving.

- every answer says nosniff, no framing, same-origin referrers; JSON is never cached unless the route says so,
  and nothing sent to a signed-in request is `public`;
- /metrics answers loopback (not through a proxy) and the metrics token, and is 404 to everyone else;
- a request whose body stalls or trickles is answered 408 and closed within the limit, on a real server.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sovereel.api.app import create_app
from sovereel.api.headers import private_cache_control
from sovereel.api.server import serve_in_thread
from sovereel.runtime.region import open_runtime
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip
from tests.support.settings import make_settings, require

HARDENING = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin", "x-frame-options": "DENY"}


@dataclass
class World:
    client: TestClient
    auth: dict[str, str]
    video_id: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require(bool(shutil.which("ffmpeg") and shutil.which("ffprobe")), "ffmpeg/ffprobe are not installed")
    tmp = tmp_path_factory.mktemp("headers")
    rt = open_runtime(make_settings(tmp))
    try:
        with TestClient(create_app(rt.settings, runtime=rt, start_background=False)) as client:
            auth = signup(client, "hana_hdr")
            video_id = upload(client, auth, make_clip(tmp / "c.mp4", duration_s=1.0), "hi").json()["id"]
            assert process_all(rt) == 1
            yield World(client, auth, video_id)
    finally:
        rt.close()


def assert_hardened(headers: Mapping[str, str]) -> None:
    for name, value in HARDENING.items():
        assert headers.get(name) == value, (name, headers.get(name))
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", "")


@pytest.mark.parametrize(
    "path", ["/api/me", "/api/me/feed-settings", "/api/feed/foryou", "/api/users/hana_hdr", "/api/nothing-here"]
)
def test_personal_json_is_never_stored_by_a_cache(world: World, path: str) -> None:
    r = world.client.get(path, headers=world.auth)
    assert_hardened(r.headers)
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"].startswith("application/json")


def test_anonymous_json_and_errors_are_hardened_too(world: World) -> None:
    for r in (
        world.client.get("/api/users/hana_hdr"),
        world.client.get("/api/me"),  # 401
        world.client.post("/api/auth/login", content=b"{", headers={"content-type": "application/json"}),
    ):
        assert_hardened(r.headers)
        assert r.headers["cache-control"] == "no-store", r.request.url


def test_routes_that_set_caching_keep_it_but_never_public_when_signed_in(world: World) -> None:
    media = world.client.get(f"/api/videos/{world.video_id}/media/poster", headers=world.auth)
    assert media.status_code == 200
    assert media.headers["cache-control"] == "private, max-age=3600"  # as the media route sets it
    assert_hardened(media.headers)
    static = world.client.get("/static/auth.js")
    assert (static.headers["cache-control"], static.headers["x-content-type-options"]) == ("no-cache", "nosniff")
    page = world.client.get("/login")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")  # the page's own CSP stays
    assert page.headers["cache-control"] == "no-store"
    assert private_cache_control("public, max-age=60") == "private, max-age=60"


# --- /metrics ---


def test_metrics_are_not_public(tmp_path: Path) -> None:
    rt = open_runtime(make_settings(tmp_path, metrics_token="s3cret-scrape-token"))
    try:
        app = create_app(rt.settings, runtime=rt, start_background=False)
        with TestClient(app) as remote:  # TestClient's peer is "testclient", not loopback
            assert remote.get("/metrics").status_code == 404
            assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
            assert remote.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"}).status_code == 200
        with serve_in_thread(app) as base:  # a real server on loopback
            assert httpx.get(f"{base}/metrics").status_code == 200
            relayed = {"X-Forwarded-For": "203.0.113.9"}  # a proxy on this host relaying someone else
            assert httpx.get(f"{base}/metrics", headers=relayed).status_code == 404
            assert httpx.get(f"{base}/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 404
    finally:
        rt.close()


def test_metrics_without_a_token_answer_loopback_only(tmp_path: Path) -> None:
    rt = open_runtime(make_settings(tmp_path))
    try:
        app = create_app(rt.settings, runtime=rt, start_background=False)
        with TestClient(app) as remote:
            assert remote.get("/metrics").status_code == 404
            assert remote.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
        with TestClient(app, client=("::1", 50000)) as local:
            assert local.get("/metrics").status_code == 200
    finally:
        rt.close()


# --- slow request bodies, on a real uvicorn server ---


def raw_request(base: str, head: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(head.encode())
    return sock


def read_answer(sock: socket.socket, within_s: float) -> tuple[str, float]:
    """The status line the server answers with, and how long it took; '' if it said nothing in time."""
    started = time.monotonic()
    sock.settimeout(within_s)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        return "", time.monotonic() - started
    return data.split(b"\r\n", 1)[0].decode(), time.monotonic() - started


def closes(sock: socket.socket, within_s: float) -> bool:
    sock.settimeout(within_s)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


@pytest.fixture(scope="module")
def slow_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    rt = open_runtime(make_settings(tmp_path_factory.mktemp("slow"), body_idle_s=2.0, body_min_rate=1024))
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt, start_background=False)) as base:
            token = httpx.post(
                f"{base}/api/auth/signup",
                json={"username": "sam_slow", "password": "correct horse", "birth_date": "1990-05-17"},
            ).json()["token"]
            yield base, token
    finally:
        rt.close()


def test_a_stalled_body_is_answered_408_and_closed(slow_site: tuple[str, str]) -> None:
    base, _ = slow_site
    sock = raw_request(
        base,
        "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
        '{"username": ',
    )
    with sock:
        status, took = read_answer(sock, within_s=5)
        assert status.startswith("HTTP/1.1 408"), status
        assert took < 4.5
        assert closes(sock, within_s=3)


def test_a_trickled_upload_is_cut_off(slow_site: tuple[str, str]) -> None:
    base, token = slow_site
    boundary = "b0undary"
    head = (
        f"POST /api/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 100000\r\n\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
    )
    sock = raw_request(base, head)
    with sock:
        started = time.monotonic()
        status = ""
        while not status and time.monotonic() - started < 8:
            try:
                sock.sendall(b"x")  # one byte every 0.3 s: never idle for the 2 s limit, but far too slow
            except OSError:
                break
            status, _ = read_answer(sock, within_s=0.3)
        assert status.startswith("HTTP/1.1 408"), status
        assert time.monotonic() - started < 6


def test_a_body_sent_in_pauses_shorter_than_the_limit_is_read(slow_site: tuple[str, str]) -> None:
    base, _ = slow_site
    body = b'{"username": "sam_slow", "password": "correct horse"}'
    sock = raw_request(
        base,
        "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n",
    )
    with sock:
        for part in (body[:20], body[20:40], body[40:]):
            time.sleep(0.5)
            sock.sendall(part)
        status, _ = read_answer(sock, within_s=5)
        assert status.startswith("HTTP/1.1 200"), status
