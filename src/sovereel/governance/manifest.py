"""Signed model lineage (pure): the training events' Merkle root, the manifest's signature, and the load verdict.

A version's `manifest.json` (written by feed/model_io.py) gains a `lineage` block and a `signature` block:

- `lineage` {region, parent_version, code_version, code_sha256 (`lineage.source_digest`), config_sha256,
  params_sha256, events: {count, first_seq, last_seq, data_from, data_to, merkle_root}, social: {count,
  sha256, until}, metrics, trained_at}: what exactly the version was trained from, by which code.
  `events.merkle_root` is the RFC 6962 root over the region's event-log rows with seq in
  [first_seq, last_seq] (leaf = `event_leaf_bytes` of a row).
- `signature` {alg: "ed25519", region, key_id, sig}: the region key's signature over the canonical JSON
  of the manifest without its `signature` field. The manifest carries the SHA-256 of the weight files
  (`files`), so the signature vouches for the whole version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sovereel.governance.logcheck import canonical_json
from sovereel.governance.signing import RegionKeys, key_id, verify

ALG = "ed25519"


def event_leaf_bytes(
    seq: int,
    region: str,
    user_id: str,
    kind: str,
    video_id: str,
    client_ts: float,
    received_at: float,
    watched_s: float | None,
) -> bytes:
    """The bytes one event-log row contributes to a training set's Merkle root."""
    return canonical_json(
        {
            "seq": seq,
            "region": region,
            "user_id": user_id,
            "kind": kind,
            "video_id": video_id,
            "client_ts": client_ts,
            "received_at": received_at,
            "watched_s": watched_s,
        }
    )


def sha256_json(value: Any) -> str:
    """SHA-256 of a value's canonical JSON (config and parameter-set hashes)."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def signing_payload(manifest: Mapping[str, Any]) -> bytes:
    """The bytes a manifest's signature covers: its canonical JSON without the `signature` field."""
    return canonical_json({k: v for k, v in manifest.items() if k != "signature"})


def sign_manifest(manifest: Mapping[str, Any], keys: RegionKeys) -> dict[str, Any]:
    """The manifest with a `signature` block by this region's key."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    sig = keys.sign(signing_payload(body))
    return {**body, "signature": {"alg": ALG, "region": keys.region, "key_id": keys.key_id, "sig": sig}}


@dataclass(frozen=True)
class Verdict:
    """Whether a version may be served here, and if not why (`code` is stable, `reason` for people)."""

    ok: bool
    code: str = "ok"
    reason: str = ""
    source_region: str = ""


def refuse(code: str, reason: str, source_region: str = "") -> Verdict:
    return Verdict(ok=False, code=code, reason=reason, source_region=source_region)


def check_signature(manifest: Mapping[str, Any], keys: RegionKeys) -> Verdict:
    """Check the manifest's signature against the key trusted for the region it names."""
    region = str(manifest.get("region") or "")
    sig = manifest.get("signature")
    if not isinstance(sig, dict) or not sig.get("sig"):
        return refuse("unsigned", "the manifest is not signed", region)
    if sig.get("alg") != ALG:
        return refuse("bad_signature", f"unsupported signature algorithm {sig.get('alg')!r}", region)
    if sig.get("region") != region:
        return refuse("bad_signature", f"signed as region {sig.get('region')!r} but names region {region!r}", region)
    public = keys.public_key_for(region)
    if public is None:
        return refuse("untrusted_region", f"no public key is trusted for region {region!r}", region)
    if not verify(public, signing_payload(manifest), str(sig["sig"])):
        expected = key_id(public)
        if sig.get("key_id") != expected:
            why = f"signed by key {sig.get('key_id')}, not region {region!r}'s key {expected}"
        else:
            why = "the manifest was changed after it was signed"
        return refuse("bad_signature", why, region)
    return Verdict(ok=True, source_region=region)


def check_files(manifest: Mapping[str, Any], actual: Mapping[str, str | None]) -> Verdict:
    """Compare the weight files' actual SHA-256 (None: missing) with the digests the manifest records."""
    files = manifest.get("files")
    region = str(manifest.get("region") or "")
    if not isinstance(files, dict) or not files:
        return refuse("tampered", "the manifest lists no file digests", region)
    for name, digest in sorted(files.items()):
        got = actual.get(name)
        if got is None:
            return refuse("tampered", f"{name} is missing", region)
        if got != digest:
            return refuse("tampered", f"{name} does not match its signed digest", region)
    return Verdict(ok=True, source_region=region)


def load_verdict(
    manifest: Mapping[str, Any],
    actual_files: Mapping[str, str | None],
    keys: RegionKeys,
    *,
    licence_for: Mapping[str, str] | None = None,
) -> Verdict:
    """May this region serve the version? Signed, untampered, and its own or licensed for it.

    `licence_for` maps licence ids recorded in this region's store to the model version each licenses
    (only licences whose destination is this region and whose source is the manifest's region).
    """
    version = str(manifest.get("version") or "")
    sig = check_signature(manifest, keys)
    if not sig.ok:
        return sig
    files = check_files(manifest, actual_files)
    if not files.ok:
        return files
    region = sig.source_region
    if region == keys.region:
        return Verdict(ok=True, source_region=region)
    licences = licence_for or {}
    if version in licences.values():
        return Verdict(ok=True, source_region=region)
    if licences:
        others = ", ".join(f"{lic} (for {v})" for lic, v in sorted(licences.items()))
        return refuse(
            "no_licence", f"trained in region {region!r}; recorded licences cover other versions: {others}", region
        )
    return refuse("foreign_model", f"trained in region {region!r} and no export licence is recorded here", region)
