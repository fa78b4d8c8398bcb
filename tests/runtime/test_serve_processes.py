"""`sovereel serve --processes N`: the embedded default (SQLite, a local folder, no server to install) served by a
hub process and N API processes. A like and watch events change the viewer's For You page within moments, and
both API processes serve the changed page; rate limits hold across processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from sovereel.actions.accounts import do_signup
from sovereel.api.server import free_port
from sovereel.runtime.embedded import bus_socket, plan_embedded
from sovereel.runtime.region import open_runtime
from sovereel.runtime.supervisor import REUSE_PORT, listening_socket
from tests.support.api import ADULT_BIRTH_DATE
from tests.support.foryou import TOPICS, seed_ready_videos
from tests.support.scale import wait_for
from tests.support.settings import make_settings


def test_the_plan_runs_one_hub_and_api_processes_that_follow_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, region="eu")
    hub, *apis = plan_embedded(settings, host="127.0.0.1", port=9000, processes=3, run_workers=True, base_env={})
    url = f"local://{bus_socket(settings)}"
    # Three API processes, each listening on a socket of its own on the one port (the kernel spreads connections).
    assert hub.argv[-1] == "hub" and len(apis) == 3
    assert all(a.argv[-1] == "sovereel.api.worker" and a.listen == ("127.0.0.1", 9000) for a in apis)
    api = apis[0]
    assert hub.env["SOVEREEL_BUS_URL"] == api.env["SOVEREEL_BUS_URL"] == url
    assert api.env["SOVEREEL_HOT_STATE_URL"] == url  # rate limits and session look-ups are kept by the hub
    # One relay, one learner, one analytics fold, one set of media threads, one trainer: all in the hub.
    assert hub.env["SOVEREEL_RUN_RELAY"] == "true" and hub.env["SOVEREEL_RUN_WORKERS"] == "true"
    assert api.env["SOVEREEL_RUN_RELAY"] == "false" and api.env["SOVEREEL_RUN_WORKERS"] == "false"
    assert api.env["SOVEREEL_LEARNER_PROCESS"] == "true" and api.env["SOVEREEL_TRAIN_EVERY_S"] == "0"
    assert hub.env["SOVEREEL_REGION"] == api.env["SOVEREEL_REGION"] == "eu"


@pytest.mark.skipif(not REUSE_PORT, reason="API processes listen on sockets of their own on Linux only")
def test_each_api_process_socket_gets_its_share_of_new_connections() -> None:
    # The kernel hashes each new connection to one socket of the port's SO_REUSEPORT group: with two API
    # processes, 64 connections all landing on one socket would happen once in 2**63 runs.
    first = listening_socket("127.0.0.1", 0)
    second = listening_socket("127.0.0.1", first.getsockname()[1])
    clients = [socket.create_connection(first.getsockname(), timeout=5) for _ in range(64)]
    try:
        for sock in (first, second):
            sock.setblocking(False)
        counts = []
        for sock in (first, second):
            accepted = 0
            while True:
                try:
                    conn, _addr = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                accepted += 1
            counts.append(accepted)
        assert sum(counts) == 64 and min(counts) > 0, counts
    finally:
        for c in (*clients, first, second):
            c.close()


def test_serve_refuses_a_port_another_server_listens_on(tmp_path: Path) -> None:
    # Sockets of the SO_REUSEPORT group would otherwise join another server of the same user on that port and
    # silently take half its connections.
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOVEREEL_", "PROMETHEUS_"))}
        env |= {"SOVEREEL_DATA_DIR": str(tmp_path / "data"), "SOVEREEL_ENVIRONMENT": "test"}
        argv = [sys.executable, "-m", "sovereel.cli", "serve", "--processes", "2", "--port", str(port), "--no-workers"]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


def test_a_socket_path_too_long_for_unix_sockets_moves_to_the_temp_folder(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    path = bus_socket(make_settings(deep))
    assert len(str(path)) <= 100 and path.name.startswith("sovereel-")
    assert bus_socket(make_settings(deep)) == path  # every process of the layout computes the same one


def foryou_requests(metrics_dir: Path, pid: int) -> float:
    """How many For You pages one process served, from its multiprocess metrics file."""
    from prometheus_client.multiprocess import MultiProcessCollector

    files = [str(f) for f in metrics_dir.glob(f"histogram_{pid}.db")]
    return sum(
        s.value
        for m in MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
        for s in m.samples
        if s.name.endswith("_count") and s.labels.get("route") == "/api/feed/foryou"
    )


def watch_batch(video_id: str) -> list[dict[str, Any]]:
    now = int(time.time() * 1000)
    return [
        {"client_id": uuid.uuid4().hex, "kind": kind, "video_id": video_id, "ts": now, "watched_s": watched}
        for kind, watched in (("impression", 0.0), ("play", 0.0), ("complete", 10.0))
    ]


@pytest.mark.slow
def test_serve_with_two_processes_adapts_for_you_on_both(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, train_every_s=0.0)
    rt = open_runtime(settings)  # the region's store, seeded before serving (as `sovereel demo` does)
    try:
        creators = {f"{t}{k}": do_signup(rt.db, f"{t}{k}", "correct horse battery").id for t in TOPICS for k in (0, 1)}
        topic_of = seed_ready_videos(rt, creators)
    finally:
        rt.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOVEREEL_", "PROMETHEUS_"))}
    env.update(
        {
            "SOVEREEL_DATA_DIR": str(settings.data_dir),
            "SOVEREEL_ENVIRONMENT": "test",
            "SOVEREEL_TRAIN_EVERY_S": "0",
            "SOVEREEL_RATE_SIGNUP": "3/3600",  # kept by the hub: three sign-ups in all, not three per process
        }
    )
    log_path = tmp_path / "serve.log"
    argv = [sys.executable, "-m", "sovereel.cli", "serve", "--processes", "2", "--port", str(port), "--no-workers"]
    serve = subprocess.Popen(argv, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def log_tail() -> str:
        return log_path.read_text()[-5000:]

    def get(path: str, **kw: Any) -> httpx.Response:
        return httpx.get(base + path, timeout=30, **kw)  # a new connection each time: the kernel spreads them

    def page(viewer: dict[str, str]) -> list[str]:
        r = get("/api/feed/foryou", params={"limit": 10}, headers=viewer)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    try:

        def up() -> bool:
            try:
                return get("/metrics").status_code == 200
            except httpx.TransportError:
                return False

        assert wait_for(up, timeout_s=240, every_s=1.0), log_tail()
        processes = psutil.Process(serve.pid).children(recursive=True)
        workers = [p for p in processes if "sovereel.api.worker" in p.cmdline()]
        assert len(workers) == 2, [p.cmdline() for p in processes]
        assert any(p.cmdline()[-1] == "hub" for p in processes)
        signups = [
            httpx.post(
                f"{base}/api/auth/signup",
                json={"username": f"viewer{i}", "password": "correct horse battery", "birth_date": ADULT_BIRTH_DATE},
                timeout=30,
            )
            for i in range(4)
        ]
        assert [r.status_code for r in signups] == [201, 201, 201, 429], log_tail()
        viewer = {"Authorization": f"Bearer {signups[0].json()['token']}"}
        assert wait_for(lambda: len(page(viewer)) >= 8, timeout_s=30), log_tail()
        before = page(viewer)

        liked = next(v for v, t in topic_of.items() if t == "pets" and v not in before[:1])
        sent_at = time.monotonic()
        assert httpx.post(f"{base}/api/videos/{liked}/like", headers=viewer, timeout=30).status_code == 200
        events = httpx.post(f"{base}/api/events", headers=viewer, json={"events": watch_batch(liked)}, timeout=30)
        assert events.json()["accepted"] == 3, events.text

        def adapted() -> bool:
            after = page(viewer)
            return after != before and topic_of[after[0]] == "pets" and liked not in after

        assert wait_for(adapted, timeout_s=10, every_s=0.1), log_tail()
        took = time.monotonic() - sent_at
        # From here on, every page answered by either process is the adapted one.
        metrics_dir = settings.data_dir / "run" / "metrics"
        served_before = {w.pid: foryou_requests(metrics_dir, w.pid) for w in workers}
        for _ in range(30):
            assert adapted(), "a process served the page from before the like"

        def served() -> dict[int, float]:
            return {w.pid: foryou_requests(metrics_dir, w.pid) - served_before[w.pid] for w in workers}

        # (a request's duration is recorded just after its answer is sent)
        assert wait_for(lambda: sum(served().values()) == 30, timeout_s=5), served()
        assert all(n > 0 for n in served().values()), served()
        assert took < 3.0, f"the page adapted only after {took:.1f}s"
        print(f"\nadapted {took:.2f}s after the like; the 30 pages after that per process: {served()}")

        started = time.monotonic()
        serve.send_signal(signal.SIGINT)  # Ctrl-C
        assert serve.wait(timeout=60) == 0, log_tail()
        assert time.monotonic() - started < 40
        _gone, alive = psutil.wait_procs(processes, timeout=10)
        assert alive == []
        assert not bus_socket(settings).exists()  # the hub removed its socket
    finally:
        if serve.poll() is None:
            for child in psutil.Process(serve.pid).children(recursive=True):
                child.kill()
            serve.kill()
            serve.wait()
