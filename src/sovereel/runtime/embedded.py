"""`sovereel serve --processes N`: the embedded default on every core of one machine, with no server to install.

The layout of `sovereel up`, on SQLite and a local folder, with the local bus (`events.bus.local`) in place of
NATS and Redis:
- one hub process (`sovereel hub`): the local bus hub and the region's hot state, the online learner (it alone
  learns from every event and broadcasts `foryou.delta`, as `sovereel learner` does), the outbox relay (the only
  one), the analytics fold, the media worker threads, the scheduled trainer and the exchange puller;
- N API processes (uvicorn on one port, each with a listening socket of its own: `api.worker`): they serve pages,
  write outbox rows, and follow the hub's deltas (`learner_process`) instead of learning.
Both are children of a `runtime.supervisor.Supervisor`, which restarts one that dies and stops them on Ctrl-C.
`--processes 1` is the single process of the embedded default, unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from sovereel.events.bus.local import LocalBusHub, socket_path
from sovereel.runtime.supervisor import Child, Supervisor, api_children, port_taken, prepare_metrics_dir
from sovereel.settings import Settings

log = logging.getLogger(__name__)
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
ATTACH_GRACE_S = 1.0  # a restarted hub waits this long for the API processes to reconnect before relaying


def bus_socket(settings: Settings) -> Path:
    """Where the region's hub listens: under its data folder, or in the temp folder when that path is too long."""
    path = (settings.region_dir / "run" / "bus.sock").resolve()
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"sovereel-{digest}.sock"


def plan_embedded(
    settings: Settings, *, host: str, port: int, processes: int, run_workers: bool, base_env: dict[str, str]
) -> list[Child]:
    """The hub and the API processes of `serve --processes N`, with the environment each gets."""
    py = sys.executable
    url = f"local://{bus_socket(settings)}"
    env = {
        **base_env,
        "SOVEREEL_DATA_DIR": str(settings.data_dir),
        "SOVEREEL_REGION": settings.region,
        "SOVEREEL_BUS_URL": url,
        "SOVEREEL_HOT_STATE_URL": url,
    }
    hub_env = {**env, "SOVEREEL_RUN_RELAY": "true", "SOVEREEL_RUN_WORKERS": str(run_workers).lower()}
    api_env = {
        **env,
        "SOVEREEL_RUN_RELAY": "false",  # the hub relays: API processes only write outbox rows and wake it
        "SOVEREEL_RUN_WORKERS": "false",  # the media worker threads run in the hub
        "SOVEREEL_TRAIN_EVERY_S": "0",  # the hub trains on schedule; API processes swap in what it publishes
        # They follow the hub's learner instead of learning themselves, and leave the analytics fold to it.
        "SOVEREEL_LEARNER_PROCESS": "true",
    }
    return [Child("hub", [py, "-m", "sovereel.cli", "hub"], hub_env), *api_children(py, host, port, processes, api_env)]


def serve_processes(settings: Settings, *, host: str, port: int, processes: int) -> int:
    """Migrate once, then start and supervise the hub and `processes` API processes."""
    from sovereel.storage.db import open_region_db

    taken = port_taken(host, port)
    if taken:
        print(f"sovereel serve: {taken}", file=sys.stderr)
        return 2
    open_region_db(settings).dispose()  # migrate once, before several processes start at the same moment
    env = dict(os.environ)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(prepare_metrics_dir(settings))  # /metrics sums every process
    children = plan_embedded(
        settings, host=host, port=port, processes=processes, run_workers=settings.run_workers, base_env=env
    )
    log.info("region %s: %d API processes on http://%s:%d and a hub process", settings.region, processes, host, port)
    return Supervisor(children).run()


def run_hub(settings: Settings, stop: threading.Event, interval_s: float = 0.15) -> None:
    """The hub process: serve the local bus, learn and fold analytics (`LearnerProcess`), relay, transcode,
    until `stop` is set."""
    # Imported here: the supervisor (`serve_processes`) imports this module and should not load the recommender.
    from sovereel.events.relay import OutboxRelay
    from sovereel.runtime.processes import LearnerProcess
    from sovereel.runtime.region import RegionRuntime
    from sovereel.storage.blobs.interface import open_blob_store

    hub = LocalBusHub(socket_path(settings.bus_url))  # first: the API processes attach while the learner loads
    try:
        learning = LearnerProcess(settings, bus=hub, train_every_s=settings.train_every_s)
    except BaseException:
        hub.close()
        raise
    db = learning.db  # the learner process also folds the region's analytics, once
    rt = RegionRuntime(
        settings=settings,
        db=db,
        blobs=open_blob_store(settings.effective_media_url),
        bus=hub,
        relay=OutboxRelay(db, hub),
        learner=learning.learner,
        hot=hub.hot,
    )
    hub.on_wake = rt.relay.notify
    time.sleep(ATTACH_GRACE_S)  # the outbox waits meanwhile; processes that were attached before come back
    rt.start_background(watch_models=False)  # the learner watches (and trains) already
    log.info("hub for region %s serving %s (%d processes attached)", settings.region, hub.path, hub.peers())
    learning.publish_until(stop, interval_s)
    rt.stop_background()  # no more events: the relay, the media threads and the impression writer stop first
    learning.shutdown(interval_s)  # then the last delta, the bus, the learner and the store
