"""Simulated users on loopback: sign in, swipe For You, watch, like, comment, follow, and a few upload.

Each simulated user signs in, then swipes page after page of For You. For every video it draws a watch
time the way viewers behave (many skips in the first seconds, some partial watches, completions and a
few loops), waits that long scaled by `--time-scale`, and reports the page's watch events in one batch
as the page does; now and then it likes (or unlikes), comments or follows the creator. A few users
upload a real clip. Every acknowledged operation goes into a `Ledger`, checked by `bench.accounting`
after the run. Bounded by `--seconds` and `--max-requests`.

Layouts (side by side, each on a fresh seeded store):
- `embedded`: one `sovereel serve` on SQLite with the in-process bus and media worker threads;
- `embedded:N`: `sovereel serve --processes N` on SQLite (a hub process and N API processes on the local bus:
  the default of `scripts/start` on a machine with N cores);
- `scaled`: `sovereel up` (`--api-procs` API processes, the outbox relay and a media worker) on a private
  PostgreSQL, NATS JetStream and Redis.

    python -m bench.load [--layouts embedded,embedded:2,scaled] [--users 40] [--seconds 30] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import Engine, func, select

from bench.accounting import Ledger, check_accounting, counter_offsets
from bench.services import (
    PrivatePostgres,
    ResourceSampler,
    kill_tree,
    private_nats,
    private_redis,
    sovereel_process,
    wait_http,
)
from sovereel.api.server import free_port
from sovereel.storage.db import open_engine
from sovereel.storage.models import OutboxMessage

PASSWORD = "bench-password"


@dataclass
class LoadConfig:
    seconds: float = 30.0
    max_requests: int = 20_000
    time_scale: float = 0.02  # a 10 s watch waits 0.2 s: many users' worth of traffic from few coroutines
    page_size: int = 5
    p_like: float = 0.08
    p_unlike: float = 0.01
    p_comment: float = 0.02
    p_follow: float = 0.03
    uploads_per_uploader: int = 1
    retry_unavailable: bool = False  # fault runs: honour 503 Retry-After (capped) and resend the same request
    retry_cap_s: float = 1.0
    max_retries: int = 60
    stop: threading.Event | None = None  # fault runs: run until this is set (the time budget still bounds it)


@dataclass
class Recorder:
    """Latencies, statuses and the ledger of one run."""

    ledger: Ledger = field(default_factory=Ledger)
    latency: dict[str, list[float]] = field(default_factory=dict)
    # (seconds since the run began, latency) of each For You page: whether the figures hold as the region runs.
    foryou_timeline: list[tuple[float, float]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    unavailable: int = 0
    retry_after_missing: int = 0
    requests: int = 0
    uploads: list[str] = field(default_factory=list)


class Budget(Exception):
    """The run's request or time budget is spent."""


async def call(
    client: httpx.AsyncClient, rec: Recorder, cfg: LoadConfig, deadline: float, name: str, method: str, url: str,
    **kw: Any,
) -> httpx.Response | None:  # fmt: skip
    """Send one request, timing it; a 503 (or a dropped connection) is resent when the run says so."""
    for _attempt in range(cfg.max_retries if cfg.retry_unavailable else 1):
        if rec.requests >= cfg.max_requests or time.perf_counter() > deadline or (cfg.stop and cfg.stop.is_set()):
            raise Budget
        rec.requests += 1
        started = time.perf_counter()
        try:
            r = await client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            rec.errors.append(f"{name}: {type(exc).__name__} {exc}"[:200])
            if not cfg.retry_unavailable:
                return None
            await asyncio.sleep(cfg.retry_cap_s)
            continue
        rec.latency.setdefault(name, []).append(time.perf_counter() - started)
        if name == "GET /api/feed/foryou":
            rec.foryou_timeline.append((started - rec.started, time.perf_counter() - started))
        rec.statuses[r.status_code] = rec.statuses.get(r.status_code, 0) + 1
        if r.status_code == 503:
            rec.unavailable += 1
            retry_after = r.headers.get("retry-after")
            # "unavailable": the store is down; "busy": more For You pages queued than the process ranks in time.
            if retry_after is None or r.json().get("error", {}).get("code") not in ("unavailable", "busy"):
                rec.retry_after_missing += 1
            if cfg.retry_unavailable:
                await asyncio.sleep(min(float(retry_after or 1), cfg.retry_cap_s))
                continue
        if r.status_code >= 500 or r.status_code in (400, 401, 403, 405, 422):
            rec.errors.append(f"{name}: {r.status_code} {r.text[:150]}")
        return r
    return None


def watch_time(rng: random.Random, duration: float) -> tuple[str, float]:
    """How a viewer watches a video: (final event kind, seconds watched)."""
    x = rng.random()
    if x < 0.35:
        return "skip", min(duration, rng.uniform(0.3, 3.0))
    if x < 0.70:
        return "progress", duration * rng.uniform(0.2, 0.9)
    if x < 0.95:
        return "complete", duration
    return "loop", duration * rng.uniform(1.2, 2.5)


async def simulated_user(
    base: str, username: str, cfg: LoadConfig, rec: Recorder, deadline: float, seed: int, clip: Path | None
) -> None:
    """One viewer's session until the budget runs out."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        try:
            r = await call(client, rec, cfg, deadline, "POST /api/auth/login", "POST", "/api/auth/login",
                           json={"username": username, "password": PASSWORD})  # fmt: skip
            if r is None or r.status_code != 200:
                return
            me = r.json()["user"]["id"]
            client.headers["Authorization"] = f"Bearer {r.json()['token']}"
            client.cookies.clear()
            if clip is not None:
                for i in range(cfg.uploads_per_uploader):
                    await upload(client, rec, cfg, deadline, clip, f"load test upload {i} #loadtest", me)
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"limit": cfg.page_size, **({"cursor": cursor} if cursor else {})}
                r = await call(client, rec, cfg, deadline, "GET /api/feed/foryou", "GET", "/api/feed/foryou",
                               params=params)  # fmt: skip
                if r is None or r.status_code != 200:
                    await asyncio.sleep(0.2)
                    continue
                page = r.json()
                cursor = page.get("next_cursor")
                await watch_page(client, rec, cfg, deadline, rng, me, page)
        except Budget:
            return


async def watch_page(
    client: httpx.AsyncClient, rec: Recorder, cfg: LoadConfig, deadline: float, rng: random.Random, me: str,
    page: dict[str, Any],
) -> None:  # fmt: skip
    events: list[dict[str, Any]] = []
    for item in page["items"]:
        vid = item["id"]
        kind, watched = watch_time(rng, float(item.get("duration_s") or 15.0))
        now_ms = int(time.time() * 1000)
        for k, w in (("impression", None), ("play", 0.0), (kind, watched)):
            events.append({"client_id": uuid.uuid4().hex, "kind": k, "video_id": vid, "ts": now_ms,
                           **({"watched_s": round(w, 2)} if w is not None else {}),
                           "request_id": page.get("request_id")})  # fmt: skip
        await asyncio.sleep(watched * cfg.time_scale)
        if rng.random() < cfg.p_like:
            r = await call(client, rec, cfg, deadline, "POST /api/videos/{id}/like", "POST", f"/api/videos/{vid}/like")
            ack_like(rec, me, vid, r, True)
        elif rng.random() < cfg.p_unlike:
            r = await call(client, rec, cfg, deadline, "DELETE /api/videos/{id}/like", "DELETE",
                           f"/api/videos/{vid}/like")  # fmt: skip
            ack_like(rec, me, vid, r, False)
        if rng.random() < cfg.p_comment:
            body = {"body": f"nice one {rng.randrange(10**6)}"}
            r = await call(client, rec, cfg, deadline, "POST /api/videos/{id}/comments", "POST",
                           f"/api/videos/{vid}/comments", json=body)  # fmt: skip
            if r is not None and r.status_code == 201:
                rec.ledger.acked_comment(me, r.json()["id"])
            else:
                rec.ledger.unsure_comment(me)
        creator = item.get("creator") or {}
        if rng.random() < cfg.p_follow and creator.get("id") and creator["id"] != me:
            r = await call(client, rec, cfg, deadline, "POST /api/users/{name}/follow", "POST",
                           f"/api/users/{creator['username']}/follow")  # fmt: skip
            if r is not None and r.status_code == 200:
                rec.ledger.acked_follow(me, creator["id"], True)
            else:
                rec.ledger.unsure_follow(me, creator["id"])
    if events:
        ids = [e["client_id"] for e in events]
        rec.ledger.sent_events(me, ids)
        r = await call(client, rec, cfg, deadline, "POST /api/events", "POST", "/api/events", json={"events": events})
        if r is not None and r.status_code == 200:
            rec.ledger.acked_events(me, ids)


def ack_like(rec: Recorder, me: str, vid: str, r: httpx.Response | None, liked: bool) -> None:
    if r is not None and r.status_code == 200:
        rec.ledger.acked_like(me, vid, liked)
    else:
        rec.ledger.unsure_like(me, vid)


async def upload(
    client: httpx.AsyncClient, rec: Recorder, cfg: LoadConfig, deadline: float, clip: Path, caption: str, me: str
) -> None:
    r = await call(client, rec, cfg, deadline, "POST /api/videos", "POST", "/api/videos",
                   files={"file": (clip.name, clip.read_bytes(), "video/mp4")},
                   data={"caption": caption, "visibility": "public"})  # fmt: skip
    if r is not None and r.status_code == 202:
        rec.uploads.append(r.json()["id"])


async def drive(
    base: str, usernames: list[str], cfg: LoadConfig, uploaders: int, clip: Path | None, rec: Recorder | None = None
) -> Recorder:
    """Run every simulated user concurrently until the budget is spent."""
    rec = rec or Recorder()
    deadline = time.perf_counter() + cfg.seconds
    await asyncio.gather(
        *(
            simulated_user(base, name, cfg, rec, deadline, i, clip if i < uploaders else None)
            for i, name in enumerate(usernames)
        )
    )
    return rec


def latency_table(rec: Recorder, elapsed: float) -> dict[str, dict[str, float]]:
    out = {}
    for endpoint, values in sorted(rec.latency.items()):
        arr = np.array(values) * 1000
        out[endpoint] = {
            "requests": len(values),
            "rps": round(len(values) / elapsed, 1),
            "p50_ms": round(float(np.percentile(arr, 50)), 1),
            "p95_ms": round(float(np.percentile(arr, 95)), 1),
            "p99_ms": round(float(np.percentile(arr, 99)), 1),
        }
    return out


def drift(rec: Recorder, elapsed: float) -> dict[str, Any]:
    """For You p50 in the run's first and last window (5 minutes, or a sixth of a shorter run): the region must
    not get slower as its event log, impressions and model grow."""
    window = min(300.0, elapsed / 6)
    first = [lat for t, lat in rec.foryou_timeline if t < window]
    last = [lat for t, lat in rec.foryou_timeline if t >= elapsed - window]
    p50 = {
        k: round(float(np.percentile(v, 50)) * 1000, 1) if v else None for k, v in (("first", first), ("last", last))
    }
    ratio = round(p50["last"] / p50["first"], 2) if p50["first"] and p50["last"] else None
    # Every window's p50 too, so a slowdown can be told from a disturbance (the box is shared).
    windows = [
        [lat for t, lat in rec.foryou_timeline if w * window <= t < (w + 1) * window]
        for w in range(max(1, int(elapsed // window)))
    ]
    series = [round(float(np.percentile(v, 50)) * 1000, 1) if v else None for v in windows]
    return {"window_s": round(window), "first_p50_ms": p50["first"], "last_p50_ms": p50["last"], "ratio": ratio,
            "p50_ms_by_window": series}  # fmt: skip


def relay_lag(engine: Engine, since: float) -> dict[str, float | None]:
    """Event accepted (outbox row committed) → relayed to the bus; with the in-process bus the learner has
    applied it when the relay marks it delivered, so this is the lag until the online learner sees it."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(OutboxMessage.delivered_at - OutboxMessage.created_at).where(
                OutboxMessage.topic.startswith("watch."), OutboxMessage.created_at >= since,
                OutboxMessage.delivered_at.is_not(None),
            )
        ).scalars().all()  # fmt: skip
        undelivered = conn.execute(
            select(func.count()).where(OutboxMessage.delivered_at.is_(None), OutboxMessage.created_at >= since)
        ).scalar()
    arr = np.array([float(x) for x in rows if x is not None]) * 1000
    if not len(arr):
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "undelivered_at_end": float(undelivered or 0)}
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "p99_ms": round(float(np.percentile(arr, 99)), 1),
        "undelivered_at_end": float(undelivered or 0),
    }


def make_clip(path: Path) -> Path:
    """A 4 s portrait test clip for the uploaders."""
    subprocess.run(
        ["ffmpeg", "-y", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=360x640:r=24:d=4",
         "-f", "lavfi", "-i", "sine=f=330:d=4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def learner_lag(base: str) -> dict[str, float | None]:
    """Commit → applied by the online learner, from the `sovereel_event_lag_seconds` histogram at /metrics (in
    the scaled layout, commit → applied by the API process from the learner process's delta: `feed_replica`).

    Quantiles are interpolated within the histogram's buckets (so they are as coarse as the buckets)."""
    try:
        text = httpx.get(f"{base}/metrics", timeout=30).text
    except httpx.HTTPError:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "count": None}
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        followed = 'consumer="learner"' in line or 'consumer="feed_replica"' in line
        if line.startswith("sovereel_event_lag_seconds_bucket{") and followed:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
    bounds = sorted(buckets)
    total = buckets.get(float("inf"), 0.0)
    if not total:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "count": 0}

    def quantile(q: float) -> float:
        target, lower, below = q * total, 0.0, 0.0
        for bound in bounds:
            if buckets[bound] >= target:
                if bound == float("inf"):
                    return lower * 1000
                share = (target - below) / max(buckets[bound] - below, 1e-9)
                return round((lower + (bound - lower) * share) * 1000, 1)
            lower, below = bound, buckets[bound]
        return lower * 1000

    return {"p50_ms": quantile(0.5), "p95_ms": quantile(0.95), "p99_ms": quantile(0.99), "count": total}


def start_layout(layout: str, tmp: Path, args: argparse.Namespace) -> tuple[list[subprocess.Popen[bytes]], str, str]:
    """Seed a fresh store and start the layout's processes; returns (processes, base URL, database URL).

    Rate limits are off: every simulated user comes from 127.0.0.1, and this measures capacity, not limits."""
    from bench.feed_load import seed

    data = tmp / layout.replace(":", "-")
    data.mkdir(parents=True)
    env = {"SOVEREEL_DATA_DIR": str(data), "SOVEREEL_X264_PRESET": "ultrafast", "SOVEREEL_TRAIN_EVERY_S": "0",
           "SOVEREEL_RATE_LIMITS": "false"}  # fmt: skip
    port = free_port()
    log = data / "server.log"
    if layout.startswith("embedded"):  # "embedded": one process; "embedded:N": `serve --processes N` (a hub + N)
        db_url = f"sqlite:///{data / 'default' / 'sovereel.db'}"
        seed(db_url, args.seed_users, args.videos)
        processes = layout.partition(":")[2] or "1"
        procs = [sovereel_process(["serve", "--port", str(port), "--processes", processes], env, log)]
    else:  # `sovereel up`: API processes, relay, media worker on private PostgreSQL, NATS and Redis
        db_url = args.pg.url
        seed(db_url, args.seed_users, args.videos)
        env |= {"SOVEREEL_DATABASE_URL": db_url, "SOVEREEL_BUS_URL": f"nats://127.0.0.1:{args.nats.port}",
                "SOVEREEL_HOT_STATE_URL": f"redis://127.0.0.1:{args.redis.port}/0"}  # fmt: skip
        argv = ["up", "--port", str(port), "--api-workers", str(args.api_procs), "--no-trainer"]
        procs = [sovereel_process(argv, env, log)]
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/feed/foryou", 300, procs[0])
    settle([p.pid for p in procs])
    return procs, base, db_url


def settle(pids: list[int], timeout_s: float = 300.0) -> None:
    """Wait until the servers finish their start-up work (caption embedding runs in the background)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with ResourceSampler(pids, interval_s=0.5) as sampler:
            time.sleep(2.5)
        if sampler.summary()["cpu_percent_mean"] < 25:
            return


def run_layout(layout: str, args: argparse.Namespace, tmp: Path, clip: Path) -> dict[str, Any]:
    procs, base, db_url = start_layout(layout, tmp, args)
    cfg = LoadConfig(seconds=args.seconds, max_requests=args.max_requests, time_scale=args.time_scale)
    usernames = [f"user{i}" for i in range(args.users)]
    started_wall = time.time()
    engine = open_engine(db_url)
    baseline = counter_offsets(engine)
    try:
        with ResourceSampler([p.pid for p in procs]) as sampler:
            t0 = time.perf_counter()
            rec = asyncio.run(drive(base, usernames, cfg, args.uploaders, clip))
            elapsed = time.perf_counter() - t0
        accounting = check_accounting(engine, rec.ledger, baseline=baseline, outbox_timeout_s=30)
        lag = relay_lag(engine, started_wall)
        learner = learner_lag(base)
        engine.dispose()
    finally:
        for p in procs:
            kill_tree(p, 15)
    total = sum(len(v) for v in rec.latency.values())
    return {
        "layout": layout,
        "seconds": round(elapsed, 1),
        "users": args.users,
        "requests": total,
        "rps": round(total / elapsed, 1),
        "errors": len(rec.errors),
        "error_samples": sorted(set(rec.errors))[:5],
        "statuses": {str(k): v for k, v in sorted(rec.statuses.items())},
        "endpoints": latency_table(rec, elapsed),
        "foryou_drift": drift(rec, elapsed),
        "connection_errors": len([e for e in rec.errors if "Error" in e.split(":", 1)[-1][:30]]),
        "event_lag_ms": learner,
        "relay_lag_ms": lag,
        "resources": sampler.summary(),
        "accounting": accounting.as_dict(),
        "ledger": rec.ledger.summary(),
        "uploads": len(rec.uploads),
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """The BENCHMARKS.md section for these results."""
    lines = ["| | " + " | ".join(r["layout"] for r in results) + " |", "|---|" + "---|" * len(results)]

    def row(label: str, f: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(str(f(r)) for r in results) + " |")

    row("requests/s (all)", lambda r: r["rps"])
    row("errors (connection errors)", lambda r: f"{r['errors']} ({r['connection_errors']})")
    row("For You p50 first / last window ms (ratio)", lambda r: "{first_p50_ms} / {last_p50_ms} ({ratio})".format(
        **r["foryou_drift"]))  # fmt: skip
    endpoints = sorted({e for r in results for e in r["endpoints"]})
    for e in endpoints:
        row(f"{e} p50/p95/p99 ms", lambda r, e=e: "/".join(
            str(r["endpoints"].get(e, {}).get(k, "–")) for k in ("p50_ms", "p95_ms", "p99_ms")))  # fmt: skip
    for key, label in (("event_lag_ms", "event commit → learner"), ("relay_lag_ms", "event commit → bus")):
        row(f"{label} p50/p95/p99 ms", lambda r, key=key: "/".join(
            str(r[key][k]) for k in ("p50_ms", "p95_ms", "p99_ms")))  # fmt: skip
    row(
        "CPU % mean/max (server processes)",
        lambda r: f"{r['resources']['cpu_percent_mean']}/{r['resources']['cpu_percent_max']}",
    )
    row("RSS MB max", lambda r: r["resources"]["rss_mb_max"])
    row("accounting", lambda r: "ok" if r["accounting"]["ok"] else "; ".join(r["accounting"]["problems"]))
    return "\n".join(lines)


def keep_log_on_errors(layout: str, tmp: Path, results: list[dict[str, Any]]) -> None:
    """A layout that failed or answered errors leaves its server log in bench/.cache (the run's folder goes)."""
    log = tmp / layout.replace(":", "-") / "server.log"
    done = results[-1] if results and results[-1]["layout"] == layout else None
    if not log.exists() or (done is not None and not done["errors"]):
        return
    kept = Path(__file__).resolve().parent / ".cache" / f"load_{layout.replace(':', '-')}_server.log"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log, kept)
    print(f"{layout}: errors or a failed run; its server log is kept in {kept}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default="embedded,scaled")
    parser.add_argument("--users", type=int, default=40, help="simulated users (concurrent sessions)")
    parser.add_argument("--uploaders", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--time-scale", type=float, default=0.02)
    parser.add_argument("--seed-users", type=int, default=1000)
    parser.add_argument("--videos", type=int, default=5000)
    parser.add_argument("--api-procs", type=int, default=2, help="API processes of the scaled layout")
    parser.add_argument("--out", type=Path, default=Path("bench/results/load.json"))
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        clip = make_clip(tmp / "clip.mp4")
        for layout in args.layouts.split(","):
            scaled = layout == "scaled"
            args.pg, args.nats, args.redis = (
                (PrivatePostgres(), private_nats(), private_redis()) if scaled else (None,) * 3
            )
            try:
                results.append(run_layout(layout, args, tmp, clip))
            finally:
                for service in (args.pg, args.nats, args.redis):
                    if service is not None:
                        service.close()
                keep_log_on_errors(layout, tmp, results)
            print(json.dumps(results[-1], indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results}, indent=2) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
