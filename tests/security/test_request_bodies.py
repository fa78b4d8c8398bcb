"""Hostile request bodies on every route that accepts one: always a 4xx with the error envelope, never a 5xx.

The routes are read from the app's OpenAPI document (every operation with an unsafe method), so a route added
later is covered without editing this file. Rate limits are on, as in production: the limiter reads the login body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sovereel.api.app import create_app
from sovereel.api.bodies import DEFAULT_LIMIT, MAX_DEPTH, STREAMED_UPLOADS, limit_for, too_deep
from sovereel.runtime.region import open_runtime
from tests.support.api import signup
from tests.support.settings import make_settings

GENEROUS = {
    "rate_limits": True,
    "rate_signup": "1000/60",
    "rate_login_ip": "1000/60",
    "rate_login_account": "1000/60",
    "rate_comment": "1000/60",
    "rate_events": "1000/60",
    "rate_writes_ip": "100000/60",
}
# Ending the session would only leave the later cases testing the 401 path.
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SESSION_ENDING = {("POST", "/api/auth/logout"), ("DELETE", "/api/me")}


def nested_arrays(size: int) -> bytes:
    return b"[" * (size // 2) + b"]" * (size // 2)


def nested_objects(size: int) -> bytes:
    n = size // 6
    return b'{"a":' * n + b"1" + b"}" * n


def nested_in_field(size: int) -> bytes:
    n = size // 2
    return b'{"username": "ann", "password": ' + b"[" * n + b"]" * n + b', "body": "x", "events": []}'


# (label, body, content type, the error code the refusal must carry)
MALFORMED: list[tuple[str, bytes, str | None, str]] = [
    ("60 KB of nested arrays", nested_arrays(60_000), "application/json", "body_too_deep"),
    ("60 KB of nested objects", nested_objects(60_000), "application/json", "body_too_deep"),
    ("nesting inside a real field", nested_in_field(40_000), "application/json", "body_too_deep"),
    ("nesting just past the cap", nested_arrays(2 * (MAX_DEPTH + 1)), "application/json", "body_too_deep"),
    ("nesting with no content type", nested_arrays(60_000), None, "body_too_deep"),
    ("nesting as +json", nested_arrays(60_000), "application/vnd.api+json", "body_too_deep"),
    ("nesting as text/plain (a beacon)", nested_arrays(60_000), "text/plain;charset=UTF-8", "body_too_deep"),
    ("invalid UTF-8", b'{"username": "\xff\xfe", "password": "x", "body": "\xc3"}', "application/json", "invalid_json"),
    ("UTF-16", '{"username": "ann", "password": "x"}'.encode("utf-16"), "application/json", "invalid_json"),
    ("truncated", b'{"username": "ann", "pass', "application/json", "invalid_json"),
    ("NaN", b'{"username": "ann", "password": "x", "body": NaN, "ts": NaN}', "application/json", "invalid_json"),
    ("Infinity", b'{"username": "ann", "password": "x", "ts": -Infinity}', "application/json", "invalid_json"),
    (
        "a float past the range",
        b'{"username": "ann", "password": "x", "ts": 1e999}',
        "application/json",
        "invalid_json",
    ),
    ("a 10,000-digit integer", b'{"ts": ' + b"9" * 10_000 + b"}", "application/json", "invalid_json"),
    ("duplicate keys", b'{"username": "ann", "username": "bob", "password": "x"}', "application/json", "invalid_json"),
    ("a lone bracket", b"]", "application/json", "invalid_json"),
]
SCALARS = [b"1", b'"ann"', b"null", b"true", b"[]", b"-0.5"]


def unsafe_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every route that may take a body, path parameters filled with placeholders."""
    found = []
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        for method in sorted(m.upper() for m in operations if m.upper() in UNSAFE):
            found.append((method, re.sub(r"\{[^}]+\}", "x0000000000000000000000000", path)))
    assert ("POST", "/api/auth/login") in found and len(found) > 10  # the app really was read
    return found


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    rt = open_runtime(make_settings(tmp_path, **GENEROUS))
    try:
        with TestClient(create_app(rt.settings, runtime=rt, start_background=False)) as c:
            c.headers.update(signup(c, "ann"))
            yield c
    finally:
        rt.close()


def assert_refused(r, code: str | None, where: str) -> None:  # type: ignore[no-untyped-def]
    assert 400 <= r.status_code < 500, f"{where}: {r.status_code} {r.text[:200]}"
    error = r.json()["error"]
    assert error["message"], where
    if code is not None:
        assert error["code"] == code, f"{where}: {error}"


def test_malformed_json_is_refused_on_every_route(client: TestClient) -> None:
    for method, path in unsafe_routes(client):
        for label, body, content_type, code in MALFORMED:
            headers = {"content-type": content_type} if content_type else {}
            r = client.request(method, path, content=body, headers=headers)
            assert_refused(r, code, f"{method} {path} with {label}")


def test_deep_bodies_of_200_kb_are_refused(client: TestClient) -> None:
    # Past the default cap they are too large before they are too deep; the event route's cap is bigger.
    for method, path in unsafe_routes(client):
        for body in (nested_arrays(200_000), nested_objects(200_000)):
            r = client.request(method, path, content=body, headers={"content-type": "application/json"})
            assert_refused(r, None, f"{method} {path}")
            expected = {"body_too_deep"} if path == "/api/events" else {"body_too_large", "body_too_deep"}
            assert r.json()["error"]["code"] in expected, f"{method} {path}: {r.text[:200]}"


def test_bodies_over_the_cap_are_refused_with_or_without_a_length(client: TestClient) -> None:
    def chunked(body: bytes) -> Iterator[bytes]:  # no Content-Length: the cap must hold while streaming
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    content_types = ["application/json", "text/plain", "application/octet-stream", "multipart/form-data; boundary=b"]
    for method, path in unsafe_routes(client):
        assert limit_for(path) <= 6 * 1024 * 1024, path  # no route takes an unbounded body
        huge = b'{"body": "' + b"x" * limit_for(path) + b'"}'
        for content_type in content_types:
            if content_type.startswith("multipart/") and STREAMED_UPLOADS.match(path):
                continue  # a video upload: streamed to disk under its own limit (tests/api/test_videos.py)
            headers = {"content-type": content_type}
            for content in (huge, chunked(huge)):
                r = client.request(method, path, content=content, headers=headers)
                where = f"{method} {path} ({content_type})"
                assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large", where


def test_top_level_scalars_are_refused_where_a_body_is_expected(client: TestClient) -> None:
    for method, path in unsafe_routes(client):
        if (method, path) in SESSION_ENDING:
            continue
        for body in SCALARS:
            r = client.request(method, path, content=body, headers={"content-type": "application/json"})
            assert r.status_code < 500, f"{method} {path} with {body!r}: {r.status_code} {r.text[:200]}"
            if r.status_code >= 400:
                assert r.json()["error"]["code"], f"{method} {path} with {body!r}"
    login = {"content-type": "application/json"}
    for body in SCALARS:
        assert_refused(client.post("/api/auth/login", content=body, headers=login), None, f"login {body!r}")


def test_ordinary_bodies_still_work(client: TestClient) -> None:
    # A body just under the default cap and nesting at the cap are fine; the event route takes its bigger batches.
    assert client.patch("/api/me", json={"display_name": "Ann", "bio": "hi"}).status_code == 200
    r = client.post("/api/auth/login", json={"username": "ann", "password": "correct horse battery"})
    assert r.status_code == 200
    assert not too_deep(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) and too_deep(b"[" * (MAX_DEPTH + 1))
    assert not too_deep(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[[[[[["}')
    beacon = {"content-type": "text/plain;charset=UTF-8"}  # navigator.sendBeacon's JSON event batches
    assert client.post("/api/events", content=b'{"events": []}', headers=beacon).status_code == 200
    events = {"events": [], "pad": "x" * (DEFAULT_LIMIT * 2)}
    r = client.post("/api/events", json=events)
    assert r.status_code == 422 and r.json()["error"]["code"] != "body_too_large"
