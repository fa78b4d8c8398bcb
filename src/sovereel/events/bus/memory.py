"""The in-process event bus of the embedded default: every handler called synchronously, in the publisher's thread."""

from __future__ import annotations

import logging
import threading

from sovereel.events.bus.interface import Handler, Message

log = logging.getLogger(__name__)


class InProcessBus:
    """Delivers each message synchronously to every handler whose prefix matches its topic."""

    def __init__(self) -> None:
        self._handlers: list[tuple[str, Handler]] = []
        self._listeners: list[tuple[str, Handler]] = []  # live topics: a separate table, as on NATS
        self._lock = threading.Lock()

    def subscribe(self, topic_prefix: str, handler: Handler) -> None:
        with self._lock:
            self._handlers.append((topic_prefix, handler))

    def listen(self, topic_prefix: str, handler: Handler) -> None:
        with self._lock:
            self._listeners.append((topic_prefix, handler))

    def publish(self, message: Message) -> None:
        self._deliver(message, self._handlers)

    def broadcast(self, message: Message) -> None:
        self._deliver(message, self._listeners)

    def _deliver(self, message: Message, table: list[tuple[str, Handler]]) -> None:
        with self._lock:
            handlers = [h for p, h in table if message.topic.startswith(p)]
        for handler in handlers:
            # A failing consumer must not block others; consumers are idempotent and see the event log anyway.
            try:
                handler(message)
            except Exception:
                log.exception("handler for %s failed on message %s", message.topic, message.id)

    def close(self) -> None:
        with self._lock:
            self._handlers.clear()
            self._listeners.clear()
