"""A local bus hub (`events.bus.local`) on a short socket path, for the bus and hot-state suites."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sovereel.events.bus.local import LocalBusHub


@contextmanager
def local_hub() -> Iterator[LocalBusHub]:
    """A hub listening in a fresh folder under the temp dir (a Unix socket path must stay under 108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="sovereel-bus-"))
    hub = LocalBusHub(folder / "bus.sock")
    try:
        yield hub
    finally:
        hub.close()
        shutil.rmtree(folder, ignore_errors=True)
