"""The processes of the scaled layout besides the API: the outbox relay and the trainer.

- `run_relay`: the only process that reads the outbox and publishes to the bus, so API processes only write
  outbox rows in their transactions. Several relays may run (a spare for failover): JetStream drops the
  copies a second relay publishes, by message id.
- `run_trainer`: trains a full For You version on schedule when enough new events came (the one rule,
  `foryou.training.train_if_due`), and publishes it by moving the registry's CURRENT pointer; every serving
  process polls the pointer (`Learner.watch_registry`) and swaps the new version in without a restart.
"""

from __future__ import annotations

import logging
import threading
import time

from sovereel.events.bus.interface import open_bus
from sovereel.events.relay import OutboxRelay
from sovereel.foryou.training import train_if_due
from sovereel.governance.model_registry import ModelRegistry
from sovereel.settings import Settings
from sovereel.storage.db import open_region_db

log = logging.getLogger(__name__)


def run_relay(settings: Settings, stop: threading.Event, interval_s: float = 0.1) -> None:
    """Relay the region's outbox to its bus until `stop` is set."""
    if settings.bus_url == "memory://":
        raise SystemExit("`sovereel relay` publishes to a shared bus: set SOVEREEL_BUS_URL=nats://host:4222")
    db = open_region_db(settings)
    bus = open_bus(settings.bus_url, region=settings.region, consumer=settings.bus_consumer)
    relay = OutboxRelay(db, bus, interval_s=interval_s)
    relay.start()
    log.info("relaying region %s's outbox to %s every %.2fs", settings.region, settings.bus_url, interval_s)
    stop.wait()
    relay.stop()
    bus.close()
    db.dispose()


def run_trainer(settings: Settings, stop: threading.Event, every_s: float, min_new_events: int = 100) -> None:
    """Train on schedule until `stop` is set (the first check runs at once)."""
    db = open_region_db(settings)
    trained_at = ModelRegistry(settings.region_dir).trained_log_size()  # resumes from what the published one learnt
    log.info("trainer for region %s: every %.0fs when %d+ new events came", settings.region, every_s, min_new_events)
    next_at = time.monotonic()
    while not stop.is_set():
        if time.monotonic() >= next_at:
            trained_at = train_if_due(db, settings.region_dir, trained_at, min_new_events)
            next_at = time.monotonic() + every_s
        stop.wait(min(1.0, max(0.0, next_at - time.monotonic())))
    db.dispose()
