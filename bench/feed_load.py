"""Feed and event endpoints under a loopback load: 32 concurrent clients, 10,000 videos, 1,000 users.

For each backend (SQLite file, PostgreSQL) it seeds a fresh region store (videos are ready rows whose media
is not fetched by this benchmark), starts `sovereel serve` in a subprocess on a free loopback port, and
runs 32 simulated clients for a fixed time: each fetches a For You page, then posts the watch events for
it (impression, play, progress/complete/skip), as the page does. Reports requests/s and p50/p99 per endpoint.

    python -m bench.feed_load [--seconds 20] [--clients 32] [--backends sqlite,postgres]

With `--world-videos` it measures For You against catalogue size instead (`bench.feed_world`): each size is a
world built by `sovereel world` (users, follows, an event history and, with `--trained`, a trained model),
served embedded on SQLite, and driven by each of `--clients` closed-loop clients in turn:

    python -m bench.feed_load --world-videos 1000,10000,100000 --world-users 10000 --trained --clients 1,32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import create_engine, insert, text
from tqdm import tqdm

from sovereel.actions.accounts import _hasher
from sovereel.api.server import free_port
from sovereel.ids import new_id
from sovereel.storage.db import open_engine
from sovereel.storage.migrate import upgrade
from sovereel.storage.models import Hashtag, User, Video, VideoHashtag

PG_ADMIN = os.environ.get("SOVEREEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TAGS = ["comedy", "dance", "cooking", "pets", "travel", "fitness", "music", "diy", "art", "gaming", "nature", "tech"]


def seed(url: str, users: int, videos: int, seed_: int = 1) -> None:
    """Fill a migrated store with users and ready videos (bulk inserts: this measures serving, not seeding)."""
    rng = random.Random(seed_)
    engine = open_engine(url)
    upgrade(engine)
    pw = _hasher.hash("bench-password")
    now = time.time()
    user_rows = [
        dict(id=new_id(now - 1e6 + i), region="default", username=f"user{i}", username_key=f"user{i}",
             display_name=f"User {i}", bio="", password_hash=pw, role="user", follower_count=0,
             following_count=0, created_at=now - 1e6)
        for i in range(users)
    ]  # fmt: skip
    video_rows, tag_rows = [], []
    for i in range(videos):
        vid = new_id(now - rng.uniform(0, 30 * 86400))
        tag = rng.choices(TAGS, weights=[1 / (r + 1) for r in range(len(TAGS))])[0]
        video_rows.append(
            dict(id=vid, region="default", creator_id=user_rows[int(rng.paretovariate(1.1)) % users]["id"],
                 caption=f"Video {i} #{tag}", visibility="public", status="ready", duration_s=rng.uniform(5, 60),
                 width=720, height=1280, original_name="seed.mp4",
                 renditions={"720": {"key": f"videos/{vid}/720.mp4", "width": 720, "height": 1280, "bytes": 1}},
                 like_count=int(rng.paretovariate(1.3)) - 1, comment_count=0, share_count=0,
                 view_count=int(rng.paretovariate(1.1) * 10), created_at=now - rng.uniform(0, 30 * 86400),
                 ready_at=now)
        )  # fmt: skip
        tag_rows.append({"video_id": vid, "tag": tag})
    with engine.begin() as conn:
        conn.execute(insert(User), user_rows)
        conn.execute(insert(Hashtag), [{"tag": t, "video_count": 0} for t in TAGS])
        conn.execute(insert(Video), video_rows)
        conn.execute(insert(VideoHashtag), tag_rows)
    engine.dispose()


async def client_loop(base: str, token: str, deadline: float, lat: dict[str, list[float]], errors: list[str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        cursor = None
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            r = await client.get("/api/feed/foryou", params={"limit": 10, **({"cursor": cursor} if cursor else {})})
            lat["GET /api/feed/foryou"].append(time.perf_counter() - started)
            if r.status_code != 200:
                errors.append(f"feed {r.status_code} {r.text[:120]}")
                continue
            page = r.json()
            cursor = page["next_cursor"]
            now_ms = int(time.time() * 1000)
            events = []
            for item in page["items"]:
                for kind in ("impression", "play", random.choice(["progress", "complete", "skip"])):
                    events.append({"client_id": uuid.uuid4().hex, "kind": kind, "video_id": item["id"],
                                   "ts": now_ms, "watched_s": 3.0, "request_id": page["request_id"]})  # fmt: skip
            started = time.perf_counter()
            r = await client.post("/api/events", json={"events": events})
            lat["POST /api/events"].append(time.perf_counter() - started)
            if r.status_code != 200:
                errors.append(f"events {r.status_code} {r.text[:120]}")


async def drive(base: str, tokens: list[str], seconds: float) -> tuple[dict[str, list[float]], list[str], float]:
    lat: dict[str, list[float]] = {"GET /api/feed/foryou": [], "POST /api/events": []}
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(client_loop(base, t, deadline, lat, errors) for t in tokens))
    return lat, errors, time.perf_counter() - started


def run_backend(name: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    env = {**os.environ, "SOVEREEL_DATA_DIR": str(tmp / name), "SOVEREEL_RUN_WORKERS": "false"}
    if name == "postgres":
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS sovereel_bench WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE sovereel_bench"))
        admin.dispose()
        url = PG_ADMIN.rsplit("/", 1)[0] + "/sovereel_bench"
        env["SOVEREEL_DATABASE_URL"] = url
    else:
        url = f"sqlite:///{tmp / name / 'default' / 'sovereel.db'}"
    seed(url, args.users, args.videos)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sovereel.cli", "serve", "--port", str(port), "--processes", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(900):  # start-up replays the event log; allow up to 3 minutes
            try:
                if httpx.get(f"{base}/api/feed/foryou", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        tokens = [
            httpx.post(f"{base}/api/auth/login", json={"username": f"user{i}", "password": "bench-password"},
                       timeout=30).json()["token"]
            for i in tqdm(range(args.clients), desc=f"{name}: sign in")
        ]  # fmt: skip
        lat, errors, elapsed = asyncio.run(drive(base, tokens, args.seconds))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    out: dict[str, Any] = {
        "backend": name,
        "seconds": round(elapsed, 1),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "endpoints": {},
    }
    for endpoint, values in lat.items():
        arr = np.array(values) * 1000
        out["endpoints"][endpoint] = {
            "requests": len(values),
            "rps": round(len(values) / elapsed, 1),
            "p50_ms": round(float(np.percentile(arr, 50)), 1) if len(arr) else None,
            "p99_ms": round(float(np.percentile(arr, 99)), 1) if len(arr) else None,
        }
    return out


def main() -> None:
    from bench.feed_world import add_world_arguments, run_worlds  # it drives the clients of this module

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", default="32", help="closed-loop clients; a list (1,32) with --world-videos")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (bench/results/feed_load[_world].json)")
    add_world_arguments(parser)
    args = parser.parse_args()
    if args.world_videos:
        run_worlds(args)
        return
    args.clients = int(args.clients)
    args.out = args.out or Path("bench/results/feed_load.json")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backends.split(","):
            results.append(run_backend(name, args, Path(tmp)))
            print(json.dumps(results[-1], indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clients": args.clients, "videos": args.videos, "users": args.users,
                                    "results": results}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
