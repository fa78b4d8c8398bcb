"""The signed model registry on disk: signing a version directory, and checking one before it is served.

A version lives in `<region dir>/models/<version>/` (model.safetensors, ids.json, manifest.json; a version
imported under licence also has `licence.json`). Reads only; the audit entries that go with signing,
refusing and exporting are written by `sovereel.actions.models`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sovereel.errors import Forbidden, NotFound
from sovereel.governance.manifest import Verdict, load_verdict, refuse, sign_manifest
from sovereel.governance.signing import RegionKeys
from sovereel.storage.db import RegionDB
from sovereel.storage.models import ExportLicence

MANIFEST = "manifest.json"
LICENCE = "licence.json"


class ModelRefused(Forbidden):
    """Serving (or exporting) a model version was refused; `verdict` says why."""

    code = "model_refused"

    def __init__(self, version: str, verdict: Verdict) -> None:
        super().__init__(f"model {version} refused ({verdict.code}): {verdict.reason}")
        self.version = version
        self.verdict = verdict


def models_dir(region_dir: Path) -> Path:
    """The region's model registry folder."""
    return region_dir / "models"


def version_dir(region_dir: Path, version: str) -> Path:
    """A version's folder; refuses names that would leave the registry."""
    if not version or "/" in version or "\\" in version or version.startswith("."):
        raise NotFound(f"no model version {version!r}")
    return models_dir(region_dir) / version


def read_manifest(directory: Path) -> dict[str, Any]:
    """The parsed manifest.json of a version folder (NotFound when absent or unreadable)."""
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise NotFound(f"no model version at {directory}") from exc
    except (OSError, ValueError) as exc:
        raise NotFound(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise NotFound(f"{path} is not a JSON object")
    return data


def file_digests(directory: Path, manifest: dict[str, Any]) -> dict[str, str | None]:
    """SHA-256 of every file the manifest lists (None for a missing one)."""
    out: dict[str, str | None] = {}
    files = manifest.get("files")
    for name in files if isinstance(files, dict) else {}:
        path = directory / str(name)
        if "/" in str(name) or not path.is_file():
            out[str(name)] = None
            continue
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        out[str(name)] = h.hexdigest()
    return out


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Replace manifest.json atomically."""
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, directory / MANIFEST)


def sign_version(directory: Path, keys: RegionKeys, lineage: dict[str, Any]) -> dict[str, Any]:
    """Add the lineage block to a freshly saved version's manifest and sign it; returns the signed manifest."""
    manifest = read_manifest(directory)
    manifest["lineage"] = lineage
    manifest["region"] = keys.region
    signed = sign_manifest(manifest, keys)
    write_manifest(directory, signed)
    return signed


def licences_here(db: RegionDB, source_region: str) -> dict[str, str]:
    """Licences recorded in this region's store for versions coming from `source_region`: {id: version}."""
    with db.session() as s:
        rows = s.execute(
            select(ExportLicence.id, ExportLicence.model_version).where(
                ExportLicence.source_region == source_region, ExportLicence.dest_region == db.region
            )
        )
        return {str(i): str(v) for i, v in rows}


def check_version(db: RegionDB, region_dir: Path, version: str, keys: RegionKeys) -> Verdict:
    """The verdict on serving `version` from this region's registry (signature, files, region, licence)."""
    directory = version_dir(region_dir, version)
    try:
        manifest = read_manifest(directory)
    except NotFound as exc:
        return refuse("unreadable", exc.message)
    if str(manifest.get("version") or "") != version:
        return refuse("tampered", f"the folder {version} holds a manifest for {manifest.get('version')!r}")
    source = str(manifest.get("region") or "")
    licences = licences_here(db, source) if source and source != keys.region else {}
    return load_verdict(manifest, file_digests(directory, manifest), keys, licence_for=licences)
