"""Model lineage writes: training and promotion records, refusals, and licensed export to another region.

Each action writes its rows and its audit entries (sovereel.governance.audit) in one transaction.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sovereel.errors import Conflict, Invalid
from sovereel.governance.audit import append_audit
from sovereel.governance.manifest import Verdict, refuse
from sovereel.governance.model_registry import ModelRefused, ModelRegistry, check_version
from sovereel.governance.signing import RegionKeys, read_trusted, trust_key
from sovereel.storage.db import RegionDB
from sovereel.storage.models import ExportLicence

LICENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}\Z")


def do_record_training(
    db: RegionDB, region_dir: Path, *, version: str, manifest: dict[str, Any], previous: str | None
) -> None:
    """Log a freshly trained, signed version and its promotion, and make it current."""
    lineage = manifest.get("lineage") or {}
    events = lineage.get("events") or {}
    with db.transaction() as s:
        append_audit(
            s,
            region=db.region,
            kind="model.trained",
            actor_id=None,
            subject=f"model:{version}",
            detail={
                "version": version,
                "parent": lineage.get("parent_version"),
                "events": events.get("count"),
                "events_root": events.get("merkle_root"),
                "first_seq": events.get("first_seq"),
                "last_seq": events.get("last_seq"),
                "metrics": lineage.get("metrics") or {},
                "manifest_key_id": (manifest.get("signature") or {}).get("key_id"),
            },
        )
        append_audit(
            s,
            region=db.region,
            kind="model.promoted",
            actor_id=None,
            subject=f"model:{version}",
            detail={"version": version, "previous": previous},
        )
        ModelRegistry(region_dir).set_current(version)  # inside the transaction: no pointer switch goes unlogged


def do_refuse_model(db: RegionDB, *, version: str, verdict: Verdict, action: str = "load") -> None:
    """Log that a version was refused (to load, promote or export) and why."""
    with db.transaction() as s:
        append_audit(
            s,
            region=db.region,
            kind="model.refused",
            actor_id=None,
            subject=f"model:{version}",
            detail={"version": version, "action": action, "code": verdict.code, "reason": verdict.reason,
                    "source_region": verdict.source_region},
        )  # fmt: skip


def do_promote(db: RegionDB, region_dir: Path, version: str, keys: RegionKeys, *, actor_id: str | None = None) -> None:
    """Make a verified version current (refusing, and logging the refusal, otherwise)."""
    registry = ModelRegistry(region_dir)
    verdict = check_version(db, registry, version, keys)
    if not verdict.ok:
        do_refuse_model(db, version=version, verdict=verdict, action="promote")
        raise ModelRefused(version, verdict)
    previous = registry.current()
    with db.transaction() as s:
        append_audit(
            s, region=db.region, kind="model.promoted", actor_id=actor_id, subject=f"model:{version}",
            detail={"version": version, "previous": previous, "source_region": verdict.source_region},
        )  # fmt: skip
        registry.set_current(version)  # inside the transaction: no pointer switch goes unlogged


@dataclass(frozen=True)
class RegionSide:
    """One side of an export: a region's store, its folder and the folder of keys it trusts."""

    db: RegionDB
    region_dir: Path
    trusted_dir: Path

    @property
    def region(self) -> str:
        return self.db.region


def _record_licence(side: RegionSide, *, licence: str, version: str, source: str, dest: str, kind: str,
                    actor_id: str | None, detail: dict[str, Any]) -> bool:  # fmt: skip
    """Write the licence row and its audit entry on one side; False when it was already recorded."""
    with side.db.transaction() as s:
        existing = s.get(ExportLicence, licence)
        if existing is not None:
            same = (existing.model_version, existing.source_region, existing.dest_region) == (version, source, dest)
            if same:
                return False
            raise Conflict(
                f"licence {licence} is already recorded for model {existing.model_version} "
                f"({existing.source_region} → {existing.dest_region})",
                code="licence_mismatch",
            )
        index = append_audit(
            s, region=side.region, kind=kind, actor_id=actor_id, subject=f"model:{version}",
            detail={"version": version, "licence": licence, **detail},
        )  # fmt: skip
        s.add(ExportLicence(id=licence, model_version=version, source_region=source, dest_region=dest,
                            recorded_at=time.time(), audit_index=index))  # fmt: skip
    return True


def do_export_model(
    source: RegionSide, dest: RegionSide, *, version: str, licence: str, keys: RegionKeys, actor_id: str | None = None
) -> dict[str, Any]:
    """Send one of this region's versions to `dest` under `licence`, recorded in both regions' audit logs."""
    if not LICENCE_RE.fullmatch(licence):
        raise Invalid("a licence id is 1-64 letters, digits or . _ : / -", code="bad_licence")
    if dest.region == source.region:
        raise Invalid("the destination is this region", code="same_region")
    here, there = ModelRegistry(source.region_dir), ModelRegistry(dest.region_dir)
    verdict = check_version(source.db, here, version, keys)
    if verdict.ok and verdict.source_region != source.region:
        verdict = refuse("not_own_model", f"trained in {verdict.source_region!r}: only own versions are exported")
    if not verdict.ok:
        do_refuse_model(source.db, version=version, verdict=verdict, action=f"export to {dest.region}")
        raise ModelRefused(version, verdict)
    trusted = read_trusted(dest.trusted_dir).get(source.region)
    if trusted is not None and trusted != keys.public:
        why = refuse("key_mismatch", f"{dest.region} trusts a different key for {source.region}", source.region)
        do_refuse_model(source.db, version=version, verdict=why, action=f"export to {dest.region}")
        raise ModelRefused(version, why)
    try:
        _record_licence(source, licence=licence, version=version, source=source.region, dest=dest.region,
                        kind="model.exported", actor_id=actor_id, detail={"to_region": dest.region})  # fmt: skip
    except Conflict as exc:
        why = refuse("licence_mismatch", exc.message, source.region)
        do_refuse_model(source.db, version=version, verdict=why, action=f"export to {dest.region}")
        raise
    target = there.copy_from(here, version)
    manifest = there.manifest(version)
    record = {
        "licence": licence,
        "version": version,
        "source_region": source.region,
        "dest_region": dest.region,
        "source_key_id": keys.key_id,
        "manifest_signature": (manifest.get("signature") or {}).get("sig"),
    }
    there.write_licence(version, record)
    installed = trusted is None
    if installed:
        trust_key(dest.trusted_dir, source.region, keys.public)
    _record_licence(dest, licence=licence, version=version, source=source.region, dest=dest.region,
                    kind="model.imported", actor_id=actor_id,
                    detail={"from_region": source.region, "source_key_id": keys.key_id,
                            "key_trusted_now": installed})  # fmt: skip
    return {**record, "path": str(target), "key_trusted_now": installed}


def do_publish_version(
    db: RegionDB, region_dir: Path, version: str, keys: RegionKeys, lineage: dict[str, Any]
) -> dict[str, Any]:
    """Sign a freshly saved version, log its training and promotion, and make it current."""
    registry = ModelRegistry(region_dir)
    previous = registry.current()
    manifest = registry.sign_version(version, keys, lineage)
    do_record_training(db, region_dir, version=version, manifest=manifest, previous=previous)
    return manifest
