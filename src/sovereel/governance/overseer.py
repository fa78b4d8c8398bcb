"""The overseer's read-only views: logged impressions, model cards and lineage, and the audit log with proofs.

Everything here reads; nothing writes. No view carries raw personal data: users appear only as pseudonyms
(`audit.pseudonym`: an HMAC of the user id with the region's secret, stable across views and the audit log,
not reversible without the secret), and an impression's record is rebuilt field by field from what replay and
an auditor need (no captions, usernames or explanation sentences, which can name people).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sovereel.errors import Invalid, NotFound
from sovereel.governance import merkle
from sovereel.governance.audit import log_size, pseudonym, read_records, stored_leaves
from sovereel.governance.model_registry import ModelRegistry
from sovereel.storage.models import AuditCheckpoint, FeedImpression, User

OVERSEER = "overseer"
MAX_PAGE = 200
_VIDEO_FIELDS = ("id", "created_at", "duration_s", "hashtags", "visibility", "moderation")
_COUNT_FIELDS = ("like_count", "comment_count", "share_count", "view_count")
_INPUT_FIELDS = (
    "mode", "region", "now", "seed", "cold_start", "carried", "position", "slot", "source_scores", "via",
    "predictions", "weights", "popularity", "max_popularity",
)  # fmt: skip


@dataclass(frozen=True)
class Pseudonyms:
    """Turns user ids into the region's stable pseudonyms."""

    secret: str

    def of(self, user_id: str | None) -> str | None:
        """The pseudonym of a user id (None stays None)."""
        return None if user_id is None else pseudonym(self.secret, user_id)


def _page_args(limit: int, before: int | None) -> tuple[int, int | None]:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}", code="bad_limit")
    if before is not None and before < 0:
        raise Invalid("before must be a non-negative impression id", code="bad_cursor")
    return limit, before


def redacted_reason(reason: dict[str, Any], names: Pseudonyms) -> dict[str, Any]:
    """An impression's reason record as the overseer sees it: scoring inputs kept, people pseudonymised."""
    inputs: dict[str, Any] = dict(reason.get("inputs") or {})
    video: dict[str, Any] = dict(inputs.get("video") or {})
    shown_video = {k: video[k] for k in (*_VIDEO_FIELDS, *_COUNT_FIELDS) if k in video}
    shown_video["creator"] = names.of(video.get("creator_id"))
    shown_inputs = {k: inputs[k] for k in _INPUT_FIELDS if k in inputs}
    shown_inputs["user"] = names.of(inputs.get("user_id"))
    shown_inputs["video"] = shown_video
    if "features" in inputs:
        shown_inputs["features"] = list(inputs["features"])
    return {
        "personalised": bool(reason.get("personalised", True)),
        "sources": list(reason.get("sources") or []),
        "model_version": reason.get("model_version"),
        "params_version": reason.get("params_version"),
        "score": reason.get("score"),
        "terms": dict(reason.get("terms") or {}),
        "inputs": shown_inputs,
    }


def impression_summary(row: FeedImpression, names: Pseudonyms) -> dict[str, Any]:
    """One line of the impressions list."""
    reason = row.reason or {}
    return {
        "id": row.id,
        "request_id": row.request_id,
        "user": names.of(row.user_id),
        "video_id": row.video_id,
        "position": row.position,
        "served_at": row.served_at,
        "personalised": bool(reason.get("personalised", True)),
        "sources": list(reason.get("sources") or []),
        "model_version": reason.get("model_version"),
        "params_version": reason.get("params_version"),
        "score": reason.get("score"),
        "replayable": (not reason.get("personalised", True)) or "features" in (reason.get("inputs") or {}),
    }


def list_impressions(s: Session, names: Pseudonyms, *, limit: int = 50, before: int | None = None) -> dict[str, Any]:
    """Logged impressions, newest first; `next_before` pages on."""
    limit, before = _page_args(limit, before)
    q = select(FeedImpression).order_by(FeedImpression.id.desc()).limit(limit + 1)
    if before is not None:
        q = q.where(FeedImpression.id < before)
    rows = list(s.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [impression_summary(r, names) for r in rows],
        "next_before": rows[-1].id if more and rows else None,
    }


def get_impression(s: Session, impression_id: int) -> FeedImpression:
    """One logged impression, or NotFound."""
    row = s.get(FeedImpression, impression_id)
    if row is None:
        raise NotFound(f"no impression {impression_id}")
    return row


# -- the model registry ------------------------------------------------------------------------------------
SignatureCheck = Callable[[str, dict[str, Any]], str]
"""How a version's signature is judged: (version, manifest) -> 'verified' or why not."""


def manifest_signature(version: str, manifest: dict[str, Any]) -> str:
    """Without the region's keys at hand: whether the manifest carries a signature block at all."""
    return "signed (not checked)" if isinstance(manifest.get("signature"), dict) else "unsigned"


def model_card(manifest: dict[str, Any], version: str, *, current: str | None, signature: str) -> dict[str, Any]:
    """What the overseer is shown of one model version: data, config, metrics, parent, signature."""
    lineage: dict[str, Any] = dict(manifest.get("lineage") or {})
    events: dict[str, Any] = dict(lineage.get("events") or {})
    data_range = manifest.get("data_range") or [manifest.get("data_from"), manifest.get("data_to")]
    parent = lineage.get("parent_version") or manifest.get("parent_version")
    return {
        "version": version,
        "current": version == current,
        "region": manifest.get("region"),
        "trained_at": manifest.get("trained_at"),
        "code_version": lineage.get("code_version") or manifest.get("code_version"),
        "code_sha256": lineage.get("code_sha256"),
        "training_data": {
            "from": events.get("data_from", data_range[0] if len(data_range) > 0 else None),
            "to": events.get("data_to", data_range[1] if len(data_range) > 1 else None),
            "events": events.get("count", manifest.get("events", manifest.get("training_events"))),
            "first_seq": events.get("first_seq"),
            "last_seq": events.get("last_seq"),
            "events_merkle_root": events.get("merkle_root"),
            "events_sha256": manifest.get("events_sha256"),
            "users": manifest.get("users"),
            "items": manifest.get("items"),
        },
        "config": manifest.get("config") or {},
        "config_sha256": lineage.get("config_sha256"),
        "params_sha256": lineage.get("params_sha256"),
        "features": manifest.get("features") or [],
        "metrics": lineage.get("metrics") or manifest.get("metrics") or {},
        "parent": parent,
        "parent_registry_version": str(parent).split("+", 1)[0] if parent else None,
        "signature": signature,
        "files": manifest.get("files") or {},
    }


def list_models(registry: ModelRegistry, check: SignatureCheck = manifest_signature) -> list[dict[str, Any]]:
    """Every version in the registry, newest first, as model cards."""
    current = registry.current()
    cards = [
        model_card(manifest, version, current=current, signature=check(version, manifest))
        for version, manifest in registry.manifests()
    ]
    return sorted(cards, key=lambda c: float(c["trained_at"] or 0.0), reverse=True)


def _parent_of(manifest: dict[str, Any] | None) -> str:
    m = manifest or {}
    return str((m.get("lineage") or {}).get("parent_version") or m.get("parent_version") or "").split("+", 1)[0]


def lineage(registry: ModelRegistry, version: str, limit: int = 50) -> list[str]:
    """The chain of parents from `version` back to the first (or to one not in the registry)."""
    chain = [version]
    while len(chain) < limit:
        parent = _parent_of(registry.manifest_or_none(chain[-1]))
        if not parent or parent in chain:
            break
        chain.append(parent)
        if not registry.has_version(parent):
            break
    return chain


def get_model(registry: ModelRegistry, version: str, check: SignatureCheck = manifest_signature) -> dict[str, Any]:
    """One version's model card with its lineage; NotFound when it is not in the registry."""
    registry.version_dir(version)  # NotFound for a name that would leave the registry
    manifest = registry.manifest_or_none(version)
    if manifest is None:
        raise NotFound(f"no model version {version!r} in this region's registry")
    card = model_card(manifest, version, current=registry.current(), signature=check(version, manifest))
    card["lineage"] = [{"version": v, "in_registry": registry.has_version(v)} for v in lineage(registry, version)]
    return card


# -- the audit log -----------------------------------------------------------------------------------------
_TOKEN = re.compile(r"[^\s:,;/@\"'()\[\]{}]+")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _strings(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _strings(v)]
    return []


def scrub_people(s: Session, values: list[Any], names: Pseudonyms) -> list[Any]:
    """The values with every raw user id or username in them replaced by the user's pseudonym.

    Entries written by other features may name an account by its id or username (e.g. `account:<id>`); the
    overseer is shown the pseudonym instead. Only tokens that really are a user's id or username are replaced.
    """
    tokens = {t for text in _strings(values) for t in _TOKEN.findall(text)}
    if not tokens:
        return values
    found: dict[str, str] = {}
    ordered = sorted(tokens)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i : i + 500]
        lowered = [t.lower() for t in chunk]
        rows = s.execute(
            select(User.id, User.username_key).where(or_(User.id.in_(chunk), User.username_key.in_(lowered)))
        )
        for uid, key in rows:
            found[uid] = found[key] = names.of(uid) or ""

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            return _TOKEN.sub(lambda m: found.get(m.group(0), found.get(m.group(0).lower(), m.group(0))), value)
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [fix(v) for v in value]
        return value

    return [fix(v) for v in values] if found else values


def _view_checkpoint(s: Session) -> dict[str, Any] | None:
    # The newest signed tree head in the short form the audit view shows (None before the first checkpoint).
    # The exchange form, which a verifier checks, is `queries.audit.latest_checkpoint`.
    row = s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)).first()
    if row is None:
        return None
    return {"size": row.size, "root": row.root, "ts": row.ts, "key_id": row.key_id, "signature": row.signature}


def audit_view(s: Session, names: Pseudonyms, *, start: int = 0, limit: int = 50) -> dict[str, Any]:
    """Entries from `start` with each one's inclusion proof against the newest checkpoint (or the whole log)."""
    if not 1 <= limit <= MAX_PAGE or start < 0:
        raise Invalid(f"need start >= 0 and 1 <= limit <= {MAX_PAGE}", code="bad_range")
    checkpoint = _view_checkpoint(s)
    size = log_size(s)
    tree_size = int(checkpoint["size"]) if checkpoint else size
    leaves = stored_leaves(s, tree_size)
    tree_root = merkle.root(leaves).hex()
    entries = []
    for record in read_records(s, start=start, limit=limit):
        entry = record.to_json()
        entry["leaf_ok"] = record.computed_leaf().hex() == record.leaf_hash
        # Staff accounts are people too: the acting account is shown by pseudonym (the leaf hash covers the raw
        # entry, so `leaf_ok` above is computed before this and the inclusion proof below uses the stored leaf).
        entry["actor_id"] = names.of(record.actor_id)
        entry["subject"], entry["detail"] = scrub_people(s, [record.subject, record.detail], names)
        if record.index < len(leaves):
            proof = merkle.inclusion_proof(leaves, record.index, len(leaves))
            entry["proof"] = {"tree_size": len(leaves), "path": [p.hex() for p in proof]}
            entry["proof_ok"] = merkle.verify_inclusion(
                bytes.fromhex(record.leaf_hash), record.index, len(leaves), proof, bytes.fromhex(tree_root)
            )
        else:
            entry["proof"] = None  # appended after the newest checkpoint: provable once the next one is signed
            entry["proof_ok"] = None
        entries.append(entry)
    return {
        "size": size,
        "checkpoint": checkpoint,
        "tree_size": tree_size,
        "tree_root": tree_root,
        "checkpoint_matches": checkpoint is None or checkpoint["root"] == tree_root,
        "entries": entries,
        "next_start": start + len(entries) if start + len(entries) < size else None,
    }
