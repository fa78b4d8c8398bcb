"""Speed of sovereel's served model at a realistic size, on this machine's CPU.

    python bench/speed.py      # writes bench/results/speed.json

Measures, with 100,000 videos and 10,000 users in memory (a synthetic world: Zipf video
popularity, 10,000 creators, 1-3 of 1,000 hashtags per video, lognormal lengths):

- scoring one For You page: `predict` over ~500 candidate videos and taking the best 10,
  p50/p99 over 300 requests (one user each, warm);
- co-engagement retrieval of 100 candidates for one user, p50/p99;
- the online step: `observe` latency per event (p50/p99) and events/s;
- training throughput: the full `fit` (events/s) and the ranker alone (candidate rows/s);
- memory per million embedding ids: `EmbeddingTable.nbytes()` with 1,000,000 ids (int and
  string keys), and the Python heap growth measured by tracemalloc.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sovereel.feed.embedding_table import EmbeddingTable
from sovereel.feed.interface import VideoInfo
from sovereel.feed.model import Event, FeedModel, ModelConfig

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 7
CONFIG = ModelConfig(neighbours=50, candidates=100, slices=8, folds=1, epochs=2, lr=1e-3, seed=SEED)


def world(n_items: int, n_users: int, per_user: float, seed: int) -> tuple[list[VideoInfo], list[Event]]:
    """A synthetic catalogue and event log of the given size (seeded)."""
    rng = np.random.default_rng(seed)
    t0 = 1_700_000_000.0
    durations = np.clip(rng.lognormal(3.0, 0.8, n_items), 3, 600)
    videos = [
        VideoInfo(
            id=f"v{i}",
            creator_id=f"c{rng.integers(10_000)}",
            created_at=t0 + float(rng.uniform(0, 30 * 86400)),
            duration_s=float(durations[i]),
            hashtags=tuple(f"t{t}" for t in rng.choice(1000, size=int(rng.integers(1, 4)), replace=False)),
        )
        for i in range(n_items)
    ]
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity /= popularity.sum()
    events: list[Event] = []
    for u in range(n_users):
        n = max(2, int(rng.lognormal(np.log(per_user), 0.6)))
        for i in rng.choice(n_items, size=n, replace=False, p=popularity):
            v = videos[int(i)]
            ts = t0 + float(rng.uniform(0, 30 * 86400))
            watched = float(v.duration_s * rng.uniform(0.1, 1.0))
            kind = "complete" if watched > 0.9 * v.duration_s else "progress"
            events.append(Event(f"u{u}", v.id, ts, kind, watched, v.duration_s))
            if rng.random() < 0.1:
                events.append(Event(f"u{u}", v.id, ts + 1, "like", watched, v.duration_s))
    events.sort(key=lambda e: e.ts)
    return videos, events


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p99/mean in milliseconds."""
    ms = np.asarray(seconds) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


def memory_per_million(dim: int, string_ids: bool, n_ids: int) -> dict[str, float]:
    """MB per million admitted ids in an EmbeddingTable: its nbytes() and tracemalloc's heap growth."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    table = EmbeddingTable(dim, min_count=1)
    for i in tqdm(range(n_ids), desc=f"{n_ids} {'str' if string_ids else 'int'} ids", leave=False):
        table.observe(f"video-{i}" if string_ids else i, 0.0)
    heap = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per_million_mb = 1.0 / n_ids  # bytes per id x 1e6 ids / 1e6 bytes per MB
    return {
        "dim": dim,
        "ids_measured": n_ids,
        "string_ids": string_ids,
        "nbytes_MB": table.nbytes() * per_million_mb,
        "heap_MB": heap * per_million_mb,
    }


def main() -> None:
    """Build the world, fit, time the served paths, write bench/results/speed.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--per-user", type=float, default=20.0, help="median engaged videos per user")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--ids", type=int, default=1_000_000, help="ids put in the table for the memory measure")
    parser.add_argument("--device", default="cpu", help="where the ranker trains: cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (2: this project's dev box)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    videos, events = world(args.items, args.users, args.per_user, SEED)
    model = FeedModel(CONFIG)
    t = time.perf_counter()
    model.fit(events, videos, progress=True, device=args.device)
    fit_s = time.perf_counter() - t
    ranker_rows = int(model.manifest["ranker_rows"])
    ranker_s = float(model.manifest["seconds"]["ranker"])
    now = events[-1].ts
    users = [f"u{u}" for u in rng.integers(args.users, size=args.requests)]
    page, retrieval = [], []
    for user in tqdm(users, desc="pages", leave=False):
        candidates = [videos[int(i)] for i in rng.choice(args.items, size=500, replace=False)]
        t = time.perf_counter()
        scores = model.predict(user, candidates, now)
        _top = np.argsort(-(scores["complete"] + scores["like"]), kind="stable")[:10]
        page.append(time.perf_counter() - t)
        t = time.perf_counter()
        model.retrieve([user], 100)
        retrieval.append(time.perf_counter() - t)
    online: list[float] = []
    picks = rng.integers(args.items, size=2000)
    fresh = [Event(users[k % len(users)], f"v{int(i)}", now + k, "like") for k, i in enumerate(picks)]
    for e in fresh:
        t = time.perf_counter()
        model.observe([e])
        online.append(time.perf_counter() - t)
    result: dict[str, Any] = {
        "world": {"items": args.items, "users": args.users, "events": len(events), "synthetic": True},
        "page_10_of_500": percentiles(page),
        "retrieve_100": percentiles(retrieval),
        "observe_per_event": {**percentiles(online), "events_per_s": len(online) / sum(online)},
        "fit": {"seconds": round(fit_s, 1), "events_per_s": len(events) / fit_s, "config": CONFIG.as_dict()},
        "ranker_training_rows_per_s": ranker_rows / max(1e-9, ranker_s),
        "fit_seconds_by_stage": model.manifest["seconds"],
        "memory_per_million_ids": [memory_per_million(32, s, args.ids) for s in (False, True)],
        "machine": {
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "ranker_device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
            "torch": torch.__version__,
        },
        "seconds_total": round(time.perf_counter() - started, 1),
        "command": "python bench/speed.py" + ("" if args.device == "cpu" else f" --device {args.device}"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "speed.json" if args.device == "cpu" else f"speed_{args.device.split(':')[0]}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "fit"}, indent=2))


if __name__ == "__main__":
    main()
