"""Impressions are queued by the page and written in batches by one thread, and every reader still finds them."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sovereel.actions.accounts import do_signup
from sovereel.actions.impressions import ImpressionRow, do_record_impressions
from sovereel.foryou import impression_writer
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.db import RegionDB
from sovereel.storage.models import FeedImpression
from tests.governance.test_oversight import build_world


class GatedWrites:
    """Stands in front of the real batch write: counts transactions and holds them while `closed`."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self.batches: list[int] = []

    def __call__(self, db: RegionDB, rows: Sequence[ImpressionRow]) -> int:
        assert self.open.wait(30), "the test never reopened the gate"
        self.batches.append(len(rows))
        return do_record_impressions(db, rows)


@pytest.fixture
def gate(sqlite_rt: RegionRuntime, monkeypatch: pytest.MonkeyPatch) -> Iterator[GatedWrites]:
    gated = GatedWrites()
    monkeypatch.setattr(impression_writer, "do_record_impressions", gated)
    sqlite_rt.impressions.start()
    yield gated
    gated.open.set()
    sqlite_rt.impressions.stop()


def stored(rt: RegionRuntime) -> int:
    with rt.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(FeedImpression)) or 0)


def page(client: TestClient, headers: dict[str, str], cursor: str | None = None, limit: int = 4) -> dict[str, object]:
    params: dict[str, str | int] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    r = client.get("/api/feed/foryou", params=params, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def ids(body: dict[str, object]) -> list[str]:
    items = body["items"]
    assert isinstance(items, list)
    return [item["id"] for item in items]


def test_a_page_returns_before_its_impressions_are_written_and_every_reader_finds_them(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, gate: GatedWrites
) -> None:
    client, rt = sqlite_client, sqlite_rt
    world = build_world(client, rt)
    viewer, overseer = world["viewers"]["zqviewerone"], world["overseer"]
    gate.open.clear()  # the writer thread now blocks inside its first transaction
    first = page(client, viewer)
    cursor = first["next_cursor"]
    assert isinstance(cursor, str) and ids(first) and stored(rt) == 0  # answered; nothing written yet
    # The next page of the scroll sees the queued page as served: no repeats while the write waits. (Without the
    # recommender's part of the cursor, which remembers recent ids too, the chain's impressions are all it has.)
    second = page(client, viewer, cursor.split(":")[0] + ":1")
    assert ids(second) and not set(ids(first)) & set(ids(second))
    assert stored(rt) == 0
    gate.open.set()
    # "Why this video?" waits for the queue (flush) rather than answering 404.
    why = client.get(f"/api/videos/{ids(first)[0]}/why", headers=viewer)
    assert why.status_code == 200, why.text
    assert why.json()["position"] == 0
    listed = client.get("/api/oversight/impressions", params={"limit": 50}, headers=overseer).json()["items"]
    assert len(listed) == len(ids(first)) + len(ids(second))
    for item in listed:
        replay = client.get(f"/api/oversight/impressions/{item['id']}/replay", headers=overseer)
        assert replay.status_code == 200, replay.text
        assert replay.json()["replay"]["equal"] is True  # bit-exact from the batched row
    with rt.db.session() as s:
        chains = set(s.scalars(select(FeedImpression.request_id)))
    assert chains == {first["request_id"]} == {second["request_id"]}  # the cursor's chain names its rows


def test_pages_served_while_a_write_runs_share_one_transaction(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, gate: GatedWrites
) -> None:
    client, rt = sqlite_client, sqlite_rt
    world = build_world(client, rt)
    viewers = list(world["viewers"].values())
    gate.open.clear()
    served = sum(len(ids(page(client, viewers[n % 2], limit=3))) for n in range(20))
    gate.open.set()
    rt.impressions.flush()
    assert stored(rt) == served == sum(gate.batches)
    assert len(gate.batches) <= 3  # 20 pages: the one held open, then the rest together (at most 200 rows each)
    assert max(gate.batches) <= rt.impressions.max_rows


def test_stopping_the_runtime_writes_what_is_queued(sqlite_client: TestClient, sqlite_rt: RegionRuntime) -> None:
    client, rt = sqlite_client, sqlite_rt
    world = build_world(client, rt)
    rt.impressions.max_wait_s = 3600.0  # nothing would be written on time alone
    rt.impressions.start()
    served = len(ids(page(client, world["viewers"]["zqviewerone"])))
    assert served and stored(rt) == 0 and len(rt.impressions.pending()) == served
    rt.impressions.stop()
    assert stored(rt) == served and not rt.impressions.pending()
    page(client, world["viewers"]["zqviewertwo"])  # stopped: a page writes its own rows again, at once
    assert stored(rt) > served


def test_rows_of_an_erased_viewer_are_dropped_and_the_rest_of_the_batch_kept(sqlite_rt: RegionRuntime) -> None:
    rt = sqlite_rt
    user = do_signup(rt.db, "stillhere", "correct horse battery")
    rows = [ImpressionRow("chain", uid, "v1", 0, {"score": 1.0}, 1.0) for uid in (user.id, "erasedaccount")]
    assert do_record_impressions(rt.db, rows) == 1  # the foreign key refused the batch; row by row, one stays
    with rt.db.session() as s:
        assert list(s.scalars(select(FeedImpression.user_id))) == [user.id]
