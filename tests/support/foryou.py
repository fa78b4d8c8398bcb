"""A For You world for tests and benchmarks: ready videos in four topics, delivered to the learner."""

from __future__ import annotations

import time

from sovereel.actions.videos import _attach_caption
from sovereel.events.outbox import emit
from sovereel.events.relay import relay_once
from sovereel.ids import new_id
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Video

TOPICS = ("cooking", "travel", "pets", "dance")


def seed_ready_videos(rt: RegionRuntime, creators: dict[str, str], per_topic: int = 6) -> dict[str, str]:
    """Ready videos (rows only: these tests rank, they never fetch media); returns video id -> topic."""
    topic_of = {}
    now = time.time()
    with rt.db.transaction() as s:
        for t_i, topic in enumerate(TOPICS):
            for i in range(per_topic):
                vid = new_id(now - 3600 * (i + 1) - t_i)
                creator = creators[f"{topic}{i % 2}"]
                video = Video(
                    id=vid, region=rt.region, creator_id=creator, caption=f"{topic} clip {i} #{topic}",
                    visibility="public", status="ready", duration_s=10.0, width=720, height=1280,
                    renditions={"720": {"key": f"videos/{vid}/720.mp4"}}, created_at=now - 3600 * (i + 1), ready_at=now,
                )  # fmt: skip
                s.add(video)
                s.flush()
                _attach_caption(s, video)
                emit(s, "video.ready", {"video_id": vid, "creator_id": creator, "sound_id": None})
                topic_of[vid] = topic
    deliver(rt)
    return topic_of


def deliver(rt: RegionRuntime) -> None:
    """Relay committed outbox rows to the bus now (the background relay does this within milliseconds)."""
    while relay_once(rt.db, rt.bus):
        pass
