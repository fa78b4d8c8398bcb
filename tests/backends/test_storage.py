"""Region stores: migrations match the models, the blob store, the outbox relay, ids and caption parsing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sovereel.captions import parse_hashtags, parse_mentions
from sovereel.events.bus.interface import Message
from sovereel.events.bus.memory import InProcessBus
from sovereel.events.outbox import emit
from sovereel.events.relay import relay_once
from sovereel.ids import new_id
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.blobs.interface import BlobError, check_key, open_blob_store
from sovereel.storage.blobs.local import LocalBlobStore
from sovereel.storage.models import Base, OutboxMessage


def test_migrations_produce_exactly_the_models(rt: RegionRuntime) -> None:
    def ours(diff: tuple[object, ...]) -> bool:
        """Full-text search objects are made by migration 0002 outside the models."""
        name = str(getattr(diff[1], "name", ""))
        return "_fts" not in name

    with rt.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if ours(d)] == []
    assert len(diff) in (2, 12)  # 2 GIN indexes on PostgreSQL; 2 FTS5 tables and their 10 shadow tables on SQLite


def test_local_blob_store(tmp_path: Path) -> None:
    store = open_blob_store(f"file://{tmp_path / 'media'}")
    assert isinstance(store, LocalBlobStore)
    assert store.put_bytes("videos/a/720.mp4", b"0123456789") == 10
    assert store.exists("videos/a/720.mp4")
    assert b"".join(store.iter_range("videos/a/720.mp4", 2, 5, chunk=2)) == b"2345"
    assert store.size("videos/a/720.mp4") == 10
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 3000)
    store.put_file("videos/a/poster.jpg", src)
    assert store.get_bytes("videos/a/poster.jpg") == b"x" * 3000
    assert not list((tmp_path / "media" / "videos" / "a").glob(".part-*"))  # temp files renamed into place
    store.delete_prefix("videos/a")
    assert not store.exists("videos/a/720.mp4")
    with pytest.raises(BlobError):
        store.get_bytes("videos/a/720.mp4")
    for bad in ("../etc/passwd", "/abs", "a/../../b", ""):
        with pytest.raises(ValueError):
            check_key(bad)
    with pytest.raises(ValueError):
        open_blob_store("ftp://nowhere")


class FlakyBus(InProcessBus):
    """A bus whose first `failures` publishes raise, as a bus that is down would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def publish(self, message: Message) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("bus down")
        super().publish(message)


def test_outbox_events_leave_only_after_commit_and_survive_a_bus_outage(rt: RegionRuntime) -> None:
    got: list[int] = []
    bus = FlakyBus(failures=2)
    bus.subscribe("video.deleted", lambda m: got.append(int(m.payload["video_id"])))
    with pytest.raises(RuntimeError), rt.db.transaction() as s:
        emit(s, "video.deleted", {"video_id": "0"})  # emit takes declared topics only (events.topics)
        raise RuntimeError("the action failed")
    with rt.db.transaction() as s:
        for n in (1, 2, 3):
            emit(s, "video.deleted", {"video_id": str(n)})
    assert relay_once(rt.db, bus) == 0  # bus down: nothing delivered, nothing lost
    assert relay_once(rt.db, bus) == 0
    while relay_once(rt.db, bus):
        pass
    assert got == [1, 2, 3]  # in order, the rolled-back event never left
    with rt.db.session() as s:
        rows = s.query(OutboxMessage).order_by(OutboxMessage.id).all()
        assert all(r.delivered_at is not None for r in rows)
        assert rows[0].attempts == 2


def test_ids_sort_by_time_and_do_not_collide() -> None:
    t = time.time()
    earlier, later = new_id(t), new_id(t + 0.002)
    assert earlier < later and len(earlier) == 26
    assert len({new_id(t) for _ in range(10_000)}) == 10_000


def test_caption_parsing() -> None:
    caption = "Pasta #Cooking #food, again #cooking! mail me a@b.com #123 @Ana_B. and @bo"
    assert parse_hashtags(caption) == ["cooking", "food"]
    assert parse_mentions(caption) == ["ana_b", "bo"]
    assert parse_hashtags("#日本 #café") == ["日本", "café"]
