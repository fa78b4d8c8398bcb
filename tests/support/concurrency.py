"""Running a test's workers on threads at once and collecting what they raised."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


def run_in_threads(target: Callable[..., None], args: Iterable[tuple[Any, ...]]) -> list[BaseException]:
    """Run `target(*a)` for each `a` on its own thread, all started before any is joined; returns the exceptions
    they raised (an empty list when none did), so a lost update or a deadlock fails the calling test."""
    errors: list[BaseException] = []

    def guarded(*a: Any) -> None:
        try:
            target(*a)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=a) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
