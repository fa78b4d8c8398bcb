"""The event bus interface, its in-process backend, and `open_bus(url)` (memory:// or nats://)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One outbox event: `id` is its outbox id (unique per region), `created_at` when it was committed."""

    id: int
    topic: str
    payload: dict[str, Any]
    created_at: float = 0.0


Handler = Callable[[Message], None]


class Bus(Protocol):
    def publish(self, message: Message) -> None: ...
    def subscribe(self, topic_prefix: str, handler: Handler) -> None: ...
    def close(self) -> None: ...


class InProcessBus:
    """Delivers each message synchronously to every handler whose prefix matches its topic."""

    def __init__(self) -> None:
        self._handlers: list[tuple[str, Handler]] = []
        self._lock = threading.Lock()

    def subscribe(self, topic_prefix: str, handler: Handler) -> None:
        with self._lock:
            self._handlers.append((topic_prefix, handler))

    def publish(self, message: Message) -> None:
        with self._lock:
            handlers = [h for p, h in self._handlers if message.topic.startswith(p)]
        for handler in handlers:
            # A failing consumer must not block others; consumers are idempotent and see the event log anyway.
            try:
                handler(message)
            except Exception:
                log.exception("handler for %s failed on message %s", message.topic, message.id)

    def close(self) -> None:
        with self._lock:
            self._handlers.clear()


def open_bus(url: str, *, region: str = "default", consumer: str = "") -> Bus:
    """Open the event bus named by URL: memory:// (in process) or nats://host:4222 (JetStream, one stream a region)."""
    if url == "memory://":
        return InProcessBus()
    if url.startswith(("nats://", "tls://")):
        from sovereel.events.nats_bus import NatsBus

        return NatsBus(url, region=region, consumer=consumer)
    raise ValueError(f"unsupported bus URL {url!r} (use memory:// or nats://host:4222)")
