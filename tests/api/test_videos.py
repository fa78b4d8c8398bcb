"""Uploading, transcoding, serving and deleting videos; every bad upload is refused before a row exists."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from sovereel.actions.videos import do_create_video
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Hashtag, MediaJob, Video, VideoHashtag
from tests.support.api import process_all, signup, upload
from tests.support.concurrency import run_in_threads
from tests.support.media_clips import make_audio_only, make_clip

pytestmark = pytest.mark.usefixtures("ffmpeg")


def video_rows(rt: RegionRuntime) -> int:
    with rt.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Video)) or 0)


def job_failures(final: bool) -> float:
    """What `sovereel_media_job_failures_total` holds in this process for retried (False) or final failures."""
    value = REGISTRY.get_sample_value("sovereel_media_job_failures_total", {"final": "true" if final else "false"})
    return value or 0.0


def stored_files(rt: RegionRuntime) -> list[Path]:
    media = rt.settings.region_dir / "media"
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_upload_transcode_and_serve(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    headers = signup(client, "maker")
    clip = make_clip(tmp_path / "clip.mp4", width=480, height=854, duration_s=2.0)
    r = upload(client, headers, clip, caption="First one #Cooking #travel @nobody", visibility="public")
    assert r.status_code == 202, r.text
    video_id = r.json()["id"]
    assert r.json()["status"] == "processing"
    assert client.get(f"/api/videos/{video_id}").status_code == 404  # not public until ready

    assert process_all(rt) == 1
    v = client.get(f"/api/videos/{video_id}").json()
    assert v["status"] == "ready"
    assert v["hashtags"] == ["cooking", "travel"]
    assert v["width"] == 480 and v["height"] == 854
    assert abs(v["duration_s"] - 2.0) < 0.3
    assert set(v["media"]) == {"720", "360"}
    with rt.db.session() as s:
        row = s.get(Video, video_id)
        assert row is not None and row.original_key is None  # original removed once renditions verified
        assert (row.renditions["360"]["width"], row.renditions["360"]["height"]) == (360, 640)
        assert (row.renditions["720"]["width"], row.renditions["720"]["height"]) == (480, 854)  # never upscaled

    full = client.get(v["media"]["360"])
    assert full.status_code == 200
    assert full.headers["accept-ranges"] == "bytes"
    size = len(full.content)
    part = client.get(v["media"]["360"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    assert part.content == full.content[100:200]
    tail = client.get(v["media"]["360"], headers={"Range": "bytes=-10"})
    assert tail.content == full.content[-10:]
    assert client.get(v["media"]["360"], headers={"Range": f"bytes={size + 5}-"}).status_code == 416
    poster = client.get(v["poster_url"])
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"

    assert client.get("/api/hashtags/cooking").json()["videos"][0]["id"] == video_id
    assert client.delete(f"/api/videos/{video_id}", headers=headers).status_code == 204
    assert client.get(f"/api/videos/{video_id}").status_code == 404
    assert stored_files(rt) == []


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("empty.mp4", lambda p: p.write_bytes(b""), 422, "empty_file"),
        ("notes.mp4", lambda p: p.write_text("just some text, not a video\n" * 50), 415, "unsupported_type"),
        ("song.mp3", lambda p: make_audio_only(p), 415, "unsupported_type"),
        ("voice.m4a", lambda p: make_audio_only(p), 415, "unsupported_type"),
        ("audio-only.mp4", lambda p: make_audio_only(p), 422, "no_video_stream"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path, name: str, make: object, status: int, code: str
) -> None:
    headers = signup(sqlite_client, "uploader")
    path = tmp_path / name
    make(path)  # type: ignore[operator]
    r = upload(sqlite_client, headers, path)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert video_rows(sqlite_rt) == 0
    assert stored_files(sqlite_rt) == []
    assert list((sqlite_rt.settings.region_dir / "tmp").glob("*")) == []


def test_truncated_and_too_long_videos(sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path) -> None:
    headers = signup(sqlite_client, "uploader")
    clip = make_clip(tmp_path / "whole.mp4", duration_s=2.0)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    r = upload(sqlite_client, headers, cut)
    assert r.status_code == 422
    assert "unreadable" in r.json()["error"]["message"]

    sqlite_rt.settings.max_duration_s = 1.5
    r = upload(sqlite_client, headers, clip)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "too_long"
    assert video_rows(sqlite_rt) == 0


def test_oversized_upload_is_refused_while_streaming(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path
) -> None:
    headers = signup(sqlite_client, "uploader")
    sqlite_rt.settings.max_upload_mb = 1
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * (3 * 1024 * 1024))
    r = upload(sqlite_client, headers, big)
    assert r.status_code == 413
    assert "1 MB" in r.json()["error"]["message"]


def test_oversized_stream_without_length_is_cut_off(sqlite_rt: RegionRuntime) -> None:
    """A chunked upload with no Content-Length is refused once it passes the limit, not after all of it arrived."""
    import select
    import socket

    from sovereel.api.app import create_app
    from sovereel.api.server import serve_in_thread

    sqlite_rt.settings.max_upload_mb = 1
    app = create_app(sqlite_rt.settings, runtime=sqlite_rt, start_background=False)
    with serve_in_thread(app) as base, TestClient(app) as tc:
        headers = signup(tc, "streamer")
        port = int(base.rsplit(":", 1)[1])
        sent_mb = 0
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            head = (
                "POST /api/videos HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                f"Authorization: {headers['Authorization']}\r\nContent-Type: multipart/form-data; boundary=b\r\n\r\n"
            )
            sock.sendall(head.encode())
            part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.mp4"\r\n\r\n'
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            chunk = b"\x00" * (1024 * 1024)
            answered_at = None
            try:
                for _ in range(64):  # offer 64 MiB, watching for the server's answer after each one
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent_mb += 1
                    if select.select([sock], [], [], 0.05)[0]:
                        answered_at = sent_mb
                        break
            except OSError:
                answered_at = sent_mb  # the server closed the connection on us
            reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:100]
    assert answered_at is not None and answered_at <= 8, f"the 413 came only after {sent_mb} MiB"
    assert video_rows(sqlite_rt) == 0


def test_caption_visibility_and_filename_checks(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path
) -> None:
    headers = signup(sqlite_client, "uploader")
    clip = make_clip(tmp_path / "c.mp4")
    r = upload(sqlite_client, headers, clip, caption="x" * 2201)
    assert r.status_code == 422 and r.json()["error"]["code"] == "caption_too_long"
    r = upload(sqlite_client, headers, clip, visibility="everyone")
    assert r.status_code == 422
    assert video_rows(sqlite_rt) == 0

    with clip.open("rb") as f:
        r = sqlite_client.post(
            "/api/videos", headers=headers, files={"file": ("../../x.mp4", f, "video/mp4")}, data={"caption": "ok"}
        )
    assert r.status_code == 202
    with sqlite_rt.db.session() as s:
        row = s.get(Video, r.json()["id"])
        assert row is not None and row.original_name == "x.mp4"
    assert not (sqlite_rt.settings.data_dir.parent / "x.mp4").exists()
    assert all(sqlite_rt.settings.region_dir in p.parents for p in stored_files(sqlite_rt))


def test_rotated_phone_clip_becomes_portrait(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path
) -> None:
    headers = signup(sqlite_client, "phone")
    clip = make_clip(tmp_path / "rot.mp4", width=320, height=180, duration_s=1.0, rotate=90)
    r = upload(sqlite_client, headers, clip)
    assert r.status_code == 202, r.text
    process_all(sqlite_rt)
    v = sqlite_client.get(f"/api/videos/{r.json()['id']}").json()
    assert v["status"] == "ready"
    assert v["height"] > v["width"]


def test_failed_transcode_is_retried_then_shown_and_can_be_retried_by_hand(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = signup(sqlite_client, "unlucky")
    r = upload(sqlite_client, headers, make_clip(tmp_path / "c.mp4"))
    video_id = r.json()["id"]
    # A failure on our side (here ffmpeg cannot be run at all) is retried; a damaged file is not
    # (tests/media/test_real_phones.py::test_damaged_upload_fails_once_with_a_plain_sentence).
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    retried, final = job_failures(final=False), job_failures(final=True)
    # With no backoff configured, every retry is due at once: all attempts run in this one pass.
    assert process_all(sqlite_rt) == sqlite_rt.settings.job_max_attempts
    monkeypatch.undo()
    # Every failed attempt is counted for operators: the retried ones, then the one that failed it for good.
    assert job_failures(final=False) - retried == sqlite_rt.settings.job_max_attempts - 1
    assert job_failures(final=True) - final == 1
    v = sqlite_client.get(f"/api/videos/{video_id}", headers=headers).json()
    assert v["status"] == "failed"
    assert "attempts" in v["failure_reason"]
    assert "ffprobe" not in v["failure_reason"]  # the technical detail stays in the job row
    with sqlite_rt.db.session() as s:
        job = s.get(MediaJob, video_id)
        assert job is not None and job.state == "failed"
        assert "ffprobe" in (job.last_error or "")

    other = signup(sqlite_client, "someone")
    assert sqlite_client.post(f"/api/videos/{video_id}/retry", headers=other).status_code == 403
    assert sqlite_client.post(f"/api/videos/{video_id}/retry", headers=headers).status_code == 202
    process_all(sqlite_rt)
    assert sqlite_client.get(f"/api/videos/{video_id}").json()["status"] == "ready"


def test_acting_on_another_users_video(sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path) -> None:
    owner = signup(sqlite_client, "owner")
    other = signup(sqlite_client, "other")
    private = upload(sqlite_client, owner, make_clip(tmp_path / "p.mp4"), visibility="private").json()["id"]
    process_all(sqlite_rt)
    assert sqlite_client.delete(f"/api/videos/{private}", headers=other).status_code == 403
    assert sqlite_client.get(f"/api/videos/{private}", headers=other).status_code == 404
    assert sqlite_client.get(f"/api/videos/{private}/media/360", headers=other).status_code == 404
    assert sqlite_client.post(f"/api/videos/{private}/like", headers=other).status_code == 404
    assert sqlite_client.get(f"/api/videos/{private}", headers=owner).json()["status"] == "ready"
    assert sqlite_client.post("/api/videos/nope/like", headers=other).status_code == 404


def test_concurrent_uploads_sharing_hashtags_all_land(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    """Uploads that start together with the same new hashtags all commit, and each tag counts every one.

    On PostgreSQL a look-then-insert of a new tag failed all but one with a unique violation (the scaled load
    test's 500s), and a count incremented in Python lost updates; tags in opposite caption orders must not
    deadlock either."""
    creator = client.get("/api/me", headers=signup(client, "crowd")).json()["id"]
    n = 8
    start = threading.Barrier(n)

    def create(i: int) -> None:
        staged = tmp_path / f"staged-{i}.mp4"
        staged.write_bytes(b"not transcoded here")
        caption = "#fresh #again together" if i % 2 else "#again #fresh together"
        start.wait(timeout=30)
        do_create_video(
            rt.db, rt.blobs, creator_id=creator, staged=staged, original_name="clip.mp4", caption=caption,
            visibility="public", duration_s=4.0, width=360, height=640,
        )  # fmt: skip

    assert run_in_threads(create, [(i,) for i in range(n)]) == []
    with rt.db.session() as s:
        counts = {tag: count for tag, count in s.execute(select(Hashtag.tag, Hashtag.video_count))}
        links = s.scalar(select(func.count()).select_from(VideoHashtag))
    assert counts == {"fresh": n, "again": n}
    assert links == 2 * n
    assert video_rows(rt) == n
