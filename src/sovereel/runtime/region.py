"""Everything a process serving one region holds: its stores, bus, relay, workers and recommender.

Built by `open_runtime(settings)` and handed to the app through its lifespan state, never imported as a global.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sovereel.events.bus.interface import Bus, open_bus
from sovereel.events.bus.local import LocalBusClient
from sovereel.events.relay import OutboxRelay
from sovereel.foryou.impression_writer import ImpressionWriter
from sovereel.foryou.learner import Learner
from sovereel.foryou.replica import DeltaReplica
from sovereel.governance.signing import region_keys
from sovereel.hotstate.interface import HotState, open_hot_state
from sovereel.runtime.analytics import AnalyticsConsumer
from sovereel.runtime.consumers import connect
from sovereel.runtime.event_writer import EventWriter
from sovereel.runtime.inbox_hub import InboxHub
from sovereel.runtime.threads import one_blas_thread
from sovereel.settings import Settings
from sovereel.storage.blobs.interface import BlobStore, open_blob_store
from sovereel.storage.db import RegionDB, open_region_db

log = logging.getLogger(__name__)


@dataclass
class RegionRuntime:
    settings: Settings
    db: RegionDB
    blobs: BlobStore
    bus: Bus
    relay: OutboxRelay
    learner: Learner
    replica: DeltaReplica | None = None  # the split layout: follows the region's learner process
    background: list[object] = field(default_factory=list)
    hot: HotState = field(default_factory=lambda: open_hot_state("memory://"))
    inbox: InboxHub = field(default_factory=InboxHub)  # this process's open inbox streams, woken from the bus
    impressions: ImpressionWriter = field(init=False)  # For You pages queue what they served here
    events: EventWriter = field(init=False)  # the event endpoint's batches, grouped on SQLite

    def __post_init__(self) -> None:
        self.impressions = ImpressionWriter(self.db)
        self.events = EventWriter(self.db, self.settings.secret_key)

    @property
    def region(self) -> str:
        return self.settings.region

    def wake(self) -> None:
        """Tell the relay that new outbox rows were committed (the hub's, when another process relays)."""
        self.relay.notify()
        if isinstance(self.bus, LocalBusClient):
            self.bus.wake()

    def start_background(self, *, watch_models: bool = True) -> None:
        """Start the outbox relay, the impression writer and (embedded layout) the media worker threads.

        `watch_models=False`: the learner's model watch is started by its owner (the hub process)."""
        from sovereel.runtime.media_worker import MediaWorker

        self.impressions.start()
        if self.settings.run_relay:
            self.relay.start()
        if watch_models:
            self.learner.watch_registry(train_every_s=self.settings.train_every_s)
        if self.settings.run_workers:
            worker = MediaWorker(self)
            worker.start()
            self.background.append(worker)
        self._start_exchange()

    def _start_exchange(self) -> None:
        """Pull other regions' public videos on a schedule (only when the deployment has several regions)."""
        from sovereel.governance.regions import peer_urls
        from sovereel.runtime.exchange_puller import ExchangePuller

        peers = peer_urls(self.settings)
        if peers and self.settings.exchange_every_s > 0:
            puller = ExchangePuller(self, peers, self.settings.exchange_every_s)
            puller.start()
            self.background.append(puller)

    def stop_background(self) -> None:
        """Stop the workers, the relay and the impression writer (what `start_background` started)."""
        for item in self.background:
            stop = getattr(item, "stop", None)
            if stop:
                stop()
        self.background = []
        self.relay.stop()
        self.impressions.stop()  # writes what is still queued

    def close(self) -> None:
        self.stop_background()
        self.learner.stop()
        self.bus.close()
        self.hot.close()
        self.db.dispose()


def open_runtime(
    settings: Settings, *, migrate: bool = True, db_schema: str | None = None, bus: Bus | None = None
) -> RegionRuntime:
    """Open one region's stores (migrating the schema unless told not to).

    `bus`: an already open bus to share (several runtimes in one process standing for several API processes,
    as tests do); by default the one `settings.bus_url` names is opened."""
    one_blas_thread()  # serving: a page's small products on its own thread (runtime.threads)
    db = open_region_db(settings, migrate=migrate, schema=db_schema)
    if bus is None:
        bus = open_bus(settings.bus_url, region=settings.region, consumer=settings.bus_consumer)
    learner = Learner(db, settings.region_dir, region_keys(settings))
    learner.bootstrap()
    replica = None
    if settings.learner_process:  # one learner per region learns; this process applies what it publishes
        replica = DeltaReplica(learner)
        connect(bus, "feed_replica", replica.on_message)
        # and the learner process folds the creator analytics, once per region (`runtime.processes`)
    else:
        connect(bus, "learner", learner.on_message)
        connect(bus, "analytics", AnalyticsConsumer(db))
    inbox = InboxHub()
    connect(bus, "inbox", inbox.on_message)
    return RegionRuntime(
        settings=settings,
        db=db,
        blobs=open_blob_store(settings.effective_media_url),
        bus=bus,
        relay=OutboxRelay(db, bus),
        learner=learner,
        replica=replica,
        hot=open_hot_state(settings.hot_state_url, region=settings.region),
        inbox=inbox,
    )
