"""One conformance suite for every blob store: a local folder, and S3 (against moto's server, a test double
for AWS S3, MinIO, Ceph RGW and R2); and video serving with HTTP Range from S3."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sovereel.api.app import create_app
from sovereel.ids import new_id
from sovereel.runtime.region import open_runtime
from sovereel.storage.blobs.interface import BlobError, BlobStore, open_blob_store
from sovereel.storage.models import User, Video
from tests.support.scale import moto_s3
from tests.support.settings import make_settings

DATA = bytes(range(256)) * 4096  # 1 MiB with a recognisable pattern


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


def s3_url(endpoint: str) -> str:
    return f"s3://media-{secrets.token_hex(4)}/eu?endpoint={endpoint}&region=us-east-1&create=1"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "s3":
        return open_blob_store(s3_url(request.getfixturevalue("s3_endpoint")))
    return open_blob_store(f"file://{tmp_path / 'media'}")


def test_bytes_and_files_round_trip(store: BlobStore, tmp_path: Path) -> None:
    assert store.put_bytes("videos/v1/poster.jpg", b"jpeg!") == 5
    assert store.get_bytes("videos/v1/poster.jpg") == b"jpeg!"
    src = tmp_path / "clip.mp4"
    src.write_bytes(DATA)
    assert store.put_file("videos/v1/720.mp4", src) == len(DATA)
    assert src.exists()  # copied, not moved
    assert store.size("videos/v1/720.mp4") == len(DATA)
    assert store.exists("videos/v1/720.mp4") and not store.exists("videos/v1/360.mp4")
    fetched = store.fetch_to("videos/v1/720.mp4", tmp_path / "work" / "original")
    assert fetched.read_bytes() == DATA


def test_moving_a_file_in_leaves_no_local_copy(store: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "upload.part"
    src.write_bytes(b"x" * 1000)
    assert store.put_file("videos/v2/original", src, move=True) == 1000
    assert not src.exists()
    assert store.get_bytes("videos/v2/original") == b"x" * 1000


def test_ranges_are_read_exactly(store: BlobStore) -> None:
    store.put_bytes("videos/v3/720.mp4", DATA)
    assert b"".join(store.iter_range("videos/v3/720.mp4", 0, 9)) == DATA[:10]
    assert b"".join(store.iter_range("videos/v3/720.mp4", 1000, 300_000, chunk=4096)) == DATA[1000:300_001]
    end = len(DATA) - 1
    assert b"".join(store.iter_range("videos/v3/720.mp4", end - 4, end)) == DATA[-5:]


def test_deleting_one_blob_or_a_whole_video(store: BlobStore) -> None:
    for name in ("720.mp4", "360.mp4", "poster.jpg"):
        store.put_bytes(f"videos/v4/{name}", b"1")
    store.put_bytes("videos/v40/720.mp4", b"other video")
    store.delete("videos/v4/poster.jpg")
    assert not store.exists("videos/v4/poster.jpg")
    store.delete("videos/v4/poster.jpg")  # deleting twice is fine
    store.delete_prefix("videos/v4")
    assert not store.exists("videos/v4/720.mp4") and not store.exists("videos/v4/360.mp4")
    assert store.get_bytes("videos/v40/720.mp4") == b"other video"  # a prefix is a folder, not a string prefix


def test_missing_blobs_and_bad_keys_are_clear_errors(store: BlobStore) -> None:
    with pytest.raises(BlobError, match="no blob"):
        store.get_bytes("videos/none/720.mp4")
    with pytest.raises(BlobError, match="no blob"):
        store.size("videos/none/720.mp4")
    with pytest.raises(ValueError, match="invalid blob key"):
        store.put_bytes("../escape", b"")


def test_unknown_media_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="s3://"):
        open_blob_store("gs://bucket")


@pytest.mark.s3
def test_a_video_in_s3_is_served_with_range_requests(s3_endpoint: str, tmp_path: Path) -> None:
    rt = open_runtime(make_settings(tmp_path, media_url=s3_url(s3_endpoint)))
    try:
        now = time.time()
        uid, vid = new_id(now), new_id(now)
        with rt.db.transaction() as s:
            s.add(User(id=uid, region=rt.region, username="maker", username_key="maker", display_name="maker",
                       bio="", password_hash="x", role="user", created_at=now))  # fmt: skip
            s.flush()
            s.add(Video(id=vid, region=rt.region, creator_id=uid, caption="from s3", visibility="public",
                        status="ready", duration_s=5.0, width=720, height=1280, created_at=now, ready_at=now,
                        renditions={"720": {"key": f"videos/{vid}/720.mp4"}}))  # fmt: skip
        rt.blobs.put_bytes(f"videos/{vid}/720.mp4", DATA)
        with TestClient(create_app(rt.settings, runtime=rt, start_background=False)) as client:
            whole = client.get(f"/api/videos/{vid}/media/720")
            assert whole.status_code == 200 and whole.content == DATA
            assert whole.headers["accept-ranges"] == "bytes"
            part = client.get(f"/api/videos/{vid}/media/720", headers={"Range": "bytes=1024-2047"})
            assert part.status_code == 206
            assert part.headers["content-range"] == f"bytes 1024-2047/{len(DATA)}"
            assert part.content == DATA[1024:2048]
            tail = client.get(f"/api/videos/{vid}/media/720", headers={"Range": "bytes=-100"})
            assert tail.status_code == 206 and tail.content == DATA[-100:]
            beyond = client.get(f"/api/videos/{vid}/media/720", headers={"Range": f"bytes={len(DATA)}-"})
            assert beyond.status_code == 416
    finally:
        rt.close()
