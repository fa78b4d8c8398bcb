"""The inbox hub of one API process: it hears `notification.*` on the bus and wakes that user's open streams.

Every API process has one (its `RegionRuntime` connects it, `runtime.consumers`), and with NATS every process's
consumer sees every event, so a like served by one process reaches the recipient's stream held by another.
Messages carry ids only; a woken stream reads the unread count (and the page its inbox) from the store, so a
lost or repeated wake-up costs nothing but a read: each stream also re-reads on every (re)connect.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from sovereel.events.bus.interface import Message


@dataclass(frozen=True)
class Wake:
    """What a stream is told: a notification was `created` (its kind), or the count may have changed."""

    created: bool
    kind: str | None


class Listener:
    """One open stream: a queue on the event loop that serves it, filled from the bus's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Wake] = asyncio.Queue(maxsize=64)

    def push(self, wake: Wake) -> None:
        """Called on the loop's thread; a full queue drops the wake-up (the stream re-reads anyway)."""
        if not self.queue.full():
            self.queue.put_nowait(wake)


class InboxHub:
    """Open streams by user id; `on_message` is the bus handler (any thread), `listen`/`leave` run on the loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, set[Listener]] = {}

    def listen(self, user_id: str) -> Listener:
        """Register a stream for `user_id` (call from the event loop that will read it)."""
        listener = Listener(asyncio.get_running_loop())
        with self._lock:
            self._listeners.setdefault(user_id, set()).add(listener)
        return listener

    def leave(self, user_id: str, listener: Listener) -> None:
        """Forget a closed stream."""
        with self._lock:
            group = self._listeners.get(user_id)
            if group is not None:
                group.discard(listener)
                if not group:
                    del self._listeners[user_id]

    def streams(self, user_id: str) -> int:
        """How many streams `user_id` has open in this process."""
        with self._lock:
            return len(self._listeners.get(user_id, ()))

    def on_message(self, message: Message) -> None:
        """A `notification.*` event: wake the recipient's streams in this process (if any)."""
        user_id = message.payload.get("user_id")
        if not isinstance(user_id, str):
            return
        with self._lock:
            listeners = list(self._listeners.get(user_id, ()))
        created = message.topic == "notification.created"
        kind = message.payload.get("kind") if created else None
        wake = Wake(created=created, kind=kind if isinstance(kind, str) else None)
        for listener in listeners:
            try:
                listener.loop.call_soon_threadsafe(listener.push, wake)
            except RuntimeError:  # the stream's loop has closed: the stream is gone
                self.leave(user_id, listener)
