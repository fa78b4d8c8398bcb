"""A NUL character, or a number too large for its column, anywhere a client can put one, is refused with a 4xx on
every backend: PostgreSQL cannot store what SQLite keeps, and its refusal used to surface as a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.api import signup


def test_nul_in_ids_cursors_and_bodies_is_a_client_error(client: TestClient) -> None:
    headers = signup(client, "ana")
    me = client.get("/api/me", headers=headers).json()
    for path in (
        f"/api/videos/a%00{me['id']}",
        f"/api/videos/{me['id']}%00/comments",
        "/api/users/an%00a",
        "/api/hashtags/ca%00ts",
        "/api/feed/foryou?cursor=ab%00c:1",
        "/api/users/ana?cursor=1.0:a%00b",
    ):
        r = client.get(path, headers=headers)
        assert r.status_code in (400, 404, 422), (path, r.status_code, r.text)
        assert "error" in r.json()
    r = client.patch("/api/me", headers=headers, json={"bio": "hello\u0000there"})
    assert r.status_code in (200, 422), r.text
    assert client.get("/api/me", headers=headers).status_code == 200  # the account is intact either way
    r = client.post("/api/auth/login", json={"username": "ana\u0000", "password": "x" * 12})
    assert 400 <= r.status_code < 500, r.text
