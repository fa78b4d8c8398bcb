"""Signed tree heads of the audit log ("checkpoints") and offline verification of a log against one (pure).

A checkpoint is `{log, region, size, root, ts, key_id, public_key, signature}`; the signature is the
region's Ed25519 signature over the canonical JSON of `{log, region, size, root, ts, key_id}`. A verifier
trusts the public key it already holds for the region (its own, or a trusted one), never the key a
checkpoint carries, so a checkpoint from a different log (another region or another deployment's key)
is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sovereel.governance.logcheck import AuditRecord, LogReport, canonical_json, check_against_checkpoint, check_records
from sovereel.governance.signing import RegionKeys, key_id, verify

LOG_ID = "sovereel-audit/v1"


class CheckpointError(ValueError):
    """A checkpoint that is malformed, unsigned or signed by a key not trusted for its region."""


def _signed_part(cp: dict[str, Any]) -> bytes:
    return canonical_json({k: cp[k] for k in ("log", "region", "size", "root", "ts", "key_id")})


def make_checkpoint(keys: RegionKeys, size: int, root: bytes, ts: float) -> dict[str, Any]:
    """A signed tree head for the first `size` entries with Merkle root `root`."""
    cp: dict[str, Any] = {
        "log": LOG_ID,
        "region": keys.region,
        "size": size,
        "root": root.hex(),
        "ts": ts,
        "key_id": keys.key_id,
    }
    return {**cp, "public_key": keys.public.hex(), "signature": keys.sign(_signed_part(cp))}


def parse_checkpoint(raw: Any) -> dict[str, Any]:
    """Validate a checkpoint's shape; raises CheckpointError."""
    if not isinstance(raw, dict):
        raise CheckpointError("a checkpoint is a JSON object")
    missing = [k for k in ("log", "region", "size", "root", "ts", "key_id", "signature") if k not in raw]
    if missing:
        raise CheckpointError(f"the checkpoint lacks {', '.join(missing)}")
    if raw["log"] != LOG_ID:
        raise CheckpointError(f"not a sovereel audit checkpoint (log {raw['log']!r})")
    if not isinstance(raw["size"], int) or raw["size"] < 0:
        raise CheckpointError("the checkpoint's size is not a non-negative integer")
    try:
        if len(bytes.fromhex(str(raw["root"]))) != 32:
            raise ValueError
    except ValueError as exc:
        raise CheckpointError("the checkpoint's root is not a 32-byte hex hash") from exc
    return dict(raw)


KeyLookup = Callable[[str], "bytes | None"]


def verify_checkpoint_signature(cp: dict[str, Any], public_key_for: KeyLookup) -> None:
    """Check the checkpoint was signed by the key this verifier trusts for its region."""
    public = public_key_for(str(cp["region"]))
    if public is None:
        raise CheckpointError(f"no key is trusted for region {cp['region']!r}")
    if cp["key_id"] != key_id(public):
        raise CheckpointError(
            f"checkpoint signed by key {cp['key_id']}, but region {cp['region']!r} uses key {key_id(public)}: "
            "it is from a different log"
        )
    if not verify(public, _signed_part(cp), str(cp["signature"])):
        raise CheckpointError("the checkpoint's signature does not verify")


def verify_log(records: Sequence[AuditRecord], cp: dict[str, Any], public_key_for: KeyLookup) -> LogReport:
    """Verify a whole log against an earlier checkpoint: signature, region, entries, chain and root.

    `public_key_for(region)` gives the key the verifier trusts (e.g. `RegionKeys.public_key_for`).
    """
    cp = parse_checkpoint(cp)
    verify_checkpoint_signature(cp, public_key_for)
    leaves, report = check_records(records, region=str(cp["region"]))
    if records and records[0].region != cp["region"]:
        report.ok = False
        report.problems.insert(0, f"the log is region {records[0].region!r}'s, the checkpoint {cp['region']!r}'s")
    stored = [r.leaf_hash for r in records]
    size, root = int(cp["size"]), str(cp["root"])
    return check_against_checkpoint(leaves, report, size=size, root_hex=root, stored_leaves=stored)
