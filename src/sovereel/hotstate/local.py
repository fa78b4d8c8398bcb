"""Hot state kept by the local bus hub (`local:///path/bus.sock`): `serve --processes N` on one machine.

The hub process answers every call from its memory (`events.bus.local.LocalBusHub.answer_hot`), so the API
processes share one set of rate-limit windows and one session-lookup cache: a sign-out seen by one process is
seen by all, and a limit is not multiplied by the number of processes.

When the hub cannot be reached (it is restarting), a call answers as an empty hot state would — nothing
cached, a first hit, no member — which is what the restarted hub holds anyway: requests go on, session lookups
fall through to the database, and no rate limit counts until it is back.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any, BinaryIO

from sovereel.events.bus.local import socket_path
from sovereel.events.bus.wire import read_frame, send_frame

log = logging.getLogger(__name__)
TIMEOUT_S = 3.0
WARN_EVERY_S = 30.0


class LocalHotState:
    """A pool of connections to the hub, one request at a time on each."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = socket_path(url)
        self._lock = threading.Lock()
        self._pool: list[tuple[socket.socket, BinaryIO]] = []
        self._warned_at = 0.0

    def _connection(self) -> tuple[socket.socket, BinaryIO]:
        with self._lock:
            if self._pool:
                return self._pool.pop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT_S)
        try:
            sock.connect(str(self.path))
        except OSError:
            sock.close()
            raise
        return sock, sock.makefile("rb")

    def _call(self, fn: str, args: list[Any], default: Any) -> Any:
        try:
            sock, reader = self._connection()
        except OSError as exc:
            return self._unreachable(fn, exc, default)
        try:
            send_frame(sock, {"op": "hot", "fn": fn, "a": args})
            reply = read_frame(reader)
            if reply is None or "r" not in reply:
                raise ValueError(str(reply.get("e") if reply else "the hub closed the connection"))
        except (OSError, ValueError) as exc:
            sock.close()
            return self._unreachable(fn, exc, default)
        with self._lock:
            self._pool.append((sock, reader))
        return reply["r"]

    def _unreachable(self, fn: str, exc: Exception, default: Any) -> Any:
        now = time.monotonic()
        if now - self._warned_at > WARN_EVERY_S:
            self._warned_at = now
            log.warning("hot state at %s unreachable (%s: %s); answering as empty", self.path, fn, exc)
        return default

    def get(self, key: str) -> str | None:
        value = self._call("get", [key], None)
        return None if value is None else str(value)

    def put(self, key: str, value: str, ttl_s: float | None = None) -> None:
        self._call("put", [key, value, ttl_s], None)

    def delete(self, key: str) -> None:
        self._call("delete", [key], None)

    def hit(self, key: str, window_s: float) -> tuple[int, float]:
        count, reset = self._call("hit", [key, window_s], [1, window_s])
        return int(count), float(reset)

    def add_members(self, key: str, members: Iterable[str], ttl_s: float | None = None) -> None:
        self._call("add_members", [key, list(members), ttl_s], None)

    def has_member(self, key: str, member: str) -> bool:
        return bool(self._call("has_member", [key, member], False))

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, []
        for sock, _reader in pool:
            sock.close()
