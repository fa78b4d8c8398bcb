"""The region's append-only audit log: appending inside the caller's transaction, and reading it back.

`append_audit(session, region=, kind=, actor_id=, subject=, detail=)` writes one entry in the caller's
SQLAlchemy transaction and returns its index (0, 1, 2, … with no gaps: appends serialise on the
`audit_head` row, and a rolled-back append gives its index back). Call it as the last write of an
action, so the head row stays locked for as short a time as possible.

Entries hold no raw personal data: name users by `pseudonym(secret, user_id)` in `subject`/`detail`;
`actor_id` is the acting staff account's id (or None for the system). Kinds and their `detail` fields
(the family before the dot is checked; add new kinds here with their fields):

- `access.personal_data` {what, reason}: an admin/overseer/moderator read a user's personal data;
  subject `user:<pseudonym>`.
- `model.trained` {version, parent, events, events_root, first_seq, last_seq, metrics}: a version was
  trained from this region's event log; subject `model:<version>`.
- `model.promoted` {version, previous}: serving switched to this version.
- `model.exported` {version, licence, to_region}: a version left for another region under a licence.
- `model.imported` {version, licence, from_region}: a licensed version arrived from another region.
- `model.refused` {version, reason, source_region}: serving refused to load a version.
- `moderation.<action>` {target_kind, target_id, reason, action_id, …}: a moderation decision; an account
  target is named by pseudonym (subject `user:<pseudonym>`, target_id the pseudonym), a video or comment by id.
- `account.deleted` {how}: an account was erased; subject `user:<pseudonym>`.
- `account.<safety kind>` {by, …}: a user's safety action or setting change (`actions.safety_log` lists the
  kinds and fields); subject and `by` are `user:<pseudonym>`, and no comment text or filter keyword is kept.
- `data.exported` {what}: a user's data download was produced; subject `user:<pseudonym>`.
- `settings.changed` {changes: {name: [old, new]}, values, first}: a process started with settings that
  differ from the last ones logged (`first`: the first record); secrets and store URLs appear as digests.
- `residency.refused` {what, home_region, requested_region, reason}: data was kept from leaving a region
  (an authenticated request: a signed-in user's or an operator's).
- `residency.refused_summary` {since, until, window_s, counts: {reason: n}, requested_regions: {region: n}}:
  unauthenticated refusals (bad tokens, anonymous look-ups, unsigned peer calls) counted since the last summary;
  at most one per window (`actions.refusals`), regions only of this deployment; subject `unauthenticated`.
- `rights.<name>` {…}: other user-rights requests (e.g. `rights.personalisation_off`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sovereel.governance import merkle
from sovereel.governance.logcheck import AuditRecord, canonical_json
from sovereel.storage.models import AuditEntry, AuditHead

KIND_FAMILIES = ("access", "model", "moderation", "account", "data", "settings", "residency", "rights")
KIND_RE = re.compile(r"^(" + "|".join(KIND_FAMILIES) + r")\.[a-z][a-z0-9_]{0,38}\Z")
HEAD_ID = 1
LOG_FILE_ID = "sovereel-audit-export/v1"


def pseudonym(secret: str, raw_id: str) -> str:
    """A stable pseudonymous id for a user in audit entries (keyed HMAC; the raw id is not stored)."""
    return "p_" + hmac.new(secret.encode(), b"audit:" + raw_id.encode(), hashlib.sha256).hexdigest()[:24]


HEAD = cast(Table, AuditHead.__table__)
ENTRIES = cast(Table, AuditEntry.__table__)


# Built once: SQLAlchemy caches their compiled form.
CLAIM = update(HEAD).where(HEAD.c.id == HEAD_ID).values(size=HEAD.c.size + 1).returning(HEAD.c.size, HEAD.c.last_leaf)
SET_LAST_LEAF = update(HEAD).where(HEAD.c.id == HEAD_ID).values(last_leaf=bindparam("leaf"))
INSERT_ENTRY = insert(ENTRIES)


def _claim_index(conn: Connection) -> tuple[int, str]:
    """Lock the head row and take the next index; returns (index, previous leaf hash hex)."""
    row = conn.execute(CLAIM).one_or_none()
    if row is None:  # a store whose head row is missing (created outside the migration): make it once
        ins = pg_insert(HEAD) if conn.dialect.name == "postgresql" else sqlite_insert(HEAD)
        conn.execute(ins.values(id=HEAD_ID, size=0, last_leaf="").on_conflict_do_nothing())
        row = conn.execute(CLAIM).one()
    return int(row[0]) - 1, str(row[1])


def append_audit(
    session: Session, *, region: str, kind: str, actor_id: str | None, subject: str, detail: dict[str, Any]
) -> int:
    """Append one entry inside the caller's transaction and return its index."""
    if not KIND_RE.fullmatch(kind):
        raise ValueError(f"unknown audit kind {kind!r}: use <family>.<name>, family one of {KIND_FAMILIES}")
    if len(subject) > 200:
        raise ValueError("audit subject is longer than 200 characters")
    # Round-trip through JSON so what is stored is exactly what is hashed (tuples become lists, etc.).
    clean_detail: dict[str, Any] = json.loads(canonical_json(detail))
    # Core statements on the session's connection: the same transaction, without ORM flush overhead.
    conn = session.connection()
    index, prev = _claim_index(conn)
    record = AuditRecord(
        index=index,
        ts=round(time.time(), 6),
        region=region,
        kind=kind,
        actor_id=actor_id,
        subject=subject,
        detail=clean_detail,
        prev_hash=prev,
        leaf_hash="",
    )
    leaf = merkle.leaf_hash(record.entry_bytes()).hex()
    conn.execute(
        INSERT_ENTRY,
        {
            "idx": index,
            "ts": record.ts,
            "region": region,
            "kind": kind,
            "actor_id": actor_id,
            "subject": subject,
            "detail": clean_detail,
            "prev_hash": prev,
            "leaf_hash": leaf,
        },
    )
    conn.execute(SET_LAST_LEAF, {"leaf": leaf})
    return index


def _record(row: Row[Any]) -> AuditRecord:
    return AuditRecord(
        index=int(row.idx),
        ts=float(row.ts),
        region=str(row.region),
        kind=str(row.kind),
        actor_id=None if row.actor_id is None else str(row.actor_id),
        subject=str(row.subject),
        detail=dict(row.detail),
        prev_hash=str(row.prev_hash),
        leaf_hash=str(row.leaf_hash),
    )


def log_size(session: Session) -> int:
    """The number of committed entries (the count of rows, not the head row, which a verifier does not trust)."""
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def read_records(
    session: Session,
    *,
    start: int = 0,
    limit: int | None = None,
    kind: str | None = None,
    newest_first: bool = False,
) -> list[AuditRecord]:
    """Entries in index order from `start` (optionally only one kind, or newest first)."""
    order = ENTRIES.c.idx.desc() if newest_first else ENTRIES.c.idx
    q = select(ENTRIES).where(ENTRIES.c.idx >= start).order_by(order)
    if kind:
        q = q.where(ENTRIES.c.kind == kind)
    if limit is not None:
        q = q.limit(limit)
    return [_record(r) for r in session.execute(q)]


def stored_leaves(session: Session, size: int | None = None) -> list[bytes]:
    """The stored leaf hashes of the first `size` entries (all when None), for building proofs."""
    q = select(AuditEntry.leaf_hash).order_by(AuditEntry.idx)
    if size is not None:
        q = q.limit(size)
    return [bytes.fromhex(h) for h in session.scalars(q)]


def export_log(session: Session, out: Path, region: str) -> int:
    """Write the whole log as JSON Lines (a header line, then one entry per line); returns the entry count."""
    records = read_records(session)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"log": LOG_FILE_ID, "region": region, "size": len(records)}) + "\n")
        for r in records:
            f.write(json.dumps(r.to_json(), sort_keys=True, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return len(records)


def read_log_file(path: Path) -> tuple[dict[str, Any], list[AuditRecord]]:
    """Read an exported log; raises ValueError on a malformed file (a line cut short, a foreign header)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"{path} is empty")
    try:
        header = json.loads(lines[0])
    except ValueError as exc:
        raise ValueError(f"{path}: the header line is not JSON") from exc
    if not isinstance(header, dict) or header.get("log") != LOG_FILE_ID:
        raise ValueError(f"{path} is not an exported sovereel audit log")
    records = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            records.append(AuditRecord.from_json(json.loads(line)))
        except ValueError as exc:
            raise ValueError(f"{path}, line {n}: {exc} (the file is damaged or cut short)") from exc
    return header, records
