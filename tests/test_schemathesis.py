"""Schemathesis against the OpenAPI schema: no generated request makes the API answer 5xx.

The app runs under uvicorn on loopback (lifespan and middleware as in production) on SQLite with a small
world: a signed-in user, a creator with a ready video and a comment. Half of the generated path parameters
name those real objects, so the fuzzing reaches past the 404s into the handlers. Bounded: a few examples per
operation, derandomized so CI runs the same requests every time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.ids import new_id
from sovereel.runtime import open_runtime
from sovereel.storage.models import Video
from tests.conftest import make_settings

EXAMPLES_PER_OPERATION = 15
# Operations that end the fuzzer's own session or account: every later request would only test the 401 path.
SKIP = {("POST", "/api/auth/logout"), ("DELETE", "/api/me")}


def _world(base: str, rt: Any) -> dict[str, str]:
    """A viewer, a creator with a ready video and a comment on it; returns the viewer's token and real ids."""
    with httpx.Client(base_url=base, timeout=30) as c:
        creds = {"password": "correct horse battery", "birth_date": "1990-01-01"}
        creator = c.post("/api/auth/signup", json={"username": "creator", **creds}).json()
        viewer = c.post("/api/auth/signup", json={"username": "viewer", **creds}).json()
        video_id = new_id()
        with rt.db.transaction() as s:
            s.add(
                Video(id=video_id, region=rt.region, creator_id=creator["user"]["id"], caption="fuzz me #fuzz",
                      visibility="public", status="ready", duration_s=12.0, width=720, height=1280,
                      original_name="x.mp4", renditions={}, created_at=time.time(), ready_at=time.time())
            )  # fmt: skip
        headers = {"Authorization": f"Bearer {viewer['token']}"}
        comment = c.post(f"/api/videos/{video_id}/comments", json={"body": "first"}, headers=headers).json()
        return {"token": viewer["token"], "video_id": video_id, "username": "creator", "comment_id": comment["id"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    rt = open_runtime(make_settings(tmp, rate_limits=False))
    app = create_app(rt.settings, runtime=rt, start_background=False)
    with serve_in_thread(app) as base:
        yield base, _world(base, rt)
    rt.close()


@pytest.fixture(scope="module")
def api_schema(served: tuple[str, dict[str, str]]) -> Any:
    base, _world_ids = served
    return schemathesis.openapi.from_url(f"{base}/openapi.json")


def _real_ids(case: Any, world: dict[str, str]) -> None:
    """Point half of the cases' path parameters at objects that exist."""
    params = case.path_parameters or {}
    for name in list(params):
        if name in world and int(hashlib.sha256(repr(params).encode()).hexdigest(), 16) % 2 == 0:
            params[name] = world[name]


def _check(case: Any, base: str, world: dict[str, str], failures: list[str]) -> None:
    _real_ids(case, world)
    response = case.call(base_url=base, headers={"Authorization": f"Bearer {world['token']}"}, timeout=30)
    where = f"{case.method} {case.formatted_path}"
    if response.status_code >= 500:
        failures.append(f"{where} → {response.status_code} {response.text[:300]}\n  {case.as_curl_command()}")
    content_type = response.headers.get("content-type") or [""]  # schemathesis keeps every value of a header
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if response.status_code < 500 and response.status_code >= 400 and content_type.startswith("application/json"):
        body = response.json()
        if not (isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("code")):
            failures.append(f"{where} → {response.status_code} without an error code: {str(body)[:200]}")


def test_no_generated_request_gets_a_server_error(api_schema: Any, served: tuple[str, dict[str, str]]) -> None:
    base, world = served
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20  # the schema really was read
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        # Valid requests and invalid ones (wrong types, missing fields, out-of-range values) alike.
        cases = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in GenerationMode))

        @given(case=cases)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            _check(case, base, world, failures)

        run()
    assert not failures, f"{len(failures)} requests got a 5xx or an unshaped error:\n" + "\n".join(failures[:20])
