"""Fault scenario: the trainer is SIGKILLed while it trains, and resumes from its durable position.

Part of `bench/faults.py` (run `python -m bench.faults --scenarios trainer_killed`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import select

from bench.services import kill_tree, seeded_sqlite, sovereel_process, wait_for
from sovereel.governance.model_registry import ModelRegistry
from sovereel.storage.db import open_engine
from sovereel.storage.models import Video


def _add_events(db_url: str, n: int, seed_: int, users: int | None = None) -> None:
    """Record `n` watch events through the action (as the API would); `users=1` commits them all at once."""
    import random
    import uuid

    from sovereel.actions.watch import WatchEvent, do_record_events
    from sovereel.storage.db import RegionDB
    from sovereel.storage.models import User

    rng = random.Random(seed_)
    engine = open_engine(db_url)
    db = RegionDB("default", engine)
    with db.session() as s:
        user_ids = list(s.scalars(select(User.id)))[: users or None]
        videos = list(s.scalars(select(Video.id).where(Video.status == "ready")))
    now = time.time()
    batches: dict[str, list[WatchEvent]] = {}
    for _ in range(n):
        kind = rng.choice(["complete", "skip", "progress"])
        ev = WatchEvent(uuid.uuid4().hex, kind, rng.choice(videos), now, watched_s=rng.uniform(1, 20))
        batches.setdefault(rng.choice(user_ids), []).append(ev)
    for user_id, events in batches.items():  # one batch a user, as pages send them
        do_record_events(db, user_id=user_id, events=events)
    engine.dispose()


def _published(region_dir: Path) -> tuple[str | None, int | None]:
    registry = ModelRegistry(region_dir)
    version = registry.current()
    if version is None:
        return None, None
    return version, int(registry.manifest(version).get("training_events") or 0)


def _cpu_s(proc: Any) -> float:
    times = psutil.Process(proc.pid).cpu_times()
    return float(times.user + times.system)


def _wait_idle(proc: Any, timeout_s: float) -> bool:
    """Wait until a process has started up and idles (under 0.05 s of CPU in a second)."""

    def idle() -> bool:
        before = _cpu_s(proc)
        time.sleep(1.0)
        return _cpu_s(proc) - before < 0.05

    return wait_for(idle, timeout_s)


def trainer_killed(work: Path, *, events: int = 3000, timeout_s: float = 120.0, phases: int = 2) -> dict[str, Any]:
    """SIGKILL `sovereel trainer` while it trains, twice; each restarted trainer publishes a version with every event.

    The trainer's durable position is the published version: a killed training publishes nothing (the
    CURRENT pointer moves atomically, last), and after a restart the events since that version are due.
    Phase 1 kills the first training (nothing published yet); phase 2 kills a later one (a version exists).
    The kill comes once the idle trainer has spent 0.3 s of CPU after new events were committed at once:
    polling the log costs milliseconds, so it is training then.
    """
    db_url = seeded_sqlite(work, 50, 300)
    region_dir = work / "data" / "default"
    env = {"SOVEREEL_DATA_DIR": str(work / "data")}
    args = ["trainer", "--every", "0.5", "--min-new-events", "20"]
    evidence: dict[str, Any] = {"scenario": "trainer_killed"}
    procs: list[Any] = []
    total = 0
    try:
        for phase in range(1, phases + 1):
            batch = events if phase == 1 else events // 3
            before = _published(region_dir)
            trainer = sovereel_process(args, env, work / f"trainer{phase}a.log")
            procs.append(trainer)
            _wait_idle(trainer, timeout_s)
            idle_cpu = _cpu_s(trainer)
            _add_events(db_url, batch, phase, users=1)  # one transaction: the trainer sees all or nothing
            total += batch
            wait_for(lambda: _cpu_s(trainer) - idle_cpu > 0.3, 60)  # noqa: B023 (called at once)
            kill_tree(trainer)
            at_kill = _published(region_dir)
            restarted = sovereel_process(args, env, work / f"trainer{phase}b.log")
            procs.append(restarted)
            wait_for(lambda: _published(region_dir)[1] == total, timeout_s)  # noqa: B023 (called at once)
            after = _published(region_dir)
            kill_tree(restarted, 15)
            evidence[f"phase{phase}"] = {
                "events_in_log": total,
                "published_before": before,
                "published_at_kill": at_kill,
                "killed_mid_training": at_kill == before,
                "published_after_restart": after,
                "ok": at_kill == before and after[1] == total,
            }
        registry = ModelRegistry(region_dir)
        evidence["dirs_without_manifest"] = sorted(
            p.name for p in registry.root.iterdir() if p.is_dir() and not registry.has_version(p.name)
        )
    finally:
        for p in procs:
            kill_tree(p, 15)
    evidence["ok"] = all(evidence[f"phase{k}"]["ok"] for k in range(1, phases + 1))
    return evidence
