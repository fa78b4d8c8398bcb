"""The outbox relay: publishes committed outbox rows to the bus, in order, at least once."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from sqlalchemy import select, update

from sovereel.events.bus.interface import Bus, Message
from sovereel.storage.db import RegionDB
from sovereel.storage.models import OutboxMessage

log = logging.getLogger(__name__)


def relay_once(db: RegionDB, bus: Bus, batch: int = 200) -> int:
    """Publish up to `batch` undelivered messages; return how many were delivered."""
    with db.session() as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None)).order_by(OutboxMessage.id).limit(batch)
        ).all()
    delivered: list[int] = []
    failed: int | None = None
    # The in-process bus hands a batching consumer (the analytics fold) the whole batch at the end of the block:
    # one write for it, rather than one per message each waiting for the write turn behind the pages' writes.
    batched = getattr(bus, "batched", None)
    with batched() if batched is not None else contextlib.nullcontext():
        for row in rows:
            try:
                bus.publish(Message(id=row.id, topic=row.topic, payload=row.payload, created_at=row.created_at))
            except Exception:
                log.exception("publishing outbox message %s failed; it stays queued", row.id)
                failed = row.id
                break
            delivered.append(row.id)
    # One write for the whole batch: on SQLite every write transaction competes with the API's.
    if delivered or failed is not None:
        with db.transaction() as s:
            if delivered:
                s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(delivered)).values(delivered_at=time.time()))
            if failed is not None:
                s.execute(
                    update(OutboxMessage).where(OutboxMessage.id == failed).values(attempts=OutboxMessage.attempts + 1)
                )
    return len(delivered)


class OutboxRelay:
    """A background thread that drains the outbox whenever woken (after a commit) or every `interval_s`."""

    def __init__(self, db: RegionDB, bus: Bus, interval_s: float = 0.5) -> None:
        self.db = db
        self.bus = bus
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            try:
                while relay_once(self.db, self.bus):
                    pass
            except Exception:
                log.exception("outbox relay pass failed")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
