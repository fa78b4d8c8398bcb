"""Which consumer of a region runtime hears which bus topics: every subscription is made here.

The consumers come to life at different moments (the learner with the runtime, the feed snapshot with the
app, a media worker when one is started), so each is connected where it is built, by `connect`, from the one
table below. `events.topics` names the consumers of each topic; tests/backends/test_topics.py checks that it
agrees with this table. A prefix of a live topic (`events.topics.LIVE_TOPICS`: the learner's deltas) is
listened to (`Bus.listen`: every process its own copy, from now on) instead of subscribed to.
"""

from __future__ import annotations

from typing import Literal

from sovereel.events.bus.interface import Bus, Handler
from sovereel.events.topics import LIVE_TOPICS
from sovereel.telemetry import timed_consumer

Consumer = Literal["learner", "feed_replica", "feed_snapshot", "media_worker", "inbox", "analytics"]

SUBSCRIPTIONS: dict[Consumer, tuple[str, ...]] = {
    # Online learning and the live state: watch events and interactions; profile resets; new and moderated videos.
    # In the scaled layout only the `sovereel learner` process connects it (one durable consumer per region).
    "learner": ("watch.", "social.", "feed.", "video.ready", "video.moderated", "foryou.forget"),
    # API processes of the scaled layout: the learner's deltas instead of raw events; catalogue changes they read
    # from the database themselves.
    "feed_replica": ("foryou.", "video.ready", "video.moderated"),
    # Any change to a video (ready, deleted, moderated, a creator suspended) re-reads it into the feed snapshot.
    "feed_snapshot": ("video.",),
    # A new upload wakes the transcode threads at once; they poll as well, so a lost wake-up only delays.
    "media_worker": ("video.uploaded",),
    # Each API process's inbox hub pushes a recipient's new notifications and unread count to their open streams.
    "inbox": ("notification.",),
    # Creator analytics: views, watch time and retention from watch events; followers gained and lost. Folded once
    # per region: in the scaled layout only the `sovereel learner` process connects it.
    "analytics": ("watch.events", "social.follow", "social.unfollow"),
}
"""Topic prefixes each consumer subscribes to (a prefix matches every topic starting with it)."""

TIMED: frozenset[Consumer] = frozenset({"learner", "feed_replica"})
"""Consumers whose delivery lag and count are exported as metrics (`telemetry.timed_consumer`)."""


def connect(bus: Bus, consumer: Consumer, handler: Handler) -> None:
    """Subscribe `handler` to every topic prefix `consumer` listens to."""
    if consumer in TIMED:
        handler = timed_consumer(consumer, handler)
    for prefix in SUBSCRIPTIONS[consumer]:
        if is_live(prefix):
            bus.listen(prefix, handler)
        else:
            bus.subscribe(prefix, handler)


def is_live(prefix: str) -> bool:
    """Whether a prefix names live topics (never both kinds: a prefix of a live topic matches no stored one)."""
    return any(name.startswith(prefix) for name in LIVE_TOPICS)


def subscribers(topic: str) -> frozenset[Consumer]:
    """The consumers that receive `topic`."""
    return frozenset(c for c, prefixes in SUBSCRIPTIONS.items() if topic.startswith(prefixes))
