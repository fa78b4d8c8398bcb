"""Impressions written off the page's critical path: pages queue their rows, one thread writes them in batches.

A For You page used to open a write transaction of its own; on SQLite (one writer at a time) concurrent pages
queued behind each other's impression writes. Now the page hands its rows to `ImpressionWriter.submit` and
returns; the writer thread stores up to `max_rows` rows per transaction, at the latest `max_wait_s` after the
oldest waiting row was queued, through `actions.impressions.do_record_impressions` (still the only writer).

Replay stays exact because nothing a response refers to comes from the write: the page's cursor and
`request_id` name the scroll's chain (a `new_id` made in memory), and the reason record is frozen when the page
is served. Readers of impressions either call `flush()` first ("Why this video?", the overseer's list and
replay: cheap when nothing waits) or look in `pending()` (the next page's "already served in this scroll",
which must not wait for a write). The data export is a queued job that reads long after the rows were written.

Each serving process has its own queue: another process sees a row once it is written (about `max_wait_s`
later), so a scroll's next page served there meanwhile relies on the recommender's cursor, which carries the
ids of the scroll's last SERVED_MEMORY items itself, to avoid repeats.

Durability: `stop()` (the runtime's close) writes everything queued. A crash loses what was still queued, at
most about one batch (`max_wait_s` of pages). Impressions are not the event log: exposure counts in the live
state, the learner's shown counts and the once-per-day gate come from the `impression` watch events the page
posts, not from this table, so a lost batch costs "Why this video?" and replay for those rows and nothing else.

Without `start()` (tests, one-off commands) `submit` writes at once in the caller's thread, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from sovereel.actions.impressions import ImpressionRow, do_record_impressions
from sovereel.storage.db import RegionDB

log = logging.getLogger(__name__)

MAX_ROWS = 200  # rows per transaction: ~20 pages of 10
MAX_WAIT_S = 0.05  # how long a queued row waits at most before its batch is written
FLUSH_TIMEOUT_S = 15.0  # above the SQLite busy timeout (10 s): a flush gives up only when the store is stuck


class ImpressionWriter:
    """A queue of served impressions and the thread that writes it in batches."""

    def __init__(self, db: RegionDB, *, max_rows: int = MAX_ROWS, max_wait_s: float = MAX_WAIT_S) -> None:
        self.db = db
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self._cond = threading.Condition()
        self._queue: list[ImpressionRow] = []
        self._in_flight: list[ImpressionRow] = []  # taken from the queue, transaction not yet committed
        self._oldest_at = 0.0  # monotonic time the oldest queued row arrived
        self._queued = 0  # rows ever queued ...
        self._done = 0  # ... and rows ever finished (stored or given up on); FIFO, so flush waits on a count
        self._flush_wanted = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def submit(self, rows: Sequence[ImpressionRow]) -> None:
        """Queue one page's rows and return at once (written in the caller's thread when no writer runs)."""
        if not rows:
            return
        with self._cond:
            if self._thread is not None:
                if not self._queue:
                    self._oldest_at = time.monotonic()
                self._queue.extend(rows)
                self._queued += len(rows)
                if len(self._queue) >= self.max_rows:
                    self._cond.notify_all()
                return
        do_record_impressions(self.db, rows)

    def pending(self) -> list[ImpressionRow]:
        """The rows not yet committed (queued or being written), oldest first.

        Look here before reading the table: a row absent from this list was committed before the call.
        """
        with self._cond:
            return [*self._in_flight, *self._queue]

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Return once every row queued before the call is committed (at once when nothing waits)."""
        with self._cond:
            target = self._queued
            if self._done >= target or self._thread is None:
                return
            self._flush_wanted = True
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._done >= target, timeout_s):
                log.warning("impression flush timed out after %.1f s", timeout_s)

    def start(self) -> None:
        """Start the writer thread (one per region runtime)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="impression-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Write everything queued, then stop the thread; later pages write in their own thread again."""
        with self._cond:
            thread = self._thread
            if thread is None:
                return
            self._stopping = True
            self._cond.notify_all()
        thread.join()
        with self._cond:
            self._thread = None
            left, self._queue = self._queue, []  # queued between the thread's last look and now
        if left:
            self._write(left)

    def _next_batch(self) -> list[ImpressionRow] | None:
        """Wait until a batch is due and take it; None once stopping with nothing left."""
        with self._cond:
            while True:
                if self._queue:
                    due = self._oldest_at + self.max_wait_s
                    now = time.monotonic()
                    if len(self._queue) >= self.max_rows or self._flush_wanted or self._stopping or now >= due:
                        break
                    self._cond.wait(due - now)
                elif self._stopping:
                    return None
                else:
                    self._flush_wanted = False
                    self._cond.wait()
            batch, self._queue = self._queue[: self.max_rows], self._queue[self.max_rows :]
            # The rest keep `_oldest_at`: they waited already, so they are written right after this batch.
            self._in_flight = batch
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._write(batch)

    def _write(self, batch: list[ImpressionRow]) -> None:
        try:
            do_record_impressions(self.db, batch)
        except Exception:
            # A store that is down or locked past its busy timeout: one more try, then the rows are lost.
            log.exception("writing %d impressions failed; retrying once", len(batch))
            try:
                do_record_impressions(self.db, batch)
            except Exception:
                log.exception("%d impressions lost", len(batch))
        with self._cond:
            self._in_flight = []
            self._done += len(batch)
            self._cond.notify_all()
