"""The region's model registry on disk, and the verdict on serving a version from it.

`ModelRegistry` is the only code that knows the layout under a region's folder:

- `models/<version>/`: one trained version, as `feed.model_io` writes it (model.safetensors, ids.json,
  manifest.json); a version imported under licence also has `licence.json`. Folder names are checked, so no
  name leaves the registry.
- `models/CURRENT`: the version serving processes load, replaced atomically (readers see the old or the new).
- `params/<params version>.json`: every ranking parameter set that ever served, kept so that impressions
  ranked with it stay replayable.

File formats are fixed: manifests are signed (`governance.manifest`) and replay reads archived parameter sets
by hash, so every write here keeps the bytes it always wrote. The audit entries that go with signing, promoting,
refusing and exporting are written by `sovereel.actions.models`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from sovereel.errors import Conflict, Forbidden, NotFound
from sovereel.governance.manifest import Verdict, load_verdict, refuse, sign_manifest
from sovereel.governance.signing import RegionKeys
from sovereel.storage.db import RegionDB
from sovereel.storage.models import ExportLicence

if TYPE_CHECKING:
    from sovereel.feed.model import FeedModel
    from sovereel.feed.params import Params

MODELS = "models"
CURRENT = "CURRENT"
MANIFEST = "manifest.json"  # written by feed.model_io.save_model, which owns the files inside a version folder
LICENCE = "licence.json"
PARAMS = "params"


class ModelRefused(Forbidden):
    """Serving (or exporting) a model version was refused; `verdict` says why."""

    code = "model_refused"

    def __init__(self, version: str, verdict: Verdict) -> None:
        super().__init__(f"model {version} refused ({verdict.code}): {verdict.reason}")
        self.version = version
        self.verdict = verdict


def _valid_name(version: str) -> bool:
    return bool(version) and "/" not in version and "\\" not in version and not version.startswith(".")


class ModelRegistry:
    """The model versions, the CURRENT pointer and the parameter archive of one region's folder."""

    def __init__(self, region_dir: Path) -> None:
        self.region_dir = region_dir
        self.root = region_dir / MODELS

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.region_dir)!r})"

    # -- versions -------------------------------------------------------------------------------------------
    def version_dir(self, version: str) -> Path:
        """A version's folder; refuses names that would leave the registry."""
        if not _valid_name(version):
            raise NotFound(f"no model version {version!r}")
        return self.root / version

    def has_version(self, version: str) -> bool:
        """Whether the registry holds `version` (its folder has a manifest)."""
        return _valid_name(version) and (self.root / version / MANIFEST).is_file()

    def version_names(self) -> list[str]:
        """The names of the version folders that hold a manifest, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / MANIFEST).is_file())

    def manifest(self, version: str) -> dict[str, Any]:
        """The parsed manifest.json of a version (NotFound when absent or unreadable)."""
        path = self.version_dir(version) / MANIFEST
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise NotFound(f"no model version at {path.parent}") from exc
        except (OSError, ValueError) as exc:
            raise NotFound(f"{path} is not readable JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise NotFound(f"{path} is not a JSON object")
        return data

    def manifest_or_none(self, version: str) -> dict[str, Any] | None:
        """The parsed manifest of a version, or None when it is absent or unreadable."""
        try:
            return self.manifest(version)
        except NotFound:
            return None

    def manifests(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(version, manifest) for every readable version, by name."""
        for version in self.version_names():
            manifest = self.manifest_or_none(version)
            if manifest is not None:
                yield version, manifest

    def write_manifest(self, version: str, manifest: dict[str, Any]) -> None:
        """Replace a version's manifest.json atomically."""
        directory = self.version_dir(version)
        tmp = directory / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        os.replace(tmp, directory / MANIFEST)

    def file_digests(self, version: str, manifest: dict[str, Any]) -> dict[str, str | None]:
        """SHA-256 of every file the manifest lists (None for a missing one)."""
        directory = self.version_dir(version)
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

    def sign_version(self, version: str, keys: RegionKeys, lineage: dict[str, Any]) -> dict[str, Any]:
        """Add the lineage block to a freshly saved version's manifest and sign it; returns the signed manifest."""
        manifest = self.manifest(version)
        manifest["lineage"] = lineage
        manifest["region"] = keys.region
        signed = sign_manifest(manifest, keys)
        self.write_manifest(version, signed)
        return signed

    def save(self, model: FeedModel) -> Path:
        """Write a trained model as the version folder of its version id; returns the folder."""
        target = self.version_dir(model.version)
        model.save(target)
        return target

    def load(self, version: str) -> FeedModel:
        """Load a version (its files are checked against its manifest's digests)."""
        from sovereel.feed.model import FeedModel  # torch: only for the processes that load models

        return FeedModel.load(self.version_dir(version))

    def trained_until(self, version: str) -> float:
        """The newest event time `version` was trained on (0 for an untrained model or an unknown version)."""
        manifest = self.manifest_or_none(version) if self.has_version(version) else None
        return float((manifest or {}).get("data_to") or 0.0)

    def trained_log_size(self) -> int:
        """The event log size the current version was trained at (0 with no version, or one from before it was kept)."""
        version = self.current()
        manifest = self.manifest_or_none(version) if version is not None else None
        return int((manifest or {}).get("event_log_size") or 0)

    def write_licence(self, version: str, record: dict[str, Any]) -> None:
        """Record the licence an imported version came under, beside it."""
        (self.version_dir(version) / LICENCE).write_text(json.dumps(record, indent=2, sort_keys=True))

    def copy_from(self, source: ModelRegistry, version: str) -> Path:
        """Copy a version folder from another registry (through a temporary folder, so a half copy is never seen)."""
        src, dest = source.version_dir(version), self.version_dir(version)
        if dest.exists():
            if (dest / MANIFEST).read_bytes() != (src / MANIFEST).read_bytes():
                raise Conflict(f"{dest} already holds a different model with this version id", code="version_clash")
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
        os.replace(tmp, dest)
        return dest

    # -- the CURRENT pointer --------------------------------------------------------------------------------
    def current(self) -> str | None:
        """The version serving processes load, or None before the first is published."""
        pointer = self.root / CURRENT
        return pointer.read_text().strip() if pointer.is_file() else None

    def set_current(self, version: str) -> None:
        """Point CURRENT at `version` (atomic: readers see the old or the new one)."""
        pointer = self.root / CURRENT
        tmp = pointer.with_suffix(".tmp")
        tmp.write_text(version)
        os.replace(tmp, pointer)

    # -- the parameter archive ------------------------------------------------------------------------------
    def params_path(self, params_version: str) -> Path:
        """Where the parameter set `params_version` is archived (NotFound for a name that is not a version)."""
        if not params_version.isalnum():
            raise NotFound(f"no parameter set {params_version!r}")
        return self.region_dir / PARAMS / f"{params_version}.json"

    def archive_params(self, params: Params) -> Path:
        """Keep a serving parameter set by its version (idempotent), so impressions ranked with it stay replayable."""
        from sovereel.feed.params import canonical_json

        target = self.params_path(params.version)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_text(canonical_json(params.to_dict()), encoding="utf-8")
            tmp.replace(target)
        return target

    def archived_params(self, params_version: str) -> dict[str, Any] | None:
        """The archived parameter set as stored (None when it is not in the archive)."""
        path = self.params_path(params_version)
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None


# -- the verdict on a version -----------------------------------------------------------------------------
def licences_here(db: RegionDB, source_region: str) -> dict[str, str]:
    """Licences recorded in this region's store for versions coming from `source_region`: {id: version}."""
    with db.session() as s:
        rows = s.execute(
            select(ExportLicence.id, ExportLicence.model_version).where(
                ExportLicence.source_region == source_region, ExportLicence.dest_region == db.region
            )
        )
        return {str(i): str(v) for i, v in rows}


def check_version(db: RegionDB, registry: ModelRegistry, version: str, keys: RegionKeys) -> Verdict:
    """The verdict on serving `version` from this region's registry (signature, files, region, licence)."""
    registry.version_dir(version)  # NotFound for a name that would leave the registry
    try:
        manifest = registry.manifest(version)
    except NotFound as exc:
        return refuse("unreadable", exc.message)
    if str(manifest.get("version") or "") != version:
        return refuse("tampered", f"the folder {version} holds a manifest for {manifest.get('version')!r}")
    source = str(manifest.get("region") or "")
    licences = licences_here(db, source) if source and source != keys.region else {}
    return load_verdict(manifest, registry.file_digests(version, manifest), keys, licence_for=licences)
