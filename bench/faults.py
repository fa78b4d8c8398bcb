"""Fault scenarios: each breaks one real component under use and reports whether anything was lost.

- `pg_restart`: PostgreSQL stops for `outage_s` under load; clients see 503 {"error": {"code": "unavailable"}}
  with Retry-After, resend, and after the restart every acknowledged write is there exactly once.
- `media_disk_full`: the media filesystem (a real, small tmpfs) is full; the uploader gets 507 and nothing
  is half-written; a transcode that hits the full disk waits (its attempt is not spent) and finishes later.
- `worker_killed`: the media worker's whole process tree is SIGKILLed mid-transcode; a new worker takes the
  job over when its lease lapses, and the video ends with one set of renditions.

Each returns a JSON-ready dict with `ok` and the evidence; `tests/runtime/test_faults.py` runs the short forms.

    python -m bench.faults [--scenarios pg_restart,media_disk_full,worker_killed] [--outage-s 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from bench.accounting import check_accounting, counter_offsets
from bench.faults_trainer import trainer_killed
from bench.load import PASSWORD, LoadConfig, Recorder, drive, make_clip
from bench.services import (
    PrivatePostgres,
    fill,
    kill_tree,
    private_nats,
    seeded_sqlite,
    small_filesystem,
    sovereel_process,
    wait_for,
    wait_http,
)
from sovereel.api.app import create_app
from sovereel.api.server import free_port, serve_in_thread
from sovereel.runtime.media_worker import MediaWorker
from sovereel.runtime.region import open_runtime
from sovereel.settings import load_settings
from sovereel.storage.db import open_engine
from sovereel.storage.models import MediaJob, OutboxMessage, Video


def _signup(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/auth/signup", json={"username": username, "password": PASSWORD, "birth_date": "1990-01-01"})
    assert r.status_code == 201, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _upload(client: TestClient, headers: dict[str, str], clip: Path) -> Any:
    with clip.open("rb") as f:
        return client.post("/api/videos", headers=headers, files={"file": (clip.name, f, "video/mp4")},
                           data={"caption": "fault test #faults"})  # fmt: skip


@contextmanager
def serving(work: Path, env: dict[str, str], *, in_process: bool) -> Iterator[str]:
    """`sovereel serve` on a free port (its own process, or a thread of this one: quicker to start in tests)."""
    if in_process:
        fields: dict[str, object] = {k.removeprefix("SOVEREEL_").lower(): v for k, v in env.items()}
        with serve_in_thread(create_app(load_settings(**fields, run_workers=False))) as base:
            yield base
        return
    port = free_port()
    proc = sovereel_process(["serve", "--no-workers", "--port", str(port), "--processes", "1"], env, work / "serve.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api/feed/foryou", 240, proc)
        yield base
    finally:
        kill_tree(proc, 15)


def pg_restart(
    work: Path, *, outage_s: float = 3.0, users: int = 8, after_requests: int = 40, in_process: bool = False
) -> dict[str, Any]:
    """Stop the region's PostgreSQL for `outage_s` while simulated users keep writing; account for everything."""
    from bench.feed_load import seed

    pg = PrivatePostgres()
    try:
        seed(pg.url, users, 200)
        engine = open_engine(pg.url)
        baseline = counter_offsets(engine)
        env = {"SOVEREEL_DATA_DIR": str(work / "data"), "SOVEREEL_DATABASE_URL": pg.url, "SOVEREEL_TRAIN_EVERY_S": "0",
               "SOVEREEL_RATE_LIMITS": "false"}  # fmt: skip
        with serving(work, env, in_process=in_process) as base:
            stop = threading.Event()
            cfg = LoadConfig(seconds=outage_s + 240, retry_unavailable=True, retry_cap_s=0.5, time_scale=0.01,
                             max_retries=10_000, stop=stop)  # fmt: skip
            rec = Recorder()
            runner = threading.Thread(
                target=lambda: asyncio.run(drive(base, [f"user{i}" for i in range(users)], cfg, 0, None, rec))
            )
            runner.start()
            warmed = wait_for(lambda: rec.statuses.get(200, 0) >= 20, 120)  # users signed in and swiping
            t_stop = time.monotonic()
            pg.stop("fast")
            time.sleep(outage_s)
            pg.start()
            down_s = time.monotonic() - t_stop
            ok_at_restart = rec.statuses.get(200, 0) + rec.statuses.get(201, 0)
            recovered = wait_for(
                lambda: rec.statuses.get(200, 0) + rec.statuses.get(201, 0) >= ok_at_restart + after_requests, 120
            )
            stop.set()
            runner.join(timeout=120)
            after = httpx.get(f"{base}/api/feed/foryou", timeout=30).status_code
            report = check_accounting(engine, rec.ledger, baseline=baseline, outbox_timeout_s=30)
            engine.dispose()
    finally:
        pg.close()
    server_errors = {k: v for k, v in rec.statuses.items() if k >= 500 and k != 503}
    return {
        "scenario": "pg_restart",
        "ok": (
            report.ok
            and warmed
            and recovered
            and not server_errors
            and rec.retry_after_missing == 0
            and after == 200
            and rec.unavailable > 0
        ),
        "outage_s": round(down_s, 1),
        "statuses": {str(k): v for k, v in sorted(rec.statuses.items())},
        "unavailable_503": rec.unavailable,
        "retry_after_missing": rec.retry_after_missing,
        "other_5xx": server_errors,
        "connection_errors": len([e for e in rec.errors if "Error" in e.split(":", 1)[-1][:30]]),
        "recovered": recovered,
        "status_after_recovery": after,
        "accounting": report.as_dict(),
        "ledger": rec.ledger.summary(),
    }


def media_disk_full(work: Path) -> dict[str, Any]:
    """Upload onto a full media filesystem (507, nothing kept), then transcode onto one (waits, then finishes)."""
    clip = make_clip(work / "clip.mp4")
    evidence: dict[str, Any] = {"scenario": "media_disk_full"}
    with small_filesystem(4 * 1024) as media:
        settings = load_settings(
            data_dir=work / "data",
            media_url=f"file://{media}",
            environment="test",
            run_workers=False,
            rate_limits=False,
            job_backoff_s=0.0,
            x264_preset="ultrafast",
        )
        rt = open_runtime(settings)
        try:
            with TestClient(create_app(settings, runtime=rt, start_background=False)) as client:
                headers = _signup(client, "uploader")
                filler = fill(media)
                r = _upload(client, headers, clip)
                evidence["upload_full"] = {
                    "status": r.status_code,
                    "body": r.json(),
                    "retry_after": r.headers.get("retry-after"),
                }
                with rt.db.session() as s:
                    evidence["rows_after_refused_upload"] = int(s.scalar(select(func.count()).select_from(Video)) or 0)
                    evidence["outbox_after_refused_upload"] = int(
                        s.scalar(select(func.count()).where(OutboxMessage.topic == "video.uploaded")) or 0
                    )
                evidence["media_files_after_refused_upload"] = sorted(
                    str(p.relative_to(media)) for p in media.rglob("*") if p.is_file() and p != filler
                )
                evidence["staging_left"] = sorted(p.name for p in (settings.region_dir / "tmp").glob("*"))
                filler.unlink()
                r = _upload(client, headers, clip)
                evidence["upload_with_room"] = r.status_code
                video_id = r.json()["id"]
                filler = fill(media)
                MediaWorker(rt).run_until_idle()
                with rt.db.session() as s:
                    job = s.get(MediaJob, video_id)
                    video = s.get(Video, video_id)
                    assert job is not None and video is not None
                    evidence["while_full"] = {"video_status": video.status, "job_state": job.state,
                                              "attempts": job.attempts, "last_error": job.last_error,
                                              "renditions": video.renditions}  # fmt: skip
                evidence["partial_files"] = sorted(str(p.relative_to(media)) for p in media.rglob(".part-*"))
                filler.unlink()
                with rt.db.transaction() as s:  # the job waits a few seconds; do not make the run wait
                    s.execute(update(MediaJob).values(next_attempt_at=0.0))
                MediaWorker(rt).run_until_idle()
                evidence["after_room"] = client.get(f"/api/videos/{video_id}", headers=headers).json()["status"]
        finally:
            rt.close()
    evidence["ok"] = (
        evidence["upload_full"]["status"] == 507
        and evidence["upload_full"]["body"]["error"]["code"] == "insufficient_storage"
        and evidence["rows_after_refused_upload"] == 0
        and evidence["outbox_after_refused_upload"] == 0
        and not evidence["media_files_after_refused_upload"]
        and not evidence["staging_left"]
        and evidence["while_full"]["video_status"] == "processing"
        and evidence["while_full"]["job_state"] == "queued"
        and not evidence["partial_files"]
        and evidence["after_room"] == "ready"
    )
    return evidence


def worker_killed(work: Path, *, lock_s: float = 2.0, timeout_s: float = 120.0) -> dict[str, Any]:
    """SIGKILL a `sovereel worker` (and its ffmpeg) mid-transcode; a second worker finishes the job once."""
    clip = work / "long.mp4"
    subprocess.run(
        ["ffmpeg", "-y", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=720x1280:r=30:d=8",
         "-f", "lavfi", "-i", "sine=f=440:d=8", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", str(clip)],
        check=True, timeout=120,
    )  # fmt: skip
    data = work / "data"
    settings = load_settings(data_dir=data, environment="test", run_workers=False, rate_limits=False)
    rt = open_runtime(settings)
    env = {"SOVEREEL_DATA_DIR": str(data), "SOVEREEL_JOB_LOCK_S": str(lock_s), "SOVEREEL_JOB_BACKOFF_S": "0",
           "SOVEREEL_X264_PRESET": "veryfast", "SOVEREEL_TRAIN_EVERY_S": "0"}  # fmt: skip
    evidence: dict[str, Any] = {"scenario": "worker_killed"}
    procs = []
    try:
        with TestClient(create_app(settings, runtime=rt, start_background=False)) as client:
            headers = _signup(client, "uploader")
            first = sovereel_process(["worker"], env, work / "worker1.log")
            procs.append(first)
            r = _upload(client, headers, clip)
            video_id = r.json()["id"]
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:  # wait until ffmpeg runs under the first worker
                children = psutil.Process(first.pid).children(recursive=True)
                if any("ffmpeg" in (c.name() or "") for c in children):
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("the first worker never started ffmpeg")
            kill_tree(first)
            with rt.db.session() as s:
                job = s.get(MediaJob, video_id)
                assert job is not None
                evidence["after_kill"] = {"job_state": job.state, "attempts": job.attempts}
            evidence["work_dirs_after_kill"] = sorted(p.name for p in (settings.region_dir / "work").glob("*"))
            second = sovereel_process(["worker"], env, work / "worker2.log")
            procs.append(second)
            status = "processing"
            while time.monotonic() < deadline and status == "processing":
                time.sleep(0.5)
                status = client.get(f"/api/videos/{video_id}", headers=headers).json()["status"]
            evidence["final_status"] = status
            with rt.db.session() as s:
                video = s.get(Video, video_id)
                job = s.get(MediaJob, video_id)
                assert video is not None and job is not None
                evidence["job"] = {"state": job.state, "attempts": job.attempts}
                expected = {str(v["key"]).rsplit("/", 1)[1] for v in video.renditions.values()}
                if video.poster_key:
                    expected.add(video.poster_key.rsplit("/", 1)[1])
                evidence["ready_events"] = int(
                    s.scalar(
                        select(func.count()).where(
                            OutboxMessage.topic == "video.ready",
                            OutboxMessage.payload["video_id"].as_string() == video_id,
                        )
                    )
                    or 0
                )
            stored = sorted(p.name for p in (settings.region_dir / "media" / "videos" / video_id).iterdir())
            evidence["stored_files"] = stored
            evidence["expected_files"] = sorted(expected)
            evidence["work_dirs_left"] = sorted(p.name for p in (settings.region_dir / "work").glob(f"{video_id}-*"))
    finally:
        for p in procs:
            kill_tree(p, 15)
        rt.close()
    evidence["ok"] = (
        evidence["after_kill"]["job_state"] == "running"
        and evidence["final_status"] == "ready"
        and evidence["stored_files"] == evidence["expected_files"]
        and evidence["ready_events"] == 1
        and not evidence["work_dirs_left"]
    )
    return evidence


def stream_message_ids(url: str, region: str = "default") -> list[str]:
    """The `Nats-Msg-Id` of every message in a region's JetStream stream (one per published outbox row)."""
    import nats

    from sovereel.events.bus.nats import stream_name

    async def read() -> list[str]:
        nc = await nats.connect(url, connect_timeout=10)
        try:
            js = nc.jetstream(timeout=10)
            info = await js.stream_info(stream_name(region))
            ids = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(stream_name(region), seq)
                ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
            return ids
        finally:
            await nc.close()

    return asyncio.run(read())


def nats_outage(
    work: Path, *, outage_s: float = 5.0, users: int = 8, after_requests: int = 40, in_process: bool = False
) -> dict[str, Any]:
    """Stop NATS under load: writes go on, events wait in the outbox, and each reaches the stream exactly once."""
    nats_server = private_nats()
    try:
        db_url = seeded_sqlite(work, users, 200)
        engine = open_engine(db_url)
        baseline = counter_offsets(engine)
        bus_url = f"nats://127.0.0.1:{nats_server.port}"
        env = {"SOVEREEL_DATA_DIR": str(work / "data"), "SOVEREEL_BUS_URL": bus_url, "SOVEREEL_TRAIN_EVERY_S": "0",
               "SOVEREEL_RATE_LIMITS": "false"}  # fmt: skip
        with serving(work, env, in_process=in_process) as base:
            stop = threading.Event()
            cfg = LoadConfig(seconds=outage_s + 240, retry_unavailable=True, retry_cap_s=0.5, time_scale=0.01,
                             max_retries=10_000, stop=stop)  # fmt: skip
            rec = Recorder()
            runner = threading.Thread(
                target=lambda: asyncio.run(drive(base, [f"user{i}" for i in range(users)], cfg, 0, None, rec))
            )
            runner.start()
            warmed = wait_for(lambda: rec.statuses.get(200, 0) >= 20, 120)
            nats_server.stop()
            ok_before = rec.statuses.get(200, 0) + rec.statuses.get(201, 0)
            time.sleep(outage_s)
            ok_during = rec.statuses.get(200, 0) + rec.statuses.get(201, 0) - ok_before
            with engine.connect() as conn:
                backlog = int(
                    conn.execute(select(func.count()).where(OutboxMessage.delivered_at.is_(None))).scalar() or 0
                )
            nats_server.start()
            recovered = wait_for(lambda: rec.statuses.get(200, 0) + rec.statuses.get(201, 0) >= ok_before + ok_during
                                  + after_requests, 120)  # fmt: skip
            stop.set()
            runner.join(timeout=120)
            report = check_accounting(engine, rec.ledger, baseline=baseline, outbox_timeout_s=90)
            with engine.connect() as conn:
                outbox_ids = {f"default:{i}" for i in conn.execute(select(OutboxMessage.id)).scalars()}
            engine.dispose()
            stream_ids = stream_message_ids(bus_url)
    finally:
        nats_server.close()
    twice = len(stream_ids) - len(set(stream_ids))
    missing = len(outbox_ids - set(stream_ids))
    server_errors = {k: v for k, v in rec.statuses.items() if k >= 500}
    return {
        "scenario": "nats_outage",
        "ok": (
            report.ok
            and warmed
            and recovered
            and not server_errors
            and ok_during > 0
            and backlog > 0
            and twice == 0
            and missing == 0
        ),
        "outage_s": outage_s,
        "requests_served_during_outage": ok_during,
        "outbox_backlog_at_end_of_outage": backlog,
        "statuses": {str(k): v for k, v in sorted(rec.statuses.items())},
        "stream_messages": len(stream_ids),
        "outbox_rows": len(outbox_ids),
        "stream_duplicates": twice,
        "stream_missing": missing,
        "accounting": report.as_dict(),
        "ledger": rec.ledger.summary(),
    }


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "pg_restart": pg_restart,
    "nats_outage": nats_outage,
    "trainer_killed": trainer_killed,
    "media_disk_full": media_disk_full,
    "worker_killed": worker_killed,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--outage-s", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/faults.json"))
    args = parser.parse_args()
    results = []
    for name in args.scenarios.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            kwargs: dict[str, Any] = {"outage_s": args.outage_s} if name in ("pg_restart", "nats_outage") else {}
            results.append(SCENARIOS[name](Path(tmp), **kwargs))
        print(json.dumps(results[-1], indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results}, indent=2) + "\n")
    raise SystemExit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
