"""A re-entrant lock handed out first come, first served, with a bounded wait.

`threading.Lock` and `RLock` are not fair: when the holder releases, whichever thread the scheduler wakes first
takes it, and under a steady stream of takers one thread can wait without end. The region store's writers
(`storage.write_queue`) and the For You pages of one process (`foryou.service`) queue through a `FairLock`
instead, so a request waits for those ahead of it and no longer.
"""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType

_HANDING_OVER = -1  # the owner while the turn passes to the next in line: nobody may take it meanwhile


class FairLock:
    """A re-entrant lock granted in arrival order; a wait past `timeout_s` raises `timed_out()`'s error."""

    def __init__(self, timeout_s: float = 30.0) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._line: deque[threading.Lock] = deque()
        self.timeout_s = timeout_s

    def timed_out(self) -> Exception:
        """The error a waiter past `timeout_s` gets (subclasses name what was waited for)."""
        return TimeoutError(f"waited {self.timeout_s:.0f} s for a turn")

    def waiting(self) -> int:
        """How many threads are in line (not counting the holder)."""
        return len(self._line)

    def __enter__(self) -> FairLock:
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
                raise self.timed_out()
            self._owner, self._depth = me, 1  # the turn came between the timeout and the mutex: take it

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("the turn is released by a thread that does not hold it")
            self._depth -= 1
            if self._depth:
                return
            if self._line:
                self._owner = _HANDING_OVER
                self._line.popleft().release()
            else:
                self._owner = None
