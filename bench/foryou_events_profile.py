"""CPU of a For You page together with its watch-event batch, in process, under cProfile.

Opens a world's data folder (a copy: pages and events are written) as `sovereel serve` would, with the hashing
text embedder (MiniLM would embed every caption first), and for the viewers with the most history serves pages
with the cursor; after each page it records a watch-event batch for half its items (impression, play, then a
completion or a skip) and delivers the outbox through the in-process bus, so the learner, the snapshot and the
analytics fold all run as they do behind a real client. Prints CPU ms per page and batch, then the profile.

    cp -r bench/.cache/worlds/v10000-u10000-e100000-s1-t/data /tmp/w && python -m bench.foryou_events_profile /tmp/w
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from sovereel.feed.text_embed import HashingTextEmbedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="a world's data folder (a copy: this writes to it)")
    parser.add_argument("--viewers", type=int, default=30)
    parser.add_argument("--pages", type=int, default=2, help="pages per viewer")
    parser.add_argument("--top", type=int, default=40, help="profile lines to print")
    parser.add_argument("--save", type=Path, default=None, help="also write the profile here (pstats format)")
    parser.add_argument(
        "--no-profile", action="store_true", help="time only: cProfile's cost per call inflates small Python calls"
    )
    args = parser.parse_args()

    import sovereel.foryou.learner as learner_module
    from sovereel.actions.watch import WatchEvent, do_record_events
    from sovereel.events.relay import relay_once
    from sovereel.foryou.service import FeedService
    from sovereel.runtime.region import open_runtime
    from sovereel.settings import load_settings
    from sovereel.storage.models import Watch

    learner_module.default_text_embedder = HashingTextEmbedder  # type: ignore[assignment]
    settings = load_settings(
        data_dir=args.data_dir, environment="test", run_workers=False, rate_limits=False, run_relay=False
    )
    rt = open_runtime(settings)
    if rt.learner._text_thread is not None:
        rt.learner._text_thread.join()
    service = FeedService(rt)
    with rt.db.session() as s:
        most = select(Watch.user_id).group_by(Watch.user_id).order_by(func.count().desc()).limit(args.viewers)
        viewers = list(s.scalars(most))

    spent: dict[str, float] = {}  # CPU seconds by part (with --no-profile: the profiler's own cost skews them)
    laps: dict[str, float] = {}  # wall seconds by For You stage (telemetry.StageTimer)
    from sovereel import telemetry

    recorded = telemetry.StageTimer.observe

    def observe_and_keep(timer: telemetry.StageTimer) -> None:
        # The service records each page's stages in a histogram; the bench also adds them up, page by page.
        for stage, seconds in timer.seconds.items():
            laps[stage] = laps.get(stage, 0.0) + seconds
        recorded(timer)

    telemetry.StageTimer.observe = observe_and_keep  # type: ignore[method-assign]

    def part(name: str, started: float) -> float:
        now = time.process_time()
        spent[name] = spent.get(name, 0.0) + now - started
        return now

    def page_and_events(viewer: str, cursor: str | None) -> str | None:
        mark = time.process_time()
        page = service.for_you(viewer, 10, cursor)
        mark = part("for_you", mark)
        now = time.time()
        events = []
        for i, item in enumerate(page["items"][:5]):
            end, watched = ("complete", 8.0) if i % 2 else ("skip", 1.0)
            for kind, seconds in (("impression", 0.0), ("play", 0.0), (end, watched)):
                events.append(
                    WatchEvent(client_id=uuid.uuid4().hex, kind=kind, video_id=item["id"], ts=now, watched_s=seconds)
                )
        do_record_events(rt.db, user_id=viewer, events=events)
        mark = part("record events", mark)
        while relay_once(rt.db, rt.bus):
            pass
        part("relay, learner and analytics", mark)
        return page["next_cursor"]

    try:
        for viewer in viewers[:3]:
            page_and_events(viewer, None)  # warm: indexes, caches
        spent.clear()
        laps.clear()
        profile = cProfile.Profile()
        started, pages = time.process_time(), 0
        if not args.no_profile:
            profile.enable()
        for viewer in viewers:
            cursor = None
            for _ in range(args.pages):
                cursor = page_and_events(viewer, cursor)
                pages += 1
        profile.disable()
        print(f"{pages} pages: {1000 * (time.process_time() - started) / pages:.1f} ms CPU per page and batch")
        if args.no_profile:
            print("  CPU ms a page:", ", ".join(f"{k} {1000 * v / pages:.1f}" for k, v in spent.items()))
            print(
                "  For You stages, wall ms a page:", ", ".join(f"{k} {1000 * v / pages:.1f}" for k, v in laps.items())
            )
            return
        if args.save:
            profile.dump_stats(args.save)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    finally:
        rt.close()


if __name__ == "__main__":
    main()
