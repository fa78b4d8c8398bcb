"""Publishing a live topic (`topics.LIVE_TOPICS`): straight to the bus, checked against its declaration.

Live topics carry derived, rebuildable state (the learner's deltas), so they skip the outbox: writing them as
outbox rows would put a database write and a stored stream message behind every few hundred milliseconds of
learning, and a server that misses one rebuilds from the database anyway.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sovereel.events.bus.interface import Bus, Message
from sovereel.events.topics import LIVE_TOPICS


def broadcast(bus: Bus, topic: str, payload: Mapping[str, Any], *, number: int, created_at: float = 0.0) -> None:
    """Send `payload` on the live `topic` to every process listening now; `number` becomes the message id and
    `created_at` its time (default now; a delta gives its oldest event's commit time, so lag is end to end)."""
    declared = LIVE_TOPICS.get(topic)
    if declared is None:
        raise ValueError(f"unknown live topic {topic!r}: declare it in sovereel.events.topics.LIVE_TOPICS")
    if set(payload) != declared.fields:
        raise ValueError(f"{topic} payload has {sorted(payload)}; declared: {sorted(declared.fields)}")
    bus.broadcast(Message(id=number, topic=topic, payload=dict(payload), created_at=created_at or time.time()))
