"""Hot state in this process's memory: the embedded default (one process per region)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

PURGE_EVERY = 1024


class MemoryHotState:
    """Thread-safe dicts with expiry; expired keys are dropped lazily and in periodic sweeps."""

    url = "memory://"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}
        self._sets: dict[str, set[str]] = {}
        self._expires: dict[str, float] = {}
        self._writes = 0

    def _live(self, key: str, now: float) -> bool:
        at = self._expires.get(key)
        if at is not None and at <= now:
            self._drop(key)
            return False
        return True

    def _drop(self, key: str) -> None:
        self._values.pop(key, None)
        self._sets.pop(key, None)
        self._expires.pop(key, None)

    def _wrote(self, now: float) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            for key in [k for k, at in self._expires.items() if at <= now]:
                self._drop(key)

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._values.get(key) if self._live(key, self._clock()) else None

    def put(self, key: str, value: str, ttl_s: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            self._drop(key)
            self._values[key] = value
            if ttl_s is not None:
                self._expires[key] = now + ttl_s
            self._wrote(now)

    def delete(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def hit(self, key: str, window_s: float) -> tuple[int, float]:
        with self._lock:
            now = self._clock()
            if not self._live(key, now) or key not in self._values:
                self._drop(key)
                self._values[key] = "0"
                self._expires[key] = now + window_s
                self._wrote(now)
            count = int(self._values[key]) + 1
            self._values[key] = str(count)
            return count, max(0.0, self._expires[key] - now)

    def add_members(self, key: str, members: Iterable[str], ttl_s: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            if not self._live(key, now) or key not in self._sets:
                self._drop(key)
                self._sets[key] = set()
            self._sets[key].update(members)
            if ttl_s is not None:
                self._expires[key] = now + ttl_s
            self._wrote(now)

    def has_member(self, key: str, member: str) -> bool:
        with self._lock:
            return self._live(key, self._clock()) and member in self._sets.get(key, ())

    def close(self) -> None:
        with self._lock:
            self._values.clear()
            self._sets.clear()
            self._expires.clear()
