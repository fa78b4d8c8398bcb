"""API processes run as uvicorn workers answer without Nagle's delay: every connection has TCP_NODELAY set.

uvicorn's `--workers` binds the shared socket itself, and asyncio leaves Nagle on for sockets bound that way, so
a response sent in two writes waited for the client's delayed ACK (44 ms a keep-alive request). These tests serve
through the socket uvicorn binds for workers and read the option on the server's side of each connection.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.h11_impl import H11Protocol

from sovereel.api import worker
from sovereel.api.http_protocol import NoDelayH11Protocol
from sovereel.runtime.supervisor import HTTP_PROTOCOL, api_argv


async def ok_app(scope: dict[str, Any], _receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


def nodelay_of_connections(protocol: type[H11Protocol]) -> list[int]:
    """Serve two keep-alive requests through a socket bound as `--workers` binds it; TCP_NODELAY per connection."""
    seen: list[int] = []

    class Recording(protocol):  # type: ignore[misc,valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    config = uvicorn.Config(ok_app, host="127.0.0.1", port=0, http=Recording, log_level="warning", lifespan="off")
    sock = config.bind_socket()  # what uvicorn's multiprocess supervisor hands each worker
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        with httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}") as client:
            assert [client.get("/").text for _ in range(2)] == ["ok", "ok"]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    return seen


def test_the_api_protocol_turns_nagle_off_on_the_socket_workers_share() -> None:
    assert nodelay_of_connections(H11Protocol) == [0]  # uvicorn's own, on that socket: the delay
    (flag,) = nodelay_of_connections(NoDelayH11Protocol)
    assert flag != 0


@pytest.mark.parametrize("workers", [1, 3])
def test_every_layout_starts_its_api_processes_with_that_protocol(workers: int) -> None:
    # Where the processes share one socket (not Linux): uvicorn's --workers, told the protocol by name.
    argv = api_argv("python", "127.0.0.1", 8000, workers)
    assert argv[argv.index("--http") + 1] == HTTP_PROTOCOL
    assert argv[argv.index("--workers") + 1] == str(workers)
    assert import_from_string(HTTP_PROTOCOL) is NoDelayH11Protocol  # the string uvicorn resolves
    # On Linux each is `api.worker` on a socket of its own, which uses the class itself.
    assert worker.server_config().http is NoDelayH11Protocol


def test_the_deploy_files_start_their_api_workers_with_that_protocol() -> None:
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    commands = [
        line
        for path in deploy.rglob("*")
        if path.is_file()
        for line in path.read_text(encoding="utf-8").splitlines()
        if "uvicorn" in line and "--workers" in line
    ]
    assert len(commands) >= 4  # Procfile, systemd, compose, Dockerfile
    assert all(HTTP_PROTOCOL in line for line in commands), commands


def test_one_process_serve_keeps_an_idle_connection_longer_than_uvicorns_default(tmp_path: Path) -> None:
    # At uvicorn's 5 s default a pooled connection idle for 5 s is closed by the server, and a request the client
    # sends on it at that moment fails with no status (a 30-minute bench.load saw one). A connection idle for 6 s
    # must still answer.
    import os
    import subprocess
    import sys

    from sovereel.api.server import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOVEREEL_", "PROMETHEUS_"))}
    env |= {"SOVEREEL_DATA_DIR": str(tmp_path / "data"), "SOVEREEL_ENVIRONMENT": "test", "SOVEREEL_TRAIN_EVERY_S": "0"}
    argv = [sys.executable, "-m", "sovereel.cli", "serve", "--processes", "1", "--port", str(port), "--no-workers"]
    log = tmp_path / "serve.log"
    serve = subprocess.Popen(argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert serve.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/feed/foryou", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        request = f"GET /api/feed/foryou HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            for pause in (0.0, 6.0):
                time.sleep(pause)
                sock.sendall(request)
                head = sock.recv(65536)
                assert head.startswith(b"HTTP/1.1 200"), (pause, head[:200])
                length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
                body = head.split(b"\r\n\r\n", 1)[1]
                while len(body) < length:
                    body += sock.recv(65536)
    finally:
        serve.terminate()
        serve.wait(30)
