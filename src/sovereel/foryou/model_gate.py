"""The gate every model version passes before it is served: signed, untampered, this region's or licensed.

A refusal is logged in the audit log once per version and process (a server retrying a refused CURRENT
pointer re-checks it at most every `recheck_s`, so recording a licence later lets it through).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sovereel.actions.models import do_refuse_model
from sovereel.governance.model_registry import ModelRefused, ModelRegistry, check_version
from sovereel.governance.signing import RegionKeys, keys_for_dir
from sovereel.storage.db import RegionDB

log = logging.getLogger(__name__)


class ModelGate:
    """Checks versions for one region's learner and logs each refusal."""

    def __init__(self, db: RegionDB, region_dir: Path, keys: RegionKeys | None = None, recheck_s: float = 60.0) -> None:
        self.db = db
        self.region_dir = region_dir
        self.registry = ModelRegistry(region_dir)
        self.keys = keys or keys_for_dir(db.region, region_dir)
        self.recheck_s = recheck_s
        self._refused: dict[str, float] = {}  # version -> when it was last refused (monotonic)
        self._lock = threading.Lock()

    def admit(self, version: str) -> None:
        """Return when `version` may be served; raise ModelRefused (after logging it) otherwise."""
        verdict = check_version(self.db, self.registry, version, self.keys)
        if verdict.ok:
            with self._lock:
                self._refused.pop(version, None)
            return
        with self._lock:
            first = version not in self._refused
            self._refused[version] = time.monotonic()
        log.warning("refusing model %s: %s (%s)", version, verdict.reason, verdict.code)
        if first:
            try:
                do_refuse_model(self.db, version=version, verdict=verdict)
            except Exception:  # the refusal stands even if the log cannot be written right now
                log.exception("could not log the refusal of model %s", version)
        raise ModelRefused(version, verdict)

    def should_try(self, version: str) -> bool:
        """False while a refused version is inside its re-check interval."""
        with self._lock:
            at = self._refused.get(version)
        return at is None or time.monotonic() - at >= self.recheck_s
