"""One process's turn to write to a SQLite store, handed out first come, first served.

SQLite lets one transaction write at a time. A writer that finds the file locked sleeps and polls (its busy
handler backs off up to 100 ms a try), so under load the writers of one process overtook each other unfairly
and some waited past the busy timeout: the client got a 503. `WriteQueue` makes them queue in arrival order
instead. A plain `threading.Lock` would not do: it is not fair either, and under a steady stream of writers
one could wait without end. Other processes (the CLI, a second API process) still meet SQLite's own lock.
"""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType

from sqlalchemy.exc import TimeoutError as PoolTimeout

_HANDING_OVER = -1  # the owner while the turn passes to the next in line: nobody may take it meanwhile


class WriteQueue:
    """A re-entrant lock granted in arrival order; `timeout_s` bounds a wait (then a 503, as a full pool gives)."""

    def __init__(self, timeout_s: float = 30.0) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._line: deque[threading.Lock] = deque()
        self.timeout_s = timeout_s

    def __enter__(self) -> WriteQueue:
        self.acquire()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.release()

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None:
                self._owner, self._depth = me, 1
                return
            turn = threading.Lock()
            turn.acquire()
            self._line.append(turn)
        if turn.acquire(timeout=self.timeout_s):
            with self._mutex:
                self._owner, self._depth = me, 1  # handed over by `release`
            return
        with self._mutex:
            if turn in self._line:
                self._line.remove(turn)
                raise PoolTimeout(f"waited {self.timeout_s:.0f} s for a turn to write to the region store")
            self._owner, self._depth = me, 1  # the turn came between the timeout and the mutex: take it

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("the write turn is released by a thread that does not hold it")
            self._depth -= 1
            if self._depth:
                return
            if self._line:
                self._owner = _HANDING_OVER
                self._line.popleft().release()
            else:
                self._owner = None
