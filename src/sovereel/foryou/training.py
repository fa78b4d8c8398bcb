"""Training For You versions: a full fit from the region's event log, signed, logged and published, and the
one rule that decides when scheduled training is due.

The rule (`train_if_due`), the same for the trainer process (`runtime.processes.run_trainer`) and for a
serving process that trains on its own (`Learner.watch_registry` with `train_every_s`): at each scheduled
check, train when the region's event log (watch events and likes, `readers.event_log_size`) has grown by
`min_new_events` since the size the last version was trained at, or when no version is published yet and
the log is not empty. The log size a version was trained at is kept in its manifest (`event_log_size`), so a
restarted process resumes from the published version (`ModelRegistry.trained_log_size`) rather than from 0.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from sovereel.feed.model import FeedModel
from sovereel.feed.params import default_params
from sovereel.foryou.event_rows import durations_of, model_events
from sovereel.foryou.readers import event_log_size, profile_signals, video_infos
from sovereel.governance.model_registry import ModelRegistry
from sovereel.governance.signing import RegionKeys
from sovereel.storage.db import RegionDB
from sovereel.telemetry import TRAININGS

log = logging.getLogger(__name__)


def train_version(
    db: RegionDB, region_dir: Path, *, epochs: int | None = None, keys: RegionKeys | None = None
) -> tuple[str, dict[str, Any]]:
    """Fit a full model version from the event log, save and sign it, log it and make it current.

    Returns (version, signed manifest). The training set is cut at the log's newest seq before reading,
    so the manifest's lineage (the events' Merkle root) names exactly what was learnt from.
    """
    from sovereel.actions.models import do_publish_version
    from sovereel.governance.lineage import build_lineage, log_cut
    from sovereel.governance.rights import consult_erasures
    from sovereel.governance.signing import keys_for_dir

    registry = ModelRegistry(region_dir)
    keys = keys or keys_for_dir(db.region, region_dir)
    cut_seq, cut_time = log_cut(db)
    log_size = event_log_size(db)  # read with the cut: events arriving during training count for the next one
    started = time.time()
    videos = video_infos(db)
    signals = [
        sig for sig in profile_signals(db, 0.0) if (sig.seq <= cut_seq if sig.seq is not None else sig.at <= cut_time)
    ]
    # Erased accounts' events are gone from the store; the erasure records make sure none slips back in.
    erased, erasures = consult_erasures(db, {sig.user_id for sig in signals})
    signals = [sig for sig in signals if sig.user_id not in erased]
    events = model_events(signals, durations_of(videos))
    parent = registry.current()
    model = FeedModel()
    model.fit(events, videos, epochs=epochs)
    model.manifest.update(
        {
            "region": db.region,
            "trained_at": started,
            "training_events": len(events),
            "data_from": min((e.ts for e in events), default=None),
            "data_to": max((e.ts for e in events), default=None),
            "train_seconds": round(time.time() - started, 2),
            "parent_version": parent,
            "erasures_consulted": erasures,
            "event_log_size": log_size,
        }
    )
    version = model.version
    registry.save(model)
    lineage = build_lineage(
        db,
        cut_seq=cut_seq,
        cut_time=cut_time,
        parent=parent,
        code_version=str(model.manifest.get("code_version") or "unknown"),
        config=model.config.as_dict(),
        params=default_params().to_dict(),
        metrics={"ranker_loss": model.manifest.get("ranker_loss"), **(model.manifest.get("metrics") or {})},
        trained_at=started,
    )
    manifest = do_publish_version(db, region_dir, version, keys, lineage)
    log.info("trained model %s on %d events in %.1fs", version, len(events), time.time() - started)
    return version, manifest


def train_if_due(
    db: RegionDB, region_dir: Path, trained_at_size: int, min_new_events: int, *, keys: RegionKeys | None = None
) -> int:
    """Train and publish a version when the rule above says it is due; returns the log size trained at.

    `trained_at_size` is the size the caller last trained at (start from `ModelRegistry.trained_log_size`). A
    failed training is counted and logged, and the serving version stays.
    """
    size = event_log_size(db)
    registry = ModelRegistry(region_dir)
    if size == 0 or (registry.current() is not None and size - trained_at_size < min_new_events):
        return trained_at_size
    try:
        version, manifest = train_version(db, region_dir, keys=keys)
    except Exception:
        TRAININGS.labels(outcome="failed").inc()
        log.exception("training failed; the serving version stays")
        return trained_at_size
    TRAININGS.labels(outcome="published").inc()
    log.info("published model %s (%s events)", version, manifest.get("training_events"))
    return registry.trained_log_size() or size
