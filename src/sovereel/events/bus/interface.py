"""The event bus interface and `open_bus(url)`: memory:// (`memory.py`), local:// (`local.py`), nats:// (`nats.py`)."""

from __future__ import annotations

import logging
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


def batch_of(handler: Handler) -> Callable[[list[Message]], None] | None:
    """A handler's way of taking several messages at once (its `batch` method), where it has one. A bus that
    delivers a relay batch in one go (the in-process bus inside `batched()`, the local hub's queues) hands a
    batching handler those messages together, in order: the analytics fold then writes once a batch."""
    batch = getattr(handler, "batch", None)
    return batch if callable(batch) else None


class Bus(Protocol):
    def publish(self, message: Message) -> None: ...
    def subscribe(self, topic_prefix: str, handler: Handler) -> None: ...
    def broadcast(self, message: Message) -> None:
        """Send a live message (not stored, not redelivered) to every process listening now."""
        ...

    def listen(self, topic_prefix: str, handler: Handler) -> None:
        """Receive live messages from now on, in the order they were broadcast."""
        ...

    def close(self) -> None: ...


def open_bus(url: str, *, region: str = "default", consumer: str = "") -> Bus:
    """Open the event bus named by URL: memory:// (in process), local:///path/bus.sock (the processes of one
    machine, through the hub that `serve --processes` runs) or nats://host:4222 (JetStream, one stream a region)."""
    if url == "memory://":
        from sovereel.events.bus.memory import InProcessBus

        return InProcessBus()
    if url.startswith("local://"):
        from sovereel.events.bus.local import LocalBusClient, socket_path

        return LocalBusClient(socket_path(url))
    if url.startswith(("nats://", "tls://")):
        from sovereel.events.bus.nats import NatsBus

        return NatsBus(url, region=region, consumer=consumer)
    raise ValueError(f"unsupported bus URL {url!r} (use memory://, local:///path/bus.sock or nats://host:4222)")
