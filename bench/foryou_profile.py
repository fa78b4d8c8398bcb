"""Per-page cost of For You in process (no HTTP) against catalogue size.

Builds a region of N synthetic ready videos (bulk rows, as `bench.feed_load` seeds them: no media), opens its
runtime as `sovereel serve` would, and times `FeedService.for_you` over 200 pages: 20 viewers each scrolling 10
pages with the cursor (impressions recorded as in production). Reports p50 / p99 per catalogue size, and the
ratio of the largest size's p50 to the smallest's: the issue's target is at most 1.25x.

    SOVEREEL_RATE_LIMITS=false python -m bench.foryou_profile --videos 1000 10000 50000

The text index uses the hashing embedder (MiniLM would spend minutes embedding 50,000 captions on two cores,
and the content source only runs for viewers with engagements, which these have none of).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.feed_load import seed
from sovereel.feed.text_embed import HashingTextEmbedder
from sovereel.settings import load_settings
from sovereel.storage.models import User


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def profile(videos: int, users: int, pages: int, viewers: int, limit: int) -> dict[str, Any]:
    """Time `pages` For You pages over a fresh region of `videos` ready videos."""
    import sovereel.foryou.learner as learner_module
    from sovereel.foryou.service import FeedService
    from sovereel.runtime.region import open_runtime

    learner_module.default_text_embedder = HashingTextEmbedder  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp) / "data", environment="test", run_workers=False, rate_limits=False, run_relay=False
        )
        db_file = Path(tmp) / "data" / settings.region / "sovereel.db"
        db_file.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        seed(f"sqlite:///{db_file}", users, videos)
        seeded_s = time.perf_counter() - started
        rt = open_runtime(settings)
        try:
            thread = rt.learner._text_thread
            if thread is not None:
                thread.join()
            service = FeedService(rt)
            with rt.db.session() as s:
                ids = list(s.scalars(select(User.id).order_by(User.id).limit(viewers)))
            service.for_you(ids[0], limit, None)  # warm: the first snapshot load and the item index
            latencies: list[float] = []
            per_viewer = max(1, pages // len(ids))
            for viewer in ids:
                cursor = None
                for _ in range(per_viewer):
                    t0 = time.perf_counter()
                    page = service.for_you(viewer, limit, cursor)
                    latencies.append(time.perf_counter() - t0)
                    cursor = page["next_cursor"]
                    if cursor is None:
                        break
        finally:
            rt.close()
    return {
        "videos": videos,
        "pages": len(latencies),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 2),
        "mean_ms": round(1000 * statistics.fmean(latencies), 2),
        "seed_s": round(seeded_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    results = []
    for n in args.videos:
        result = profile(n, args.users, args.pages, args.viewers, args.limit)
        print(json.dumps(result), flush=True)
        results.append(result)
    if len(results) > 1:
        ratio = results[-1]["p50_ms"] / results[0]["p50_ms"]
        print(f"p50 at {results[-1]['videos']} / p50 at {results[0]['videos']}: {ratio:.2f}x (target <= 1.25x)")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
