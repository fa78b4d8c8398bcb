"""The audit log over HTTP: signed checkpoints, entries and Merkle proofs (RFC 9162 style)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sovereel.api.schemas.common import Number, Public


class Checkpoint(Public):
    """A signed tree head: the first `size` entries have Merkle root `root` (hex), signed by the region's key."""

    log: str
    region: str
    size: int
    root: str
    ts: Number
    key_id: str
    public_key: str = Field(description="hex")
    signature: str


class AuditRecordPublic(Public):
    """One audit entry as exported: the hashed fields and the stored leaf hash."""

    index: int
    ts: Number
    region: str
    kind: str
    actor_id: str | None
    subject: str
    detail: dict[str, Any]
    prev: str = Field(description="the previous entry's leaf hash (hex)")
    leaf_hash: str


class AuditEntries(Public):
    """Entries in index order, and the log's size."""

    size: int
    entries: list[AuditRecordPublic]


class InclusionProof(Public):
    """The audit path of entry `index` in the tree of the first `size` entries (hashes in hex)."""

    index: int
    size: int
    leaf_hash: str
    proof: list[str]
    root: str


class ConsistencyProof(Public):
    """Proof that the first `first` entries are a prefix of the first `second` (hashes in hex)."""

    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]
