"""Audit-log writes beyond single entries: signed checkpoints (tree heads) and the settings a process runs with."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from sqlalchemy.exc import IntegrityError

from sovereel.errors import Conflict
from sovereel.governance import merkle
from sovereel.governance.audit import append_audit, read_records
from sovereel.governance.audit_tree import TreeTampered, grow, tree_state
from sovereel.governance.checkpoint import make_checkpoint
from sovereel.governance.logcheck import check_records
from sovereel.governance.signing import RegionKeys
from sovereel.queries.audit import checkpoint_json
from sovereel.settings import Settings
from sovereel.storage.db import RegionDB
from sovereel.storage.models import AuditCheckpoint


def do_checkpoint(db: RegionDB, keys: RegionKeys) -> dict[str, Any]:
    """Sign and store a tree head of the log as it is now (the stored one when the log has not grown).

    The entries are re-verified first: a log whose rows were edited is never signed over.
    """
    with db.session() as s:
        records = read_records(s)
    leaves, report = check_records(records, region=db.region)
    if not report.ok:
        raise Conflict("the audit log fails verification; not signing it: " + report.describe(), code="audit_tampered")
    return _signed_head(db, keys, len(leaves), merkle.root(leaves))


def _signed_head(db: RegionDB, keys: RegionKeys, size: int, root: bytes) -> dict[str, Any]:
    """The stored checkpoint of this size and root, or a new one signed and stored now."""
    for _attempt in range(2):
        try:
            with db.transaction() as s:
                row = s.get(AuditCheckpoint, size)
                if row is not None and row.root == root.hex():
                    return checkpoint_json(row, db.region, keys.public.hex())
                if row is not None:  # an earlier head of this size with another root: the log was rewritten since
                    raise Conflict(f"a checkpoint of size {size} with another root exists", code="audit_tampered")
                cp = make_checkpoint(keys, size, root, round(time.time(), 6))
                s.add(AuditCheckpoint(size=size, root=cp["root"], ts=cp["ts"], key_id=cp["key_id"],
                                      signature=cp["signature"]))  # fmt: skip
            return cp
        except IntegrityError:  # another process stored this size meanwhile: use theirs
            continue
    raise Conflict(f"could not store a checkpoint of size {size}", code="audit_busy")


def do_public_checkpoint(db: RegionDB, keys: RegionKeys) -> dict[str, Any]:
    """The signed tree head the public endpoint serves: bounded work per call.

    The same head is returned while the log has not grown; new entries are verified once each (content,
    chain, region) and folded into this process's tree (`governance.audit_tree`), so a call never re-reads
    the whole log. Re-verifying old entries is the overseer's job (`sovereel audit verify`, `do_checkpoint`).
    """
    state = tree_state(db)
    with state.lock:
        try:
            grown = grow(db, state.tree)
        except TreeTampered as exc:
            raise Conflict(
                "the audit log fails verification; not signing it: " + str(exc), code="audit_tampered"
            ) from exc
        if grown or state.checkpoint is None:
            state.checkpoint = _signed_head(db, keys, state.tree.size, state.tree.root())
        return dict(state.checkpoint)


def _shown(name: str, value: Any) -> Any:
    """A setting as the audit log records it: secrets and store URLs (which may hold passwords) by digest only."""
    plain = json.loads(json.dumps(value, default=str))
    if ("secret" in name or name.endswith(("_url", "_token")) or name == "regions") and name != "public_url":
        return "sha256:" + hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:16] if plain else ""
    return plain


def do_record_settings(db: RegionDB, settings: Settings, *, actor_id: str | None = None) -> dict[str, Any] | None:
    """Log the settings a process starts with when they differ from the last ones logged; returns the changes."""
    values = {name: _shown(name, getattr(settings, name)) for name in sorted(type(settings).model_fields)}
    with db.session() as s:
        last = read_records(s, kind="settings.changed", newest_first=True, limit=1)
    before: dict[str, Any] = dict(last[0].detail.get("values") or {}) if last else {}
    changes = {k: [before.get(k), v] for k, v in values.items() if before.get(k) != v}
    if last and not changes:
        return None
    with db.transaction() as s:
        append_audit(
            s, region=db.region, kind="settings.changed", actor_id=actor_id, subject="settings",
            detail={"changes": changes if last else {}, "values": values, "first": not last},
        )  # fmt: skip
    return changes
