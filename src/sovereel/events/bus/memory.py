"""The in-process event bus of the embedded default: every handler called synchronously, in the publisher's thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sovereel.events.bus.interface import Handler, Message, batch_of

log = logging.getLogger(__name__)


class InProcessBus:
    """Delivers each message synchronously to every handler whose prefix matches its topic."""

    def __init__(self) -> None:
        self._handlers: list[tuple[str, Handler]] = []
        self._listeners: list[tuple[str, Handler]] = []  # live topics: a separate table, as on NATS
        self._lock = threading.Lock()
        self._held = threading.local()  # per publishing thread: messages held for batching handlers

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

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Within it, this thread's messages for handlers that take batches (`batch_of`) are held and handed to
        each such handler together when it ends; every other handler gets each message at once, as outside it.
        The relay publishes each batch of outbox rows so, before it marks them delivered."""
        if getattr(self._held, "messages", None) is not None:
            yield  # already inside: the outer one hands them over
            return
        held: list[tuple[Handler, Message]] = []
        self._held.messages = held
        try:
            yield
        finally:
            self._held.messages = None
            self._hand_over(held)

    def _hand_over(self, held: list[tuple[Handler, Message]]) -> None:
        groups: dict[int, tuple[Handler, list[Message]]] = {}
        for handler, message in held:
            groups.setdefault(id(handler), (handler, []))[1].append(message)
        for handler, messages in groups.values():
            batch = batch_of(handler)
            try:
                if batch is not None:
                    batch(messages)
            except Exception:
                log.exception("batch handler failed on messages %s..%s", messages[0].id, messages[-1].id)

    def _deliver(self, message: Message, table: list[tuple[str, Handler]]) -> None:
        with self._lock:
            handlers = [h for p, h in table if message.topic.startswith(p)]
        held: list[tuple[Handler, Message]] | None = getattr(self._held, "messages", None)
        for handler in handlers:
            if held is not None and table is self._handlers and batch_of(handler) is not None:
                held.append((handler, message))
                continue
            # A failing consumer must not block others; consumers are idempotent and see the event log anyway.
            try:
                handler(message)
            except Exception:
                log.exception("handler for %s failed on message %s", message.topic, message.id)

    def close(self) -> None:
        with self._lock:
            self._handlers.clear()
            self._listeners.clear()
