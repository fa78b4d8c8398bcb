"""Learning CPU per 1,000 events in the scaled layout, with 1 and 2 API processes, one learner or one per process.

Each configuration starts the scaled layout's processes on NATS JetStream (a relay, N uvicorn API processes on
their own ports and, with `split`, the `sovereel learner` process whose deltas the API processes follow), builds
a small world, sends watch-event batches and likes through the API processes in turn, and waits until every API
process has applied all of them (`sovereel_learner_signals_applied`). CPU is read per process with psutil, less
what each used idle over as long a time before the load. Then it times freshness: a like or a finished video
sent to the first API process until the last one serves a For You page from a model that counted it.

    python -m bench.learner_split [--events 3000] [--apis 1,2] [--modes split,each] [--via api|db] [--out …]

`--via db` writes the same events with the same actions from the benchmark's own process (the relay publishes
them as ever), so the API processes' CPU is only what following the events costs them, without request handling.

`each`: every API process learns from every event itself (`SOVEREEL_LEARNER_PROCESS=false`, the layout before
the split); `split`: one learner per region. Needs NATS with JetStream (SOVEREEL_TEST_NATS_URL).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from tests.support.foryou import TOPICS, seed_ready_videos
from tests.support.scale import NATS_URL, delete_stream, unique_region, wait_for

from sovereel.actions.accounts import do_signup
from sovereel.actions.social import do_like
from sovereel.actions.watch import WatchEvent, do_record_events
from sovereel.api.server import free_port
from sovereel.runtime.region import open_runtime
from sovereel.settings import load_settings
from sovereel.storage.db import open_region_db

PASSWORD = "bench-password"  # nosec B105: accounts of a throwaway benchmark world
IDLE_S = 5.0


@dataclass
class Layout:
    """The processes of one configuration and their logs."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)

    def start(self, name: str, argv: list[str]) -> None:
        out = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def cpu(self) -> dict[str, float]:
        times = {name: psutil.Process(p.pid).cpu_times() for name, p in self.procs.items()}
        return {name: t.user + t.system for name, t in times.items()}

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def applied(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("sovereel_learner_signals_applied"):
            return float(line.split()[1])
    raise RuntimeError("no sovereel_learner_signals_applied in /metrics")


def online_events(version: str) -> int:
    return int(version.split("+", 1)[1]) if "+" in version else 0


def served_events(client: httpx.Client, headers: dict[str, str]) -> int:
    items = client.get("/api/feed/foryou", params={"limit": 5}, headers=headers).json()["items"]
    return max((online_events(it["reason"]["model_version"]) for it in items), default=0)


def run_config(mode: str, apis: int, events: int, tmp: Path, via: str = "api", per_batch: int = 3) -> dict[str, Any]:
    region = unique_region()
    data = tmp / f"{mode}-{apis}"
    overrides = {"region": region, "data_dir": str(data), "environment": "test", "rate_limits": "false"}
    settings = load_settings(**overrides, run_workers=False)
    # The world: videos and creators written before any process starts (they read it at start).
    rt = open_runtime(settings)
    creators = {f"{t}{k}": do_signup(rt.db, f"{t}{k}", PASSWORD).id for t in TOPICS for k in (0, 1)}
    videos = list(seed_ready_videos(rt, creators, per_topic=25))
    rt.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOVEREEL_", "PROMETHEUS_"))}
    env.update({f"SOVEREEL_{k.upper()}": v for k, v in overrides.items()})
    env.update(
        {
            "SOVEREEL_BUS_URL": NATS_URL,
            "SOVEREEL_RUN_RELAY": "false",
            "SOVEREEL_RUN_WORKERS": "false",
            "SOVEREEL_TRAIN_EVERY_S": "0",
            "SOVEREEL_LEARNER_PROCESS": "true" if mode == "split" else "false",
        }
    )
    logs = data / "logs"
    logs.mkdir(parents=True)
    lay = Layout(env=env, logs=logs)
    py = sys.executable
    try:
        lay.start("relay", [py, "-m", "sovereel.cli", "relay", "--interval", "0.05"])
        if mode == "split":
            lay.start("learner", [py, "-m", "sovereel.cli", "learner"])
        for i in range(apis):
            port = free_port()
            argv = [py, "-m", "uvicorn", "--factory", "sovereel.api.asgi:app_from_env", "--port", str(port)]
            lay.start(f"api{i + 1}", [*argv, "--host", "127.0.0.1", "--log-level", "warning"])
            lay.urls.append(f"http://127.0.0.1:{port}")
        clients = [httpx.Client(base_url=u, timeout=60) for u in lay.urls]

        def up() -> bool:
            try:
                return all(c.get("/metrics").status_code == 200 for c in clients)
            except httpx.TransportError:
                return False

        if not wait_for(up, timeout_s=300, every_s=0.5):
            raise RuntimeError(f"the API processes did not start; see {logs}")
        viewers, viewer_ids = [], []
        for i in range(20):
            r = clients[i % apis].post(
                "/api/auth/signup", json={"username": f"viewer{i}", "password": PASSWORD, "birth_date": "1990-01-01"}
            )
            if r.status_code != 201:
                raise RuntimeError(r.text)
            clients[i % apis].cookies.clear()
            viewers.append({"Authorization": f"Bearer {r.json()['token']}"})
            viewer_ids.append(r.json()["user"]["id"])
        db = open_region_db(settings)
        time.sleep(3.0)  # sign-ups and the learner's start settle
        base = [applied(c) for c in clients]
        idle_from = lay.cpu()
        time.sleep(IDLE_S)
        idle_rate = {k: (v - idle_from[k]) / IDLE_S for k, v in lay.cpu().items()}

        # The load: batches of watch events (3 per video, a progress) and a like, round robin over viewers and API
        # processes.
        rng = random.Random(7)
        sent, started, cpu0 = 0, time.monotonic(), lay.cpu()
        liked: set[tuple[int, str]] = set()
        k = 0
        while sent < events:
            v = k % len(viewers)
            client = clients[k % apis]
            batch: list[dict[str, Any]] = []
            for _ in range(per_batch):
                vid = rng.choice(videos)
                done = rng.random() < 0.5
                ts = int(time.time() * 1000)
                for kind, watched in (("impression", 0.0), ("play", 0.0), ("complete" if done else "skip", 4.0)):
                    cid = uuid.uuid4().hex
                    batch.append({"client_id": cid, "kind": kind, "video_id": vid, "ts": ts, "watched_s": watched})
            batch.append({**batch[-1], "client_id": uuid.uuid4().hex, "kind": "progress"})
            vid = rng.choice(videos)
            like = (v, vid) not in liked
            liked.add((v, vid))
            if via == "db":
                rows = [
                    WatchEvent(e["client_id"], e["kind"], e["video_id"], e["ts"] / 1e3, e["watched_s"]) for e in batch
                ]
                sent += do_record_events(db, user_id=viewer_ids[v], events=rows).accepted
                if like:
                    do_like(db, user_id=viewer_ids[v], video_id=vid)
                    sent += 1
            else:
                r = client.post("/api/events", headers=viewers[v], json={"events": batch})
                sent += int(r.json()["accepted"])
                if like and client.post(f"/api/videos/{vid}/like", headers=viewers[v]).status_code == 200:
                    sent += 1
            k += 1

        def digested() -> bool:
            return all(applied(c) >= b + sent for c, b in zip(clients, base, strict=True))

        if not wait_for(digested, timeout_s=300, every_s=0.2):
            raise RuntimeError(f"not every API process applied the {sent} events; see {logs}")
        took = time.monotonic() - started
        cpu1 = lay.cpu()
        net = {k: max(0.0, cpu1[k] - cpu0[k] - idle_rate[k] * took) for k in cpu1}
        per_1000 = {k: round(v * 1000 / sent, 3) for k, v in net.items()}
        consuming = [k for k in per_1000 if k.startswith("api") or k == "learner"]

        # Freshness: an event sent to the first API process, until the last one serves a page that counted it.
        fresh: list[float] = []
        watcher = viewers[0]
        for i in range(20):
            seen = served_events(clients[-1], watcher)

            def counted(seen: int = seen) -> bool:
                return served_events(clients[-1], watcher) > seen

            t0 = time.perf_counter()
            vid = videos[(i * 7) % len(videos)]
            if i % 2 or (0, vid) in liked:
                ev = {"client_id": uuid.uuid4().hex, "kind": "complete", "video_id": vid,
                      "ts": int(time.time() * 1000), "watched_s": 10.0}  # fmt: skip
                clients[0].post("/api/events", headers=watcher, json={"events": [ev]})
            else:
                clients[0].post(f"/api/videos/{vid}/like", headers=watcher)
                liked.add((0, vid))
            if not wait_for(counted, timeout_s=10, every_s=0.01):
                raise RuntimeError("an event had no effect on the last API process within 10 s")
            fresh.append(time.perf_counter() - t0)
        arr = np.array(fresh) * 1000
        for c in clients:
            c.close()
        db.dispose()
        return {
            "via": via,
            "events_per_batch": 3 * per_batch + 1,
            "mode": mode,
            "api_processes": apis,
            "events": sent,
            "seconds": round(took, 2),
            "cpu_s_per_1000_events": per_1000,
            "consuming_cpu_s_per_1000_events": round(sum(per_1000[k] for k in consuming), 3),
            "freshness_ms": {q: round(float(np.percentile(arr, int(q[1:]))), 1) for q in ("p50", "p99")},
        }
    finally:
        lay.stop()
        delete_stream(region)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--apis", default="1,2")
    parser.add_argument("--modes", default="split,each")
    parser.add_argument("--videos-per-batch", type=int, default=3, help="videos per event batch (3 events each)")
    parser.add_argument("--via", choices=("api", "db"), default="api", help="send events through the API or not")
    parser.add_argument("--out", type=Path, default=Path("bench/results/learner_split.json"))
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            for apis in (int(n) for n in args.apis.split(",")):
                result = run_config(mode, apis, args.events, Path(tmp), args.via, args.videos_per_batch)
                print(json.dumps(result), flush=True)
                results.append(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
