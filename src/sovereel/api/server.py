"""Running the app under uvicorn in a background thread (benchmarks, browser tests, embedded use)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    """A TCP port on the loopback interface that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: FastAPI, port: int | None = None, *, keep_alive_s: int = 120) -> Iterator[str]:
    """Serve an app with a real uvicorn server on loopback; yields its base URL and stops it on exit."""
    port = port or free_port()
    # Idle connections live longer than clients keep them: with uvicorn's 5 s default, a request a client sends on
    # a pooled connection just as the server closes it fails with ECONNRESET.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=keep_alive_s)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
