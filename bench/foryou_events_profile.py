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

    def page_and_events(viewer: str, cursor: str | None) -> str | None:
        page = service.for_you(viewer, 10, cursor)
        now = time.time()
        events = []
        for i, item in enumerate(page["items"][:5]):
            end, watched = ("complete", 8.0) if i % 2 else ("skip", 1.0)
            for kind, seconds in (("impression", 0.0), ("play", 0.0), (end, watched)):
                events.append(
                    WatchEvent(client_id=uuid.uuid4().hex, kind=kind, video_id=item["id"], ts=now, watched_s=seconds)
                )
        do_record_events(rt.db, user_id=viewer, events=events)
        while relay_once(rt.db, rt.bus):
            pass
        return page["next_cursor"]

    try:
        for viewer in viewers[:3]:
            page_and_events(viewer, None)  # warm: indexes, caches
        profile = cProfile.Profile()
        started, pages = time.process_time(), 0
        profile.enable()
        for viewer in viewers:
            cursor = None
            for _ in range(args.pages):
                cursor = page_and_events(viewer, cursor)
                pages += 1
        profile.disable()
        print(f"{pages} pages: {1000 * (time.process_time() - started) / pages:.1f} ms CPU per page and batch")
        if args.save:
            profile.dump_stats(args.save)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    finally:
        rt.close()


if __name__ == "__main__":
    main()
