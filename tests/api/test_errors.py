"""Errors nobody handled: a clear 500 (or 503 for a database outage), and a connection the client can trust."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.runtime.region import RegionRuntime


def test_an_unhandled_error_closes_the_connection_openly(
    sqlite_rt: RegionRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    """The server closes the connection after an unhandled error (uvicorn does, once Starlette re-raises it for
    the log); without `Connection: close` a keep-alive client sent its next request into that close and got a
    dropped connection (the scaled load test's `ReadError` right after an upload's 500)."""
    app = create_app(sqlite_rt.settings, runtime=sqlite_rt, start_background=False)

    async def bug() -> None:
        raise RuntimeError("a bug")

    async def pool_exhausted() -> None:
        raise PoolTimeout("QueuePool limit reached")

    app.add_api_route("/test/bug", bug, methods=["POST"])
    app.add_api_route("/test/pool", pool_exhausted, methods=["POST"])
    caplog.set_level(logging.CRITICAL, logger="uvicorn.error")  # the tracebacks are expected here
    dropped = 0
    with serve_in_thread(app) as base, httpx.Client(base_url=base) as client:
        for _ in range(60):
            for path, status, code in (("/test/bug", 500, "internal"), ("/test/pool", 503, "unavailable")):
                r = client.post(path)
                assert (r.status_code, r.json()["error"]["code"]) == (status, code)
                assert r.headers["connection"] == "close"
                try:
                    assert client.get("/api/feed/foryou").status_code == 200
                except httpx.TransportError:
                    dropped += 1
    assert dropped == 0
