"""One process's turn to write to a SQLite store, handed out first come, first served.

SQLite lets one transaction write at a time. A writer that finds the file locked sleeps and polls (its busy
handler backs off up to 100 ms a try), so under load the writers of one process overtook each other unfairly
and some waited past the busy timeout: the client got a 503. `WriteQueue` makes them queue in arrival order
instead (a `FairLock`). Other processes (the CLI, a second API process) still meet SQLite's own lock.
"""

from __future__ import annotations

from sqlalchemy.exc import TimeoutError as PoolTimeout

from sovereel.fair_lock import FairLock


class WriteQueue(FairLock):
    """The write turn; a wait past `timeout_s` is a pool timeout, which the API answers with a 503."""

    def timed_out(self) -> Exception:
        return PoolTimeout(f"waited {self.timeout_s:.0f} s for a turn to write to the region store")
