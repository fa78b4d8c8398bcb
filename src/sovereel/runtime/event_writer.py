"""Watch-event batches grouped into one transaction each while another is being written (group commit).

Every For You page is followed by its watch-event batch, so under 32 scrolling viewers the API processes open
a write transaction per batch, and on SQLite each one queues for the file's single write lock, behind the other
processes' writers too (whose waits are SQLite's busy-handler sleeps, not a queue). Here a batch that arrives
while this process is writing waits for that write and is then stored together with every batch that arrived
meanwhile, in one transaction (`actions.watch.do_record_event_batches`, the same statements per batch): the
response still means "stored", a lone batch is written at once, and under load each process takes the lock once
per group instead of once per viewer.

PostgreSQL writes concurrent transactions side by side, so there each batch keeps a transaction of its own
(`do_record_events`); grouping there would also mix several viewers' row locks in one transaction.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError

from sovereel.actions.watch import RecordResult, ViewerBatch, WatchEvent, do_record_event_batches, do_record_events
from sovereel.storage.db import RegionDB

log = logging.getLogger(__name__)

MAX_GROUP = 64  # batches a transaction: a group's write stays short (~100 events a batch at most)


@dataclass
class _Waiting:
    batch: ViewerBatch
    outcome: RecordResult | BaseException | None = None
    done: bool = False


class EventWriter:
    """Records watch-event batches for the event endpoint; groups them on SQLite (see the module docstring)."""

    def __init__(self, db: RegionDB, counter_secret: str, *, max_group: int = MAX_GROUP) -> None:
        self.db = db
        self.counter_secret = counter_secret
        self.max_group = max_group
        self._group = db.dialect == "sqlite"
        self._cond = threading.Condition()
        self._queue: list[_Waiting] = []
        self._writing = False

    def record(self, user_id: str, events: list[WatchEvent]) -> RecordResult:
        """Store one viewer's batch (once per client id) and return when it is committed; raises as
        `do_record_events` does (`Invalid` for an event naming a video the viewer may not see)."""
        if not self._group:
            return do_record_events(self.db, user_id=user_id, events=events, counter_secret=self.counter_secret)
        mine = _Waiting(ViewerBatch(user_id, events))
        with self._cond:
            self._queue.append(mine)
        while True:
            with self._cond:
                # Leader and followers: whoever finds no write under way writes the oldest `max_group` queued
                # batches; the rest wait for that write, then find theirs done or write the next group. A leader
                # whose own batch was further back than `max_group` goes on to the next group until it is written.
                while not mine.done and self._writing:
                    self._cond.wait()
                if mine.done:
                    break
                self._writing = True
                group, self._queue = self._queue[: self.max_group], self._queue[self.max_group :]
            try:
                self._write(group)
            finally:
                with self._cond:
                    for waiting in group:  # interrupted mid-write: never leave a batch waiting for nobody
                        if not waiting.done:
                            waiting.outcome, waiting.done = RuntimeError("the event batch was not recorded"), True
                    self._writing = False
                    self._cond.notify_all()
        outcome = mine.outcome
        if isinstance(outcome, RecordResult):
            return outcome
        raise outcome if outcome is not None else RuntimeError("the event batch was not recorded")

    def _write(self, group: list[_Waiting]) -> None:
        try:
            outcomes = self._outcomes(group)
        except Exception as failed:  # every batch of the group gets the failure its request would have met alone
            outcomes = [failed] * len(group)
        for waiting, outcome in zip(group, outcomes, strict=True):
            waiting.outcome, waiting.done = outcome, True

    def _outcomes(self, group: list[_Waiting]) -> list[RecordResult | Exception]:
        try:
            return list(do_record_event_batches(self.db, [w.batch for w in group], self.counter_secret))
        except (IntegrityError, OperationalError) as exc:
            if isinstance(exc, OperationalError) and "deadlock" not in str(exc).lower():
                raise  # the store is locked or down: each batch alone would wait as long again
            # Another process stored one of these batches meanwhile (a client's retry), or PostgreSQL chose this
            # side of a deadlock: each batch on its own, with do_record_events' retries, so that one batch's
            # trouble is that batch's answer alone.
            log.warning("a group of %d event batches met a concurrent write; recording them one by one", len(group))
            return [self._alone(w.batch) for w in group]

    def _alone(self, batch: ViewerBatch) -> RecordResult | Exception:
        try:
            return do_record_events(
                self.db, user_id=batch.user_id, events=batch.events, counter_secret=self.counter_secret
            )
        except Exception as refused:  # the batch's own request answers with it, as it would alone
            return refused
