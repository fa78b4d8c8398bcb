"""`sovereel up`: the scaled layout on one machine — it refuses a layout that cannot work, starts every
process, restarts one that dies, aggregates metrics across API processes, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, text

from sovereel.api.server import free_port
from sovereel.runtime.supervisor import check_layout, plan
from sovereel.settings import load_settings
from tests.support.scale import NATS_URL, REDIS_URL, delete_stream, nats_available, redis_available, unique_region
from tests.support.scale import wait_for as poll
from tests.support.settings import PG_URL, postgres_available, require


def test_up_explains_what_a_scaled_layout_needs(tmp_path: Path) -> None:
    embedded = load_settings(data_dir=tmp_path)
    problems = check_layout(embedded, api_workers=2)
    assert any("SOVEREEL_BUS_URL=nats://" in p for p in problems)
    assert any("SOVEREEL_HOT_STATE_URL=redis://" in p for p in problems)
    assert check_layout(load_settings(data_dir=tmp_path, bus_url=NATS_URL, hot_state_url=REDIS_URL), 2) == []
    env = {"SOVEREEL_DATA_DIR": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "sovereel.cli", "up"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "SOVEREEL_BUS_URL=nats://" in proc.stderr


def test_the_plan_keeps_relay_learning_training_and_media_out_of_the_api(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, region="eu", bus_url=NATS_URL, hot_state_url=REDIS_URL)
    children = {c.name: c for c in plan(settings, host="127.0.0.1", port=9000, api_workers=3, media_threads=2,
                                        trainer=True, base_env={})}  # fmt: skip
    assert set(children) == {"api-1", "api-2", "api-3", "relay", "learner", "worker", "trainer"}
    api = children["api-1"]
    assert api.argv[-1] == "sovereel.api.worker" and api.listen == ("127.0.0.1", 9000)
    assert api.env["SOVEREEL_RUN_RELAY"] == "false" and api.env["SOVEREEL_RUN_WORKERS"] == "false"
    assert api.env["SOVEREEL_TRAIN_EVERY_S"] == "0" and api.env["SOVEREEL_BUS_CONSUMER"] == ""
    assert children["relay"].argv[-1] == "relay"
    # One learner per region, on a durable consumer; the API processes follow its deltas instead of learning.
    assert api.env["SOVEREEL_LEARNER_PROCESS"] == "true"
    assert children["learner"].argv[-1] == "learner" and children["learner"].env["SOVEREEL_BUS_CONSUMER"] == "learner"
    assert children["worker"].env["SOVEREEL_REGION"] == "eu"


def video_requests(metrics_dir: Path, pid: int) -> float:
    """How many GET /api/videos/{video_id} requests one process recorded in its multiprocess file."""
    from prometheus_client.multiprocess import MultiProcessCollector

    files = [str(f) for f in metrics_dir.glob(f"histogram_{pid}.db")]
    return sum(
        s.value
        for m in MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
        for s in m.samples
        if s.name.endswith("_count") and s.labels.get("route") == "/api/videos/{video_id}"
    )


@pytest.mark.postgres
@pytest.mark.nats
@pytest.mark.redis
@pytest.mark.slow
def test_up_runs_supervises_and_stops_the_scaled_layout(tmp_path: Path) -> None:
    require(postgres_available(), f"PostgreSQL is not reachable at {PG_URL}")
    require(nats_available(), f"NATS with JetStream is not reachable at {NATS_URL}")
    require(redis_available(), f"Redis is not reachable at {REDIS_URL}")
    schema, region, port = f"t_{secrets.token_hex(6)}", unique_region(), free_port()
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOVEREEL_", "PROMETHEUS_"))}
    env.update(
        {
            "SOVEREEL_DATA_DIR": str(tmp_path / "data"),
            "SOVEREEL_REGION": region,
            "SOVEREEL_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}",
            "SOVEREEL_BUS_URL": NATS_URL,
            "SOVEREEL_HOT_STATE_URL": REDIS_URL,
            "SOVEREEL_ENVIRONMENT": "test",
        }
    )
    log = (tmp_path / "up.log").open("wb")
    argv = [sys.executable, "-m", "sovereel.cli", "up", "--api-workers", "2", "--port", str(port), "--no-trainer"]
    up = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:

        def serving() -> bool:
            try:
                return httpx.get(f"{base}/metrics", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        assert poll(serving, timeout_s=240, every_s=1.0), (tmp_path / "up.log").read_text()[-4000:]
        children = {" ".join(c.cmdline()[2:4]): c for c in psutil.Process(up.pid).children()}
        expected = {"sovereel.api.worker --fd", "sovereel.cli relay", "sovereel.cli learner", "sovereel.cli worker"}
        assert expected <= set(children)

        def api_workers() -> list[psutil.Process]:
            return [c for c in psutil.Process(up.pid).children() if "sovereel.api.worker" in c.cmdline()]

        assert len(api_workers()) == 2
        # Metrics are summed over both API processes (a new connection each time: the kernel spreads them).
        for _ in range(40):
            assert httpx.get(f"{base}/api/videos/none", timeout=10).status_code == 404
        body = httpx.get(f"{base}/metrics", timeout=10).text
        served = {w.pid: video_requests(tmp_path / "data" / "run" / "metrics", w.pid) for w in api_workers()}
        assert sum(served.values()) == 40 and all(n > 0 for n in served.values()), served
        line = next(
            ln for ln in body.splitlines()
            if ln.startswith("sovereel_http_request_duration_seconds_count")
            and 'route="/api/videos/{video_id}"' in ln and 'status="4xx"' in ln
        )  # fmt: skip
        assert float(line.rsplit(" ", 1)[1]) == 40
        # A process that dies is started again.
        relay = children["sovereel.cli relay"]
        relay.kill()

        def relay_back() -> bool:
            for child in psutil.Process(up.pid).children():
                try:
                    if " ".join(child.cmdline()[2:4]) == "sovereel.cli relay" and child.pid != relay.pid:
                        return True
                except psutil.Error:
                    continue  # the killed one, not yet reaped
            return False

        assert poll(relay_back, timeout_s=30, every_s=0.5)
        # An API process that dies takes its socket with it (no connection waits on it meanwhile); its successor
        # listens on a new one and serves its share again.
        first_pids = {w.pid for w in api_workers()}
        dead = api_workers()[0]
        dead.kill()
        dead.wait(10)
        for _ in range(10):  # the other process takes every new connection meanwhile
            assert httpx.get(f"{base}/api/videos/none", timeout=10).status_code == 404
        assert poll(lambda: len([w for w in api_workers() if w.pid != dead.pid]) == 2, timeout_s=30, every_s=0.5)
        successor = next(w for w in api_workers() if w.pid not in first_pids)

        def successor_serves() -> bool:
            for _ in range(10):
                httpx.get(f"{base}/api/videos/none", timeout=10)
            return video_requests(tmp_path / "data" / "run" / "metrics", successor.pid) > 0

        assert poll(successor_serves, timeout_s=120, every_s=1.0), (tmp_path / "up.log").read_text()[-4000:]
        everyone = [p for p in psutil.Process(up.pid).children(recursive=True)]
        started = time.monotonic()
        up.send_signal(signal.SIGINT)  # Ctrl-C
        assert up.wait(timeout=60) == 0
        assert time.monotonic() - started < 30
        _gone, alive = psutil.wait_procs(everyone, timeout=5)
        assert alive == []
        assert "all processes stopped" in (tmp_path / "up.log").read_text()
    finally:
        if up.poll() is None:  # the test failed midway: end the tree it started
            for child in psutil.Process(up.pid).children(recursive=True):
                child.kill()
            up.kill()
            up.wait()
        delete_stream(region)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
