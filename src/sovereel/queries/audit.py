"""Reading the audit log's signed checkpoints (tree heads) in their exchange format."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sovereel.governance.checkpoint import LOG_ID
from sovereel.governance.signing import RegionKeys
from sovereel.storage.db import RegionDB
from sovereel.storage.models import AuditCheckpoint


def checkpoint_json(row: AuditCheckpoint, region: str, public_hex: str) -> dict[str, Any]:
    """A stored checkpoint in its exchange format."""
    return {"log": LOG_ID, "region": region, "size": row.size, "root": row.root, "ts": row.ts,
            "key_id": row.key_id, "public_key": public_hex, "signature": row.signature}  # fmt: skip


def latest_checkpoint(db: RegionDB, keys: RegionKeys) -> dict[str, Any] | None:
    """The newest stored checkpoint, if any."""
    with db.session() as s:
        row = s.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1))
        return None if row is None else checkpoint_json(row, db.region, keys.public.hex())
