"""Process-local state kept per open region store, dropped with the store.

Tests and `serve --regions` hold several stores in one process, so such state (the verified audit tree, the
tally of unauthenticated refusals) is keyed by the store object itself, weakly.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from sovereel.storage.db import RegionDB

T = TypeVar("T")


class PerStore(Generic[T]):
    """One `T` per open RegionDB, made by `factory` on first use."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._items: weakref.WeakKeyDictionary[RegionDB, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, db: RegionDB) -> T:
        """The state of `db`, made now if it has none."""
        with self._lock:
            item = self._items.get(db)
            if item is None:
                item = self._items[db] = self._factory()
            return item
