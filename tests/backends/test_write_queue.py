"""SQLite writers of one process take turns in the order they asked, and nobody waits without end."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from sovereel.storage.db import RegionDB, open_engine
from sovereel.storage.write_queue import WriteQueue


def wait_until(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def test_turns_are_granted_in_arrival_order() -> None:
    queue = WriteQueue()
    order: list[int] = []
    queue.acquire()  # the first writer holds the turn while the others line up, one after another
    threads = []
    for i in range(6):

        def write(i: int = i) -> None:
            with queue:
                order.append(i)

        t = threading.Thread(target=write)
        t.start()
        wait_until(lambda n=i + 1: len(queue._line) == n)
        threads.append(t)
    queue.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4, 5]


def test_the_holder_may_take_it_again_and_others_wait_for_the_last_release() -> None:
    queue = WriteQueue()
    got = threading.Event()
    with queue, queue:  # nested transactions on one thread do not deadlock
        t = threading.Thread(target=lambda: (queue.acquire(), got.set(), queue.release()))
        t.start()
        assert not got.wait(0.1)
    assert got.wait(5)
    t.join(5)


def test_a_writer_that_waits_too_long_gets_an_error_and_leaves_the_line() -> None:
    queue = WriteQueue(timeout_s=0.2)
    queue.acquire()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with queue:
                pass
        except PoolTimeout as exc:
            errors.append(exc)

    t = threading.Thread(target=write)
    t.start()
    t.join(5)
    assert len(errors) == 1 and not queue._line  # a 503 for that request, and the line is not blocked by it
    queue.release()
    with queue:  # the next writer gets its turn at once
        pass


def test_only_the_holder_releases() -> None:
    queue = WriteQueue()
    queue.acquire()
    failed: list[BaseException] = []

    def intruder() -> None:
        try:
            queue.release()
        except RuntimeError as exc:
            failed.append(exc)

    t = threading.Thread(target=intruder)
    t.start()
    t.join(5)
    assert failed
    queue.release()


def test_concurrent_transactions_on_sqlite_all_commit(tmp_path: Path) -> None:
    db = RegionDB("r", open_engine(f"sqlite:///{tmp_path / 'w.db'}"))
    with db.transaction() as s:
        s.execute(text("CREATE TABLE n (i INTEGER)"))

    def write(i: int) -> None:
        for _ in range(20):
            with db.transaction() as s:
                s.execute(text("INSERT INTO n VALUES (:i)"), {"i": i})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with db.session() as s:
        assert s.scalar(text("SELECT count(*) FROM n")) == 160
    db.dispose()
