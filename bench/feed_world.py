"""For You against catalogue size: worlds built by `sovereel world`, served embedded, driven by closed-loop clients.

Run through `python -m bench.feed_load --world-videos …` (see its docstring). For each catalogue size it builds
(or takes from `--worlds-dir`, where built worlds are kept for the next run) a world of `--world-users` users and
`--world-events` events, trained with `--trained`; copies it to a scratch folder; starts `sovereel serve` on
SQLite (`embedded`: one process, `--processes 1`); waits for its start-up work to settle; then for each client
count runs `--seconds` of closed-loop clients (each signed in as its own world account: a For You page, then its
watch-event batch). With `--world-layouts embedded,embedded:2,scaled:1,scaled:2` each world is also served by
`sovereel serve --processes N` (`embedded:N`: a hub process and N API processes on the local bus, no server to
install) and by `sovereel up` (`scaled:N`: N API processes, the relay and the media worker over a private NATS
JetStream and Redis; the world's SQLite store is shared by the processes). Per point:

- pages/s, For You and event-batch p50/p99, errors;
- server CPU ms per page: the server's CPU time (user + system, psutil, its whole process tree) over the run,
  divided by the pages served (the event batches' CPU is in it: each page comes with one);
- RSS per process at the end of the run;
- the per-stage breakdown: mean ms per page in each stage of `sovereel_foryou_stage_seconds{stage}`, the
  difference of /metrics scraped before and after the run;
- the learner's commit-to-apply lag (`sovereel_event_lag_seconds`, over the server's life);
- the machine's 1-minute load average before and after (other work on a shared machine skews every figure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from bench.feed_load import drive
from bench.load import learner_lag, settle
from bench.services import kill_tree, private_nats, private_redis, sovereel_process, wait_http
from sovereel.api.server import free_port
from sovereel.demo.bulk_world import USERNAME_PREFIX, WORLD_PASSWORD
from sovereel.telemetry import FORYOU_STAGES

CACHE = Path(__file__).resolve().parent / ".cache" / "worlds"


def add_world_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the catalogue-size mode."""
    parser.add_argument("--world-videos", default="", help="catalogue sizes to measure, e.g. 1000,10000,100000")
    parser.add_argument("--world-users", type=int, default=10_000)
    parser.add_argument("--world-events", type=int, default=100_000, help="events in each world's history")
    parser.add_argument("--world-seed", type=int, default=1)
    parser.add_argument("--trained", action="store_true", help="train a model version on each world's history")
    parser.add_argument(
        "--world-layouts",
        default="embedded",
        help="embedded (one process), embedded:N (serve --processes N) and/or scaled:N (sovereel up, N API processes)",
    )
    parser.add_argument("--plot", type=Path, default=Path("bench/results/feed_world.png"))
    parser.add_argument("--worlds-dir", type=Path, default=CACHE, help="built worlds are kept here and reused")


def world_dir(args: argparse.Namespace, videos: int) -> Path:
    """The world of this size, built by `sovereel world` the first time it is asked for."""
    key = f"v{videos}-u{args.world_users}-e{args.world_events}-s{args.world_seed}-{'t' if args.trained else 'n'}"
    folder: Path = args.worlds_dir / key
    if (folder / "built").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    argv = [sys.executable, "-m", "sovereel.cli", "--data-dir", str(folder / "data"), "world",
            "--videos", str(videos), "--users", str(args.world_users), "--events", str(args.world_events),
            "--seed", str(args.world_seed), "--train" if args.trained else "--no-train"]  # fmt: skip
    started = time.perf_counter()
    with (folder / "build.log").open("wb") as log:
        subprocess.run(argv, check=True, stdout=log, stderr=subprocess.STDOUT, timeout=6 * 3600)
    (folder / "built").write_text(f"{time.perf_counter() - started:.1f}\n")
    return folder


def stage_totals(base: str) -> dict[str, tuple[float, float]]:
    """(sum of seconds, count of pages) per For You stage, from /metrics."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    out: dict[str, list[float]] = {}
    for line in text.splitlines():
        for suffix, slot in (("_sum{", 0), ("_count{", 1)):
            if line.startswith(f"sovereel_foryou_stage_seconds{suffix}"):
                stage = line.split('stage="', 1)[1].split('"', 1)[0]
                out.setdefault(stage, [0.0, 0.0])[slot] += float(line.rsplit(" ", 1)[1])
    return {stage: (v[0], v[1]) for stage, v in out.items()}


def tree(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def rss_per_process(pid: int) -> list[dict[str, Any]]:
    out = []
    for p in tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            out.append({"pid": p.pid, "cmd": " ".join(p.cmdline()[2:5]), "rss_mb": round(p.memory_info().rss / 2**20)})
    return out


def sign_in(base: str, first: int, n: int) -> list[str]:
    return [
        httpx.post(f"{base}/api/auth/login", json={"username": f"{USERNAME_PREFIX}{i}", "password": WORLD_PASSWORD},
                   timeout=60).json()["token"]
        for i in range(first, first + n)
    ]  # fmt: skip


def measure(base: str, pid: int, tokens: list[str], seconds: float) -> dict[str, Any]:
    """One point: closed-loop clients for `seconds`, with the server's CPU, memory and stage times around it."""
    stages0, cpu0, load0 = stage_totals(base), cpu_seconds(pid), os.getloadavg()[0]
    lat, errors, elapsed = asyncio.run(drive(base, tokens, seconds))
    cpu1, stages1 = cpu_seconds(pid), stage_totals(base)
    pages = len(lat["GET /api/feed/foryou"])
    point: dict[str, Any] = {"clients": len(tokens), "seconds": round(elapsed, 1), "pages": pages,
                             "pages_per_s": round(pages / elapsed, 1), "errors": len(errors),
                             "error_samples": sorted(set(errors))[:3]}  # fmt: skip
    for endpoint, key in (("GET /api/feed/foryou", "foryou"), ("POST /api/events", "events")):
        arr = np.array(lat[endpoint]) * 1000
        point[f"{key}_p50_ms"] = round(float(np.percentile(arr, 50)), 1) if len(arr) else None
        point[f"{key}_p99_ms"] = round(float(np.percentile(arr, 99)), 1) if len(arr) else None
    point["server_cpu_ms_per_page"] = round((cpu1 - cpu0) * 1000 / pages, 1) if pages else None
    point["server_cpu_percent"] = round((cpu1 - cpu0) * 100 / elapsed, 1)
    # A shared machine skews every figure: the load average says how much else was running.
    point["load_average_1m"] = [round(load0, 1), round(os.getloadavg()[0], 1)]
    point["rss_mb"] = rss_per_process(pid)
    point["stage_ms_per_page"] = {}
    for stage in FORYOU_STAGES:
        s0, c0 = stages0.get(stage, (0.0, 0.0))
        s1, c1 = stages1.get(stage, (0.0, 0.0))
        point["stage_ms_per_page"][stage] = round((s1 - s0) * 1000 / (c1 - c0), 2) if c1 > c0 else None
    return point


def start_server(layout: str, data: Path, port: int, log: Path) -> tuple[subprocess.Popen[bytes], list[Any]]:
    """`sovereel serve` in one process ("embedded") or with a hub and N API processes ("embedded:N"), or
    `sovereel up` with N API processes ("scaled:N") on private NATS and Redis."""
    env = {"SOVEREEL_DATA_DIR": str(data), "SOVEREEL_RUN_WORKERS": "false", "SOVEREEL_RATE_LIMITS": "false",
           "SOVEREEL_TRAIN_EVERY_S": "0"}  # fmt: skip
    api_procs = int(layout.partition(":")[2] or 1)
    if layout.startswith("embedded"):
        return sovereel_process(["serve", "--port", str(port), "--processes", str(api_procs)], env, log), []
    nats, redis = private_nats(), private_redis()
    env |= {
        "SOVEREEL_BUS_URL": f"nats://127.0.0.1:{nats.port}",
        "SOVEREEL_HOT_STATE_URL": f"redis://127.0.0.1:{redis.port}/0",
    }
    argv = ["up", "--port", str(port), "--api-workers", str(api_procs), "--no-trainer"]
    return sovereel_process(argv, env, log), [nats, redis]


def run_world(args: argparse.Namespace, videos: int, layout: str, clients: list[int], tmp: Path) -> dict[str, Any]:
    """Every client count against one catalogue size, on one layout."""
    built = world_dir(args, videos)
    data = tmp / f"v{videos}"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(built / "data", data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc, services = start_server(layout, data, port, tmp / f"server-v{videos}-{layout.replace(':', '')}.log")
    try:
        wait_http(f"{base}/api/feed/foryou", 900, proc)
        ready_s = time.perf_counter() - started
        settle([proc.pid], timeout_s=900)  # caption embedding of the catalogue runs in the background at start
        result: dict[str, Any] = {"videos": videos, "layout": layout, "users": args.world_users,
                                  "events": args.world_events, "trained": args.trained, "start_s": round(ready_s, 1),
                                  "settled_s": round(time.perf_counter() - started, 1), "points": []}  # fmt: skip
        first = 0
        for n in clients:
            tokens = sign_in(base, first, n)  # fresh accounts for each point: their seen sets start alike
            first += n
            result["points"].append(measure(base, proc.pid, tokens, args.seconds))
            print(json.dumps({"videos": videos, "layout": layout, **result["points"][-1]}), flush=True)
        result["learner_lag_ms"] = learner_lag(base)
        return result
    finally:
        kill_tree(proc, 15)
        for service in services:
            service.close()


def markdown(results: list[dict[str, Any]]) -> str:
    """One row per (catalogue size, clients)."""
    head = ["videos", "layout", "clients", "pages/s", "For You p50 / p99 ms", "events p50 / p99 ms", "CPU ms/page",
            "server RSS MB", "errors", *[f"{s} ms" for s in FORYOU_STAGES]]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        for p in r["points"]:
            stages = [str(p["stage_ms_per_page"].get(s)) for s in FORYOU_STAGES]
            rss = sum(x["rss_mb"] for x in p["rss_mb"])
            lines.append("| " + " | ".join([
                f"{r['videos']:,}", r.get("layout", "embedded"), str(p["clients"]), str(p["pages_per_s"]),
                f"{p['foryou_p50_ms']} / {p['foryou_p99_ms']}", f"{p['events_p50_ms']} / {p['events_p99_ms']}",
                str(p["server_cpu_ms_per_page"]), str(rss), str(p["errors"]), *stages]) + " |")  # fmt: skip
    return "\n".join(lines)


def run_worlds(args: argparse.Namespace) -> None:
    """The catalogue-size mode of `bench.feed_load`."""
    sizes = [int(v) for v in args.world_videos.split(",") if v.strip()]
    clients = [int(c) for c in str(args.clients).split(",") if c.strip()]
    out = args.out or Path("bench/results/feed_load_world.json")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for videos in sizes:
            for layout in [x.strip() for x in args.world_layouts.split(",") if x.strip()]:
                results.append(run_world(args, videos, layout, clients, Path(tmp)))
            shutil.rmtree(Path(tmp) / f"v{videos}", ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"machine": f"{os.cpu_count()} cores", "seconds_per_point": args.seconds, "results": results}
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(markdown(results))
    if len(sizes) > 1:
        plot(results, args.plot)
        print(f"plot: {args.plot}")


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Pages/s and For You p99 against catalogue size, one line per layout and client count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    lines: dict[str, list[tuple[int, float, float]]] = {}
    for r in results:
        for p in r["points"]:
            key = f"{r.get('layout', 'embedded')}, {p['clients']} client{'s' if p['clients'] > 1 else ''}"
            lines.setdefault(key, []).append((r["videos"], p["pages_per_s"], p["foryou_p99_ms"] or 0.0))
    for key, pts in lines.items():
        pts.sort()
        left.plot([x[0] for x in pts], [x[1] for x in pts], marker="o", label=key)
        right.plot([x[0] for x in pts], [x[2] for x in pts], marker="o", label=key)
    for ax, title in ((left, "For You pages/s (each with its event batch)"), (right, "For You p99 (ms)")):
        ax.set_xscale("log")
        ax.set_xlabel("videos in the region")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    right.set_yscale("log")
    left.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
