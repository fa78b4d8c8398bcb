"""Fault tests: break one real component under use and check that nothing acknowledged is lost or doubled.

Short forms of `bench/faults.py` (run `python -m bench.faults` for the long ones, e.g. a 30 s NATS outage).
Each starts its own PostgreSQL, NATS, tmpfs or worker process; the shared services are never touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from bench import faults, faults_trainer
from bench.services import NATS_SERVER, can_mount_tmpfs, postgres_installed

from tests.support.settings import require

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def _explain(result: dict[str, Any]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in result.items())


def test_postgres_restart_under_load_gives_503s_then_recovers_without_losing_writes(tmp_path: Path) -> None:
    require(postgres_installed(), "PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    r = faults.pg_restart(tmp_path, outage_s=2.0, users=6, after_requests=30, in_process=True)
    assert r["unavailable_503"] > 0, _explain(r)  # clients saw the outage as 503 {"error": {"code": "unavailable"}}
    assert r["retry_after_missing"] == 0, _explain(r)
    assert r["other_5xx"] == {}, _explain(r)
    assert r["accounting"]["ok"], _explain(r)
    assert r["ok"], _explain(r)


def test_nats_outage_under_load_keeps_events_in_the_outbox_and_delivers_each_once(tmp_path: Path) -> None:
    require(shutil.which(NATS_SERVER) is not None, "nats-server is not installed")
    r = faults.nats_outage(tmp_path, outage_s=4.0, users=6, after_requests=30, in_process=True)
    assert r["requests_served_during_outage"] > 0, _explain(r)  # the API does not need the bus to accept writes
    assert r["outbox_backlog_at_end_of_outage"] > 0, _explain(r)  # events waited in the outbox
    assert r["stream_duplicates"] == 0 and r["stream_missing"] == 0, _explain(r)
    assert r["ok"], _explain(r)


def test_media_disk_full_gives_507_and_keeps_nothing_half_written(tmp_path: Path, ffmpeg: None) -> None:
    require(can_mount_tmpfs(), "mounting a small tmpfs needs root (CI runs as root)")
    r = faults.media_disk_full(tmp_path)
    assert r["upload_full"]["status"] == 507, _explain(r)
    assert r["upload_full"]["body"]["error"]["code"] == "insufficient_storage", _explain(r)
    assert r["while_full"]["job_state"] == "queued" and r["while_full"]["attempts"] == 0, _explain(r)
    assert r["ok"], _explain(r)


def test_media_worker_killed_mid_transcode_finishes_after_restart_without_duplicates(
    tmp_path: Path, ffmpeg: None
) -> None:
    r = faults.worker_killed(tmp_path, lock_s=2.0, timeout_s=150.0)
    assert r["after_kill"]["job_state"] == "running", _explain(r)  # it really died holding the job
    assert r["final_status"] == "ready", _explain(r)
    assert r["stored_files"] == r["expected_files"], _explain(r)  # one set of renditions, no leftovers
    assert r["ready_events"] == 1, _explain(r)
    assert r["ok"], _explain(r)


def test_trainer_killed_mid_training_resumes_from_its_published_version(tmp_path: Path) -> None:
    r = faults_trainer.trainer_killed(tmp_path, events=3000, timeout_s=60.0, phases=2)
    first, second = r["phase1"], r["phase2"]
    assert first["killed_mid_training"] and first["ok"], _explain(r)
    assert second["killed_mid_training"], _explain(r)
    assert r["ok"], _explain(r)
