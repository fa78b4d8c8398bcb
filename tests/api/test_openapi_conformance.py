"""Schemathesis against the OpenAPI document: it is a contract a generated client can trust.

The app runs in this process under uvicorn on a loopback thread (lifespan and middleware as in production) on
SQLite with a small world: a signed-in user, a creator with a ready video and a comment. Half of the generated
path parameters name those real objects, so the fuzzing reaches past the 404s into the handlers. Every answer
goes through schemathesis's conformance checks: no 5xx, a status the operation documents, the content type it
documents for that status, and a body that validates against the documented schema (error bodies included).
Bounded: a few examples per operation, derandomized so CI runs the same requests every time. A second pass
sends every operation that takes a body hostile body shapes (deep nesting, oversize, broken encodings, NaN,
truncation, random bytes): always a 4xx with the error envelope. A static test holds every JSON route to a
declared response model, so a new route without one fails the test command.
"""

from __future__ import annotations

import hashlib
import re
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
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from sovereel.api.app import create_app
from sovereel.api.bodies import DEFAULT_LIMIT, MAX_DEPTH
from sovereel.api.server import serve_in_thread
from sovereel.ids import new_id
from sovereel.runtime.region import open_runtime
from sovereel.storage.models import Video
from tests.support.settings import make_settings

EXAMPLES_PER_OPERATION = 15
# What the document promises about every answer; the checks run on each generated request's response.
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
HOSTILE_EXAMPLES_PER_OPERATION = 12
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Operations that end the fuzzer's own session or account: every later request would only test the 401 path.
SKIP = {("POST", "/api/auth/logout"), ("DELETE", "/api/me")}


def _world(base: str, rt: Any) -> dict[str, str]:
    """A viewer, a creator with a ready video and a comment on it; returns the viewer's token and real ids."""
    with httpx.Client(base_url=base, timeout=30) as c:
        creds = {"password": "correct horse battery", "birth_date": "1990-01-01"}
        creator = c.post("/api/auth/signup", json={"username": "creator", **creds}).json()
        c.cookies.clear()  # act through bearer tokens: a cookie-carrying write without an Origin is refused (403)
        viewer = c.post("/api/auth/signup", json={"username": "viewer", **creds}).json()
        c.cookies.clear()
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
    where = f"{case.method} {case.formatted_path} → {response.status_code}"
    try:
        case.validate_response(response, checks=CONFORMANCE)
    except FailureGroup as exc:  # each check that failed, with what it saw
        failures.append(f"{where}: {str(exc)[:600]}\n  {case.as_curl_command()}")
    content_type = response.headers.get("content-type") or [""]  # schemathesis keeps every value of a header
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if response.status_code < 500 and response.status_code >= 400 and content_type.startswith("application/json"):
        body = response.json()
        if not (isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("code")):
            failures.append(f"{where} without an error code: {str(body)[:200]}")


def test_every_answer_conforms_to_the_document(api_schema: Any, served: tuple[str, dict[str, str]]) -> None:
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
    assert not failures, f"{len(failures)} answers break the document:\n" + "\n".join(failures[:20])


def _nested(depth: int, opener: bytes, closer: bytes, inner: bytes = b"1") -> bytes:
    return opener * depth + inner + closer * depth


# Bodies every route must refuse with a 4xx: (label, body, content type).
HOSTILE: list[tuple[str, bytes, str]] = [
    ("60 KB of nested arrays", _nested(30_000, b"[", b"]", b""), "application/json"),
    ("nested objects", _nested(10_000, b'{"a":', b"}"), "application/json"),
    ("nested, no content type", _nested(MAX_DEPTH + 1, b"[", b"]"), ""),
    (
        "nested under a real field",
        b'{"body": ' + _nested(5_000, b"[", b"]") + b', "username": "x"}',
        "application/json",
    ),
    ("over the size cap", b'{"body": "' + b"x" * (DEFAULT_LIMIT + 1024) + b'"}', "application/json"),
    ("invalid UTF-8", b'{"body": "\xff\xfe", "username": "\xc3"}', "application/json"),
    ("truncated", b'{"body": "hello", "usern', "application/json"),
    ("NaN", b'{"body": NaN, "username": NaN, "ts": NaN}', "application/json"),
    ("Infinity", b'{"ts": 1e999, "body": Infinity}', "application/json"),
    ("duplicate keys", b'{"body": "a", "body": "b"}', "application/json"),
]


def _hostile_shapes() -> st.SearchStrategy[tuple[bytes, str]]:
    """Deep or broken JSON of random shape, or random bytes, under a JSON-ish content type."""
    opener = st.sampled_from([b"[", b'{"a":', b'{"body":[', b'[{"events":'])
    deep = st.builds(lambda d, o: o * d, st.integers(MAX_DEPTH + 1, 20_000), opener)  # never closed: also truncated
    random_bytes = st.binary(min_size=1, max_size=512)
    content_type = st.sampled_from(["application/json", "application/json; charset=utf-8", "application/x+json", ""])
    return st.tuples(st.one_of(deep, random_bytes), content_type)


def _typed(content_type: str) -> dict[str, str]:
    return {"content-type": content_type} if content_type else {}


def _refused_well(response: httpx.Response) -> bool:
    if not 400 <= response.status_code < 500:
        return False
    body = response.json()
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and bool(body["error"].get("code"))


def _fuzz_bodies(c: httpx.Client, method: str, path: str, failures: list[str]) -> None:
    @given(shape=_hostile_shapes())
    @settings(
        max_examples=HOSTILE_EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(shape: tuple[bytes, str]) -> None:
        body, content_type = shape
        r = c.request(method, path, content=body, headers=_typed(content_type))
        if r.status_code >= 500 or (r.status_code >= 400 and not _refused_well(r)):
            failures.append(f"{method} {path} with {body[:60]!r} → {r.status_code} {r.text[:200]}")

    run()


def test_hostile_bodies_are_a_4xx_on_every_operation(api_schema: Any, served: tuple[str, dict[str, str]]) -> None:
    base, world = served
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    targets = [
        (op.method.upper(), re.sub(r"\{(\w+)\}", lambda m: world.get(m.group(1), "x" * 26), op.path))
        for op in operations
        if op.method.upper() in UNSAFE and (op.method.upper(), op.path) not in SKIP
    ]
    assert len(targets) > 10  # the schema really was read
    headers = {"Authorization": f"Bearer {world['token']}"}
    with httpx.Client(base_url=base, timeout=30, headers=headers) as c:
        for method, path in targets:
            for label, body, content_type in HOSTILE:
                r = c.request(method, path, content=body, headers=_typed(content_type))
                if not _refused_well(r):
                    failures.append(f"{method} {path} with {label} → {r.status_code} {r.text[:200]}")

            _fuzz_bodies(c, method, path, failures)
    assert not failures, f"{len(failures)} hostile bodies got a 5xx or an unshaped error:\n" + "\n".join(failures[:20])


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _declares_fields(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An object schema with named properties (or a list of them): not `{}`, not a bare `dict[str, Any]`."""
    schema = _resolve(doc, schema)
    if schema.get("type") == "array":
        return _declares_fields(doc, schema.get("items") or {})
    return schema.get("type") == "object" and bool(schema.get("properties"))


def _openapi(tmp_path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = create_app(make_settings(tmp_path), start_background=False).openapi()
    return doc


def test_every_json_route_declares_its_response_model(tmp_path: Path) -> None:
    """Each operation's success answer is a declared model, or a documented non-JSON media type, or 204."""
    doc = _openapi(tmp_path)
    problems = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            ok = {status: r for status, r in op["responses"].items() if status in ("200", "201", "202", "204")}
            if not ok:
                problems.append(f"{where}: no 2xx response documented")
            for status, response in ok.items():
                content = response.get("content") or {}
                if status == "204":
                    if content:
                        problems.append(f"{where}: 204 documents a body")
                    continue
                if not content:
                    problems.append(f"{where}: {status} documents no media type")
                json_body = content.get("application/json")
                if json_body is not None and not _declares_fields(doc, json_body.get("schema") or {}):
                    problems.append(f"{where}: {status} application/json has no response model")
    assert not problems, "\n".join(problems)


def test_every_error_answer_is_the_documented_error_body(tmp_path: Path) -> None:
    """The 4xx/5xx an operation documents are the project's `{"error": {"code", "message"}}`, not FastAPI's."""
    doc = _openapi(tmp_path)
    problems = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            for status, response in op["responses"].items():
                if status[0] not in "45" or status == "416":  # a refused range has an empty body
                    continue
                schema = (response.get("content") or {}).get("application/json", {}).get("schema", {})
                if schema.get("$ref", "").rsplit("/", 1)[-1] != "ErrorBody":
                    problems.append(f"{method.upper()} {path} {status}: {schema}")
    assert not problems, "\n".join(problems)
