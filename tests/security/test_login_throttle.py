"""Login throttling slows password guessing without letting the guesser lock the owner out (issue 14, item 9).

Each client below is a different address (TestClient's `client=`), all talking to one app and one hot state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sovereel.api.app import create_app
from sovereel.api.known_devices import DEVICE_COOKIE
from sovereel.runtime.region import open_runtime
from tests.support.settings import make_settings

PASSWORD = "correct horse battery"
LIMITS = {
    "rate_limits": True,
    "rate_login_ip": "1000/60",  # the per-address cap on all sign-ins is tested in tests/api/test_ratelimit.py
    "rate_login_account": "5/900",
    "rate_login_new_device": "20/3600",
    "rate_signup": "1000/60",
}

Connect = Callable[[str], TestClient]


@pytest.fixture
def connect(tmp_path: Path) -> Iterator[Connect]:
    """Open a client of one shared app from a given address."""
    rt = open_runtime(make_settings(tmp_path, **LIMITS))
    app: FastAPI = create_app(rt.settings, runtime=rt, start_background=False)
    with ExitStack() as stack:

        def open_from(address: str) -> TestClient:
            client = stack.enter_context(TestClient(app, client=(address, 40000)))
            client.headers["sec-fetch-site"] = "same-origin"  # a browser on the site's own sign-in page
            return client

        yield open_from
    rt.close()


def login(client: TestClient, password: str, username: str = "ann") -> int:
    status: int = client.post("/api/auth/login", json={"username": username, "password": password}).status_code
    return status


def owner_device(connect: Connect) -> TestClient:
    """The owner's browser: it signed up (so it holds the known-device cookie) and signed out."""
    owner = connect("198.51.100.7")
    r = owner.post("/api/auth/signup", json={"username": "ann", "password": PASSWORD, "birth_date": "1990-01-01"})
    assert r.status_code == 201, r.text
    assert owner.cookies.get(DEVICE_COOKIE)
    owner.cookies.delete("sovereel_session")  # signed out; the device cookie stays, as it does on sign-out
    return owner


def test_guesses_from_one_address_do_not_lock_the_owner_out(connect: Connect) -> None:
    owner = owner_device(connect)
    attacker = connect("203.0.113.9")
    for _ in range(5):
        assert login(attacker, "wrong guess") == 401
    # The guesser's address is refused for this account, even when it finally has the right password ...
    r = attacker.post("/api/auth/login", json={"username": "ann", "password": "another guess"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 900
    assert login(attacker, PASSWORD) == 429
    # ... while the owner, from their known device, signs in with the right password.
    assert login(owner, PASSWORD) == 200
    # The owner's address is not the guesser's: a fresh browser there (no cookie) signs in too.
    assert login(connect("198.51.100.7"), PASSWORD) == 200
    assert login(attacker, "yet another guess") == 429


def test_guesses_from_many_addresses_are_bounded_per_account(connect: Connect) -> None:
    owner = owner_device(connect)
    answers = [login(connect(f"203.0.113.{i}"), "wrong guess") for i in range(1, 41)]
    assert answers.count(401) == 20 and answers[20:] == [429] * 20, answers
    # Each refusal says what to do; a new device is refused even with the right password for now ...
    assert login(connect("192.0.2.200"), PASSWORD) == 429
    # ... but the owner's own browser, and an address the owner signed in from, are never refused.
    assert login(owner, PASSWORD) == 200
    assert login(connect("198.51.100.7"), PASSWORD) == 200


def test_a_forged_or_borrowed_device_cookie_earns_no_trust(connect: Connect) -> None:
    owner_device(connect)
    mallory = connect("203.0.113.50")
    r = mallory.post("/api/auth/signup", json={"username": "mal", "password": PASSWORD, "birth_date": "1990-01-01"})
    assert r.status_code == 201 and mallory.cookies.get(DEVICE_COOKIE)  # a real cookie, for mallory's account
    answers = [login(mallory, f"guess {i}") for i in range(8)]
    assert answers == [401] * 5 + [429] * 3
    forged = connect("203.0.113.51")
    forged.cookies.set(DEVICE_COOKIE, "0" * 32 + "." + "1" * 32, path="/api/auth")
    answers = [login(forged, f"guess {i}") for i in range(8)]
    assert answers == [401] * 5 + [429] * 3


def test_a_success_clears_the_owners_own_typos(connect: Connect) -> None:
    owner = owner_device(connect)
    for _ in range(3):
        assert [login(owner, "typo") for _ in range(4)] == [401] * 4
        assert login(owner, PASSWORD) == 200
