"""Remembering which bus messages a consumer has applied, so a redelivered one does no harm."""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import func, select

from sovereel.storage.db import RegionDB
from sovereel.storage.models import OutboxMessage


class AppliedIds:
    """The most recent `capacity` message ids a consumer applied, plus a floor below which all count as applied.

    Outbox ids grow with each commit, and JetStream redelivers within seconds, so a bounded window is enough:
    an id older than the window and above the floor would be a redelivery after hours, which the stream's
    max-deliver policy rules out.
    """

    def __init__(self, capacity: int = 100_000, floor: int = 0) -> None:
        self.capacity = capacity
        self.floor = floor
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()
        self.duplicates = 0

    def first_time(self, message_id: int) -> bool:
        """True the first time an id is seen (and records it); False for a repeat or an id at or below the floor."""
        with self._lock:
            if message_id <= self.floor or message_id in self._ids:
                self.duplicates += 1
                return False
            self._ids[message_id] = None
            if len(self._ids) > self.capacity:
                self._ids.popitem(last=False)
            return True


def newest_outbox_id(db: RegionDB) -> int:
    """The newest committed outbox id: events up to it are in the tables a consumer replays at start."""
    with db.session() as s:
        return int(s.scalar(select(func.max(OutboxMessage.id))) or 0)
