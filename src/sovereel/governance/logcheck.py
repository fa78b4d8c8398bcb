"""The audit log's entry format and its offline verification (pure: no database, no files).

An entry's bytes are canonical JSON (sorted keys, no spaces, UTF-8, no NaN) of
`{index, ts, region, kind, actor_id, subject, detail, prev}`, where `prev` is the hex leaf hash of
entry index-1 ("" for entry 0). The Merkle leaf is SHA-256(0x00 ‖ bytes) (RFC 6962). The `prev`
chain lets a verifier name the first edited entry even when its stored leaf hash was rewritten too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sovereel.governance import merkle


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact separators, UTF-8, NaN and Infinity refused."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry as stored: its fields plus the stored prev and leaf hashes (hex)."""

    index: int
    ts: float
    region: str
    kind: str
    actor_id: str | None
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    leaf_hash: str

    def body(self) -> dict[str, Any]:
        """The hashed part of the entry."""
        return {
            "index": self.index,
            "ts": self.ts,
            "region": self.region,
            "kind": self.kind,
            "actor_id": self.actor_id,
            "subject": self.subject,
            "detail": self.detail,
            "prev": self.prev_hash,
        }

    def entry_bytes(self) -> bytes:
        """The canonical bytes the Merkle leaf is computed over."""
        return canonical_json(self.body())

    def computed_leaf(self) -> bytes:
        """The leaf hash recomputed from the entry's fields."""
        return merkle.leaf_hash(self.entry_bytes())

    def to_json(self) -> dict[str, Any]:
        """The entry as exported and served by the API."""
        return {**self.body(), "leaf_hash": self.leaf_hash}

    @staticmethod
    def from_json(d: dict[str, Any]) -> AuditRecord:
        """Parse an exported entry; raises ValueError on a malformed one."""
        try:
            return AuditRecord(
                index=int(d["index"]),
                ts=float(d["ts"]),
                region=str(d["region"]),
                kind=str(d["kind"]),
                actor_id=None if d["actor_id"] is None else str(d["actor_id"]),
                subject=str(d["subject"]),
                detail=dict(d["detail"]),
                prev_hash=str(d["prev"]),
                leaf_hash=str(d["leaf_hash"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed audit entry: {exc}") from exc


@dataclass
class LogReport:
    """The outcome of verifying a log: ok, the first bad entry (if any) and why."""

    ok: bool
    size: int
    root: str
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One human line per problem, or a success line."""
        if self.ok:
            return f"audit log OK: {self.size} entries, root {self.root}"
        return "\n".join(self.problems)


def check_records(records: Iterable[AuditRecord], *, region: str | None = None) -> tuple[list[bytes], LogReport]:
    """Check indexes, leaf hashes and the prev chain; return the recomputed leaves and a report."""
    leaves: list[bytes] = []
    report = LogReport(ok=True, size=0, root="")
    prev = ""

    def bad(i: int, why: str) -> None:
        if report.first_bad is None or i < report.first_bad:
            report.first_bad = i
        report.ok = False
        report.problems.append(f"entry {i}: {why}")

    for expected, rec in enumerate(records):
        if rec.index != expected:
            bad(expected, f"missing (next stored entry has index {rec.index}): deleted or reordered")
            break
        computed = rec.computed_leaf()
        if computed.hex() != rec.leaf_hash:
            bad(expected, "content does not match its stored leaf hash (edited)")
        if rec.prev_hash != prev and expected > 0:
            bad(expected - 1, f"entry {expected} records a different hash for it (edited, hash rewritten)")
        elif rec.prev_hash != prev:
            bad(expected, "first entry must have an empty prev hash")
        if region is not None and rec.region != region:
            bad(expected, f"belongs to region {rec.region!r}, not {region!r}")
        leaves.append(computed)
        prev = rec.leaf_hash
    report.size = len(leaves)
    report.root = merkle.root(leaves).hex()
    return leaves, report


def check_against_checkpoint(
    leaves: Sequence[bytes], report: LogReport, *, size: int, root_hex: str, stored_leaves: Sequence[str] = ()
) -> LogReport:
    """Require the first `size` entries to hash to `root_hex` (an earlier signed checkpoint)."""
    if len(leaves) < size:
        report.ok = False
        report.problems.append(
            f"log is truncated: it has {len(leaves)} entries but the checkpoint covers {size}; "
            f"entry {len(leaves)} is the first missing"
        )
        if report.first_bad is None or len(leaves) < report.first_bad:
            report.first_bad = len(leaves)
        return report
    if merkle.root(leaves[:size]).hex() != root_hex:
        report.ok = False
        # Name the first entry whose recomputed hash differs from the stored one, if any.
        first = next((i for i, lf in enumerate(leaves[:size]) if stored_leaves and lf.hex() != stored_leaves[i]), None)
        where = f"entry {first} differs" if first is not None else "an entry before it was rewritten"
        report.problems.append(f"the first {size} entries do not match the checkpoint root ({where})")
        if report.first_bad is None:
            report.first_bad = first
    return report
