"""Per-page CPU cost of For You in process over an existing world (`sovereel world … --train`), no HTTP.

Opens the data dir's runtime as `sovereel serve` does (workers off), waits for the text index, then serves three
pages (with the cursor) to each of the viewers with the most watch history, and prints p50 / p90 / p99 per page:
wall time, and the serving thread's CPU time (what a page costs, less the waits of a machine shared with others).
`--profile` runs the same pages under cProfile and prints its top entries (the timings then include its cost).

    python -m bench.foryou_world_profile /path/to/world/data [--viewers 40] [--profile]

Serving records impressions, so point it at a copy of a world you want to keep unchanged.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import func, select

from sovereel.telemetry import FORYOU_STAGES


def _stage_sums() -> dict[str, float]:
    return {
        stage: REGISTRY.get_sample_value("sovereel_foryou_stage_seconds_sum", {"stage": stage}) or 0.0
        for stage in FORYOU_STAGES
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    """Time (or profile) For You pages of the most active viewers of a world."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--viewers", type=int, default=40)
    parser.add_argument("--pages", type=int, default=3, help="pages per viewer, each with the last page's cursor")
    parser.add_argument("--rounds", type=int, default=1, help="times the whole set of scrolls is repeated")
    parser.add_argument("--profile", action="store_true", help="run under cProfile and print its top entries")
    parser.add_argument(
        "--hashing-text",
        action="store_true",
        help="embed captions with the hashing embedder, not MiniLM (starts in seconds; content vectors differ)",
    )
    args = parser.parse_args(argv)
    if args.hashing_text:
        import sovereel.foryou.learner as learner_module
        from sovereel.feed.text_embed import HashingTextEmbedder

        learner_module.default_text_embedder = HashingTextEmbedder  # type: ignore[assignment]

    from sovereel.foryou.service import FeedService
    from sovereel.runtime.region import open_runtime
    from sovereel.settings import load_settings
    from sovereel.storage.models import Watch

    settings = load_settings(
        data_dir=args.data_dir, environment="test", run_workers=False, rate_limits=False, run_relay=False
    )
    rt = open_runtime(settings)
    try:
        thread = rt.learner._text_thread
        if thread is not None:
            thread.join()
        service = FeedService(rt)
        with rt.db.session() as s:
            by_history = select(Watch.user_id).group_by(Watch.user_id).order_by(func.count().desc(), Watch.user_id)
            viewers = list(s.scalars(by_history.limit(args.viewers)))
        for viewer in viewers[:3]:
            service.for_you(viewer, 10, None)  # warm: the region-wide memos and the first snapshot load
        stages = _stage_sums()
        profiler = cProfile.Profile() if args.profile else None
        times: list[float] = []
        cpu: list[float] = []
        if profiler is not None:
            profiler.enable()
        for _ in range(args.rounds):
            for viewer in viewers:
                cursor = None
                for _ in range(args.pages):
                    started, started_cpu = time.perf_counter(), time.thread_time()
                    page = service.for_you(viewer, 10, cursor)
                    times.append(time.perf_counter() - started)
                    cpu.append(time.thread_time() - started_cpu)
                    cursor = page["next_cursor"]
        if profiler is not None:
            profiler.disable()
        print(f"pages {len(times)}, model {rt.learner.scorer.version}")
        after = _stage_sums()
        per_stage = (f"{s} {1000 * (after[s] - stages[s]) / len(times):.1f}" for s in FORYOU_STAGES)
        print("wall ms per page by stage: " + ", ".join(per_stage))
        for name, values in (("wall", times), ("cpu", cpu)):
            ms = [1000 * t for t in values]
            print(
                f"{name:5} p50 {_percentile(ms, 0.5):.1f} ms  p90 {_percentile(ms, 0.9):.1f} ms"
                f"  p99 {_percentile(ms, 0.99):.1f} ms"
            )
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    finally:
        rt.close()


if __name__ == "__main__":
    main()
