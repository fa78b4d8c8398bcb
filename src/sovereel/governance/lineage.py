"""Reading a region's event log for model lineage: the training set's Merkle root, and `model verify`.

The training set of a version is the region's event-log rows with seq in [first_seq, last_seq] (read
at training time) plus the social actions (likes, shares, comments) made up to `until`. Event rows are
append-only, so their Merkle root can be recomputed later; social rows can be undone (an unlike deletes
its row), so they are recorded by count and digest and checked only for residency.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import sovereel
from sovereel.governance import merkle
from sovereel.governance.manifest import event_leaf_bytes, sha256_json
from sovereel.governance.model_registry import ModelRegistry, check_version
from sovereel.governance.signing import RegionKeys
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Comment, Event, Like, Share, User


def log_cut(db: RegionDB) -> tuple[int, float]:
    """The newest event seq (0 for none) and the time now: the cut-off of a training run."""
    import time

    with db.session() as s:
        return int(s.scalar(select(func.max(Event.seq))) or 0), time.time()


def events_summary(db: RegionDB, first_seq: int | None, last_seq: int) -> dict[str, Any]:
    """Count, seq range, time range and Merkle root of the event-log rows with seq in [first_seq, last_seq]."""
    leaves: list[bytes] = []
    lo_seq: int | None = None
    times: list[float] = []
    with db.session() as s:
        q = select(Event).where(Event.seq <= last_seq).order_by(Event.seq)
        if first_seq is not None:
            q = q.where(Event.seq >= first_seq)
        for e in s.scalars(q):
            lo_seq = e.seq if lo_seq is None else lo_seq
            times.append(e.client_ts)
            leaves.append(
                merkle.leaf_hash(
                    event_leaf_bytes(
                        e.seq, e.region, e.user_id, e.kind, e.video_id, e.client_ts, e.received_at, e.watched_s
                    )
                )
            )
    return {
        "count": len(leaves),
        "first_seq": lo_seq,
        "last_seq": last_seq if leaves else None,
        "data_from": min(times, default=None),
        "data_to": max(times, default=None),
        "merkle_root": merkle.root(leaves).hex(),
    }


def social_summary(db: RegionDB, until: float) -> dict[str, Any]:
    """Count and digest of the likes, shares and comments made up to `until`."""
    h = hashlib.sha256()
    n = 0
    with db.session() as s:
        for kind, model in (("like", Like), ("share", Share), ("comment", Comment)):
            rows = s.execute(
                select(model.user_id, model.video_id, model.created_at)
                .where(model.created_at <= until)
                .order_by(model.created_at, model.user_id, model.video_id)
            )
            for user_id, video_id, at in rows:
                h.update(f"{kind}\x1f{user_id}\x1f{video_id}\x1f{at!r}\n".encode())
                n += 1
    return {"count": n, "sha256": h.hexdigest(), "until": until}


@functools.cache
def source_digest() -> str:
    """SHA-256 over this installation's sovereel source (each .py file's path and SHA-256, in path order).

    The package version alone does not say which code trained a version; this digest does, and anyone
    holding the same source tree recomputes it."""
    root = Path(sovereel.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_lineage(
    db: RegionDB,
    *,
    cut_seq: int,
    cut_time: float,
    parent: str | None,
    code_version: str,
    config: dict[str, Any],
    params: dict[str, Any],
    metrics: dict[str, Any],
    trained_at: float,
) -> dict[str, Any]:
    """The lineage block of a version trained on the log up to (cut_seq, cut_time)."""
    return {
        "region": db.region,
        "parent_version": parent,
        "code_version": code_version,
        "code_sha256": source_digest(),
        "config_sha256": sha256_json(config),
        "params_sha256": sha256_json(params),
        "events": events_summary(db, None, cut_seq),
        "social": social_summary(db, cut_time),
        "metrics": metrics,
        "trained_at": trained_at,
    }


@dataclass
class VerifyReport:
    """The outcome of `sovereel model verify`: every check run, and the problems found."""

    version: str
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_model(db: RegionDB, region_dir: Path, version: str, keys: RegionKeys) -> VerifyReport:
    """Check a version's signature, weight digests, licence, and that its training events are this region's."""
    report = VerifyReport(version)
    registry = ModelRegistry(region_dir)
    verdict = check_version(db, registry, version, keys)
    if not verdict.ok:
        report.problems.append(f"{verdict.code}: {verdict.reason}")
        return report
    report.checks.append(f"signature by region {verdict.source_region!r} and weight digests OK")
    manifest = registry.manifest(version)
    lineage = manifest.get("lineage")
    if not isinstance(lineage, dict) or not isinstance(lineage.get("events"), dict):
        report.problems.append("the manifest has no lineage block")
        return report
    code = lineage.get("code_sha256")
    if isinstance(code, str) and code:
        same = "the same as" if code == source_digest() else "differs from"
        report.checks.append(
            f"code: sovereel {lineage.get('code_version')}, source sha256 {code} ({same} this installation's)"
        )
    else:
        report.checks.append(f"code: sovereel {lineage.get('code_version')} (no source digest recorded)")
    if verdict.source_region != db.region:
        report.checks.append(f"licensed import from {verdict.source_region!r}: its events are verified there")
        return report
    ev = lineage["events"]
    if ev.get("count", 0) == 0:
        report.checks.append("trained on no event-log rows")
        return report
    first, last = int(ev["first_seq"]), int(ev["last_seq"])
    now = events_summary(db, first, last)
    if now["count"] != ev["count"] or now["merkle_root"] != ev["merkle_root"]:
        report.problems.append(
            f"training events changed: seq {first}..{last} held {ev['count']} events with root {ev['merkle_root']}, "
            f"the log now holds {now['count']} with root {now['merkle_root']}"
        )
    else:
        report.checks.append(f"{now['count']} training events (seq {first}..{last}) match the Merkle root")
    with db.session() as s:
        foreign_events = s.scalar(
            select(func.count())
            .select_from(Event)
            .join(User, User.id == Event.user_id)
            .where(Event.seq >= first, Event.seq <= last, (Event.region != db.region) | (User.region != db.region))
        )
        foreign_social = 0
        for model in (Like, Share, Comment):
            foreign_social += int(
                s.scalar(
                    select(func.count())
                    .select_from(model)
                    .join(User, User.id == model.user_id)
                    .where(model.created_at <= float(lineage["social"]["until"]), User.region != db.region)
                )
                or 0
            )
    if foreign_events or foreign_social:
        report.problems.append(
            f"{foreign_events or 0} training events and {foreign_social} social actions belong to another region"
        )
    else:
        report.checks.append(f"every training event and social action belongs to region {db.region!r}")
    return report
