"""The processes of the scaled layout besides the API: the outbox relay, the learner and the trainer.

- `run_relay`: the only process that reads the outbox and publishes to the bus, so API processes only write
  outbox rows in their transactions. Several relays may run (a spare for failover): JetStream drops the
  copies a second relay publishes, by message id.
- `run_learner`: the region's one online learner. It consumes the region's events once, through a durable
  consumer (a restart resumes where it stopped; what it had replayed from the database is not applied twice),
  and broadcasts what serving needs every `interval_s` (`foryou.delta`); API processes run with
  `learner_process` on and apply that instead of each learning from every event. It also folds the creator
  analytics (`runtime.analytics`), which those API processes then leave alone: one fold per region.
- `run_trainer`: trains a full For You version on schedule when enough new events came (the one rule,
  `foryou.training.train_if_due`), and publishes it by moving the registry's CURRENT pointer; every serving
  process polls the pointer (`Learner.watch_registry`) and swaps the new version in without a restart.
"""

from __future__ import annotations

import logging
import threading
import time

from sovereel.events.bus.interface import Bus, open_bus
from sovereel.events.relay import OutboxRelay
from sovereel.foryou.delta import DeltaPublisher
from sovereel.foryou.learner import Learner
from sovereel.foryou.training import train_if_due
from sovereel.governance.model_registry import ModelRegistry
from sovereel.governance.signing import region_keys
from sovereel.runtime.analytics import AnalyticsConsumer
from sovereel.runtime.consumers import connect
from sovereel.runtime.threads import one_blas_thread
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


LEARNER_CONSUMER = "learner"  # the durable consumer's name when SOVEREEL_BUS_CONSUMER is empty


class LearnerProcess:
    """The region's one online learner, as a process of the scaled layout (see the module docstring)."""

    def __init__(self, settings: Settings, *, bus: Bus | None = None, train_every_s: float = 0.0) -> None:
        """`bus`: one already open (the hub process's local bus) instead of the one the settings name;
        `train_every_s` > 0: also train on that schedule (the hub process; the scaled layout has a trainer)."""
        if settings.bus_url == "memory://":
            raise SystemExit(
                "`sovereel learner` serves other processes over a shared bus: set SOVEREEL_BUS_URL=nats://…"
            )
        one_blas_thread()  # online steps are small products: no spinning BLAS workers (runtime.threads)
        self.db = open_region_db(settings)
        consumer = settings.bus_consumer or LEARNER_CONSUMER
        self.bus = bus or open_bus(settings.bus_url, region=settings.region, consumer=consumer)
        self.learner = Learner(self.db, settings.region_dir, region_keys(settings), serving=False)
        self.learner.bootstrap()
        self.publisher = DeltaPublisher(self.learner, self.bus)
        connect(self.bus, "learner", self.learner.on_message)
        # The region's analytics fold runs here, once, not in each API process (each would read every batch only
        # to find it folded already): its own durable consumers, so a fold that fails is redelivered.
        connect(self.bus, "analytics", AnalyticsConsumer(self.db))
        # New versions are swapped in here too; the rows their replay touched ship.
        self.learner.watch_registry(train_every_s=train_every_s)
        log.info("learner for region %s listening through consumer %r", settings.region, consumer)

    def run(self, stop: threading.Event, interval_s: float = 0.15) -> None:
        """Broadcast deltas, at most one every `interval_s`, until `stop` is set; then stop cleanly and close."""
        self.publish_until(stop, interval_s)
        self.shutdown(interval_s)

    def publish_until(self, stop: threading.Event, interval_s: float = 0.15) -> None:
        """Broadcast deltas, at most one every `interval_s`, until `stop` is set."""
        # The first delta ships what the start-up replay touched: the servers replayed the same log, so it only
        # settles differences between the moments each one read it. An event after a quiet spell goes out at
        # once (a like shows on the next page); under load the deltas come every `interval_s`, each carrying many
        # events, so a server's cost per event stays low.
        sent_at = 0.0
        while not stop.is_set():
            self.publisher.waiting.wait(interval_s)  # woken by the first op; rows alone (a swap) wait a tick
            stop.wait(max(0.0, sent_at + interval_s - time.monotonic()))
            sent_at = time.monotonic()
            try:
                self.publisher.flush()
            except Exception:
                log.exception("publishing a For You delta failed")

    def shutdown(self, interval_s: float = 0.15) -> None:
        """Stop taking events, ship what was applied, and close the bus, the learner and the store."""
        # Stop taking events (held ones are redelivered to the next learner), then ship what was applied: every
        # event this learner acknowledged reaches the servers.
        self.learner.hold()
        time.sleep(interval_s)  # a handler already running finishes
        self.publisher.flush()
        self.bus.close()  # the durable consumer keeps its position: unacknowledged events come again after a restart
        self.learner.stop()
        self.db.dispose()


def run_learner(settings: Settings, stop: threading.Event, interval_s: float = 0.15) -> None:
    """Learn from the region's events and broadcast deltas until `stop` is set."""
    LearnerProcess(settings).run(stop, interval_s)


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
