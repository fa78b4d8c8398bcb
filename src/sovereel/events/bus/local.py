"""The event bus between the processes of one machine (`local:///path/bus.sock`): no server to install.

`sovereel serve --processes N` runs one hub process (learner, outbox relay, media worker threads) and N API
processes. The hub process holds a `LocalBusHub`, which listens on a Unix domain socket; every API process opens
a `LocalBusClient` on the same path (`open_bus("local:///…")`). Frames are a 4-byte big-endian length and a
JSON object (`wire.py`).

The delivery contract is the in-process bus's (`memory.py`), stretched over processes:
- `publish` (only the hub process's relay publishes: the outbox in the region's database stays the durable log)
  hands a message to every subscriber whose prefix matches: the hub's own (the learner: after a restart it
  replays the event log from the database, as in the embedded default) and those of every connected process.
  A process gets what is published after it connected, as a per-process NATS consumer gets what came after its
  bus was opened: a subscription made later (an API process subscribes once its start-up replay of the database
  is done) first gets the messages published since its connection, from the hub's recent ones (`RECENT_S`). One
  that was away (the hub restarted) misses what was published meanwhile; the hub's relay waits a moment after it
  starts (`runtime.embedded`) so the API processes are back on before it publishes. Delivery is at least once
  (a message may come twice around a subscription's start): consumers are idempotent, as on NATS.
- `broadcast` / `listen`: live fan-out to every process listening now, the sender included (the learner's
  deltas; `foryou.forget` from the API process that erased an account), never stored.
- Each subscription has its own thread and queue, so handlers run in order and a slow one stalls only itself;
  a handler that raises is logged and the message dropped (no redelivery: consumers read the database anyway).

A client reconnects by itself when the hub goes away and comes back, and sends its subscriptions again. The same
socket also answers hot-state requests (`hotstate/local.py`): the hub keeps the region's rate-limit windows and
session look-ups, so every API process agrees on them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sovereel.events.bus.interface import Handler, Message, batch_of
from sovereel.events.bus.wire import decode_message, encode_message, plain, read_frame, send_frame
from sovereel.events.bus.wire import frame as encode_frame
from sovereel.hotstate.memory import MemoryHotState

log = logging.getLogger(__name__)
RECONNECT_S = 0.1
RECENT_S = 300.0  # how far back a new subscription is caught up (within its connection's life)
RECENT_MAX = 20_000  # and at most this many stored messages kept for that
REGISTER_WAIT_S = 5.0
PUMP_BATCH = 200  # at most this many queued messages to a batching handler at once (the relay's batch)


def socket_path(url: str) -> Path:
    """The socket file a `local:///path/bus.sock` URL names."""
    if not url.startswith("local://") or not url[len("local://") :].startswith("/"):
        raise ValueError(f"a local bus URL names an absolute socket path: local:///path/bus.sock, not {url!r}")
    return Path(url[len("local://") :])


class _Pump:
    """One subscription: its own queue and thread, so its handler sees messages in order and alone."""

    def __init__(self, prefix: str, handler: Handler, name: str) -> None:
        self.prefix = prefix
        self.handler = handler
        self.caught_up = True  # a client's new subscription: False until the hub's catch-up for it has come
        self.registered = threading.Event()  # a client's: set when the hub has it
        self._queue: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, message: Message) -> None:
        self._queue.put(message)

    def _run(self) -> None:
        batch = batch_of(self.handler)
        while (message := self._queue.get()) is not None:
            if batch is None:
                try:
                    self.handler(message)
                except Exception:
                    log.exception("handler for %s failed on message %s", message.topic, message.id)
                continue
            # A handler that takes batches gets what has queued meanwhile in one call (the analytics fold: one
            # write transaction for many messages, instead of each waiting for the region's write turn).
            messages, stop = [message], False
            while len(messages) < PUMP_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                messages.append(more)
            try:
                batch(messages)
            except Exception:
                log.exception("handler for %s failed on messages %s..%s", self.prefix, messages[0].id, messages[-1].id)
            if stop:
                return

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)


class _Peer:
    """A connected process, seen from the hub: what it subscribed to, and a writer thread that sends to it."""

    def __init__(self, conn: socket.socket, hub: LocalBusHub) -> None:
        self.conn = conn
        self.hub = hub
        self.subs: tuple[str, ...] = ()
        self.connected_at = time.time()  # the process's own time of connecting, once it says (its "hello")
        self.listens: tuple[str, ...] = ()
        self._out: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()  # a slow peer delays only itself
        self._write = threading.Lock()

    def start(self) -> None:
        """Start reading and sending (once the hub lists it: what it publishes may come back to it)."""
        threading.Thread(target=self._read, name="bus-hub-peer", daemon=True).start()
        threading.Thread(target=self._send_queued, name="bus-hub-send", daemon=True).start()

    def wants(self, kind: str, topic: str) -> bool:
        return topic.startswith(self.subs if kind == "s" else self.listens)

    def send(self, frame: bytes) -> None:
        self._out.put(frame)

    def _send_queued(self) -> None:
        while (frame := self._out.get()) is not None:
            try:
                with self._write:
                    self.conn.sendall(frame)
            except OSError:
                self.hub._drop(self)
                return

    def _read(self) -> None:
        reader = self.conn.makefile("rb")
        try:
            while (frame := read_frame(reader)) is not None:
                self._handle(frame)
        except (OSError, ValueError) as exc:
            if not self.hub.closing:
                log.warning("bus hub: dropping a peer: %s", exc)
        finally:
            self.hub._drop(self)

    def _handle(self, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        if op == "hello":  # the first frame: when the process connected (the wall clock every process shares)
            self.connected_at = min(self.connected_at, float(frame["at"]))
        elif op == "sub":
            self.hub._subscribe_peer(self, str(frame["prefix"]), int(frame.get("sid", 0)))
        elif op == "listen":
            with self.hub._lock:
                self.listens = (*self.listens, str(frame["prefix"]))
                self.send(encode_frame({"k": "l", "sid": int(frame.get("sid", 0)), "caught_up": True}))
        elif op == "pub":
            self.hub.publish(decode_message(frame["m"]))
        elif op == "cast":
            self.hub.broadcast(decode_message(frame["m"]))
        elif op == "wake":
            if self.hub.on_wake is not None:
                self.hub.on_wake()
        elif op == "hot":  # a hot-state connection: one request, one answer, nothing else on it
            body = self.hub.answer_hot(str(frame["fn"]), list(frame["a"]))
            with self._write:
                send_frame(self.conn, body)
        else:
            raise ValueError(f"unknown bus frame {op!r}")

    def close(self) -> None:
        self._out.put(None)
        with contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)
        self.conn.close()


def _bind(path: Path) -> socket.socket:
    """Listen on `path`; a socket file left by a hub that died is replaced, a live hub's is refused."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # nobody answers: a stale file
        else:
            raise RuntimeError(f"another bus hub is serving {path}")
        finally:
            probe.close()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    os.chmod(path, 0o600)  # the region's events and sessions: this user's processes only
    server.listen(128)
    return server


class LocalBusHub:
    """The hub's side: a `Bus` for its own process that also serves every client on the socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hot = MemoryHotState()  # the region's hot state, answered to every API process
        self.on_wake: Callable[[], None] | None = None  # an API process committed outbox rows: wake the relay
        self.closing = False
        self._lock = threading.Lock()
        self._subs: list[_Pump] = []
        self._listens: list[_Pump] = []
        self._peers: list[_Peer] = []
        self._recent: deque[tuple[float, Message]] = deque(maxlen=RECENT_MAX)
        self._server = _bind(path)
        threading.Thread(target=self._accept, name="bus-hub", daemon=True).start()

    def _accept(self) -> None:
        while not self.closing:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed
            peer = _Peer(conn, self)
            with self._lock:
                closing = self.closing
                if not closing:
                    self._peers.append(peer)
            if closing:  # accepted while the hub was closing: it would never be told to go
                peer.close()
            else:
                peer.start()

    def _drop(self, peer: _Peer) -> None:
        with self._lock:
            if peer not in self._peers:
                return
            self._peers.remove(peer)
        peer.close()

    def peers(self) -> int:
        """How many processes are connected now."""
        with self._lock:
            return len(self._peers)

    def subscribe(self, topic_prefix: str, handler: Handler) -> None:
        with self._lock:
            self._subs.append(_Pump(topic_prefix, handler, f"bus-{topic_prefix or 'all'}"))

    def listen(self, topic_prefix: str, handler: Handler) -> None:
        with self._lock:
            self._listens.append(_Pump(topic_prefix, handler, f"bus-live-{topic_prefix or 'all'}"))

    def publish(self, message: Message) -> None:
        self._fan_out(message, "s")

    def broadcast(self, message: Message) -> None:
        self._fan_out(message, "l")

    def _fan_out(self, message: Message, kind: str) -> None:
        with self._lock:  # queued in one order for every process, and after any catch-up of a new subscription
            pumps = [p for p in (self._subs if kind == "s" else self._listens) if message.topic.startswith(p.prefix)]
            peers = [p for p in self._peers if p.wants(kind, message.topic)]
            if kind == "s":
                now = time.time()
                self._recent.append((now, message))
                while self._recent and self._recent[0][0] < now - RECENT_S:
                    self._recent.popleft()
            if peers:
                frame = encode_message(kind, message)  # encoded once for every process
                for peer in peers:
                    peer.send(frame)
        for pump in pumps:
            pump.put(message)

    def _subscribe_peer(self, peer: _Peer, prefix: str, sid: int) -> None:
        """Add a process's subscription, first sending it what matched since the process connected."""
        with self._lock:
            for at, message in self._recent:
                if at >= peer.connected_at and message.topic.startswith(prefix):
                    peer.send(encode_message("s", message, sid=sid))
            peer.send(encode_frame({"k": "s", "sid": sid, "caught_up": True}))  # from here on it gets what matches
            peer.subs = (*peer.subs, prefix)

    def answer_hot(self, fn: str, args: list[Any]) -> dict[str, Any]:
        """One hot-state call from an API process, answered from the hub's memory."""
        hot = self.hot
        if fn == "get":
            return {"r": hot.get(str(args[0]))}
        if fn == "put":
            hot.put(str(args[0]), str(args[1]), None if args[2] is None else float(args[2]))
            return {"r": None}
        if fn == "delete":
            hot.delete(str(args[0]))
            return {"r": None}
        if fn == "hit":
            return {"r": list(hot.hit(str(args[0]), float(args[1])))}
        if fn == "add_members":
            hot.add_members(str(args[0]), [str(m) for m in args[1]], None if args[2] is None else float(args[2]))
            return {"r": None}
        if fn == "has_member":
            return {"r": hot.has_member(str(args[0]), str(args[1]))}
        return {"e": f"unknown hot-state call {fn!r}"}

    def close(self) -> None:
        """Stop serving: the socket file goes, every client is disconnected and reconnects to the next hub."""
        with self._lock:
            if self.closing:
                return
            self.closing = True
        self._server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with self._lock:
            peers, self._peers = self._peers, []
            pumps, self._subs, self._listens = self._subs + self._listens, [], []
        for peer in peers:
            peer.close()
        for pump in pumps:
            pump.stop()
        self.hot.close()


class LocalBusClient:
    """An API process's side: its subscriptions are sent to the hub (again after every reconnection)."""

    def __init__(self, path: Path, *, wait_s: float = 60.0) -> None:
        self.path = path
        self._lock = threading.Lock()  # guards the socket, the subscriptions and every write
        self._sock: socket.socket | None = None
        self._pumps: list[tuple[str, int, _Pump]] = []  # kind ("s" or "l"), subscription number, pump
        self._connected = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="bus-client", daemon=True)
        self._thread.start()
        # Subscriptions made before the first connection reach the hub when it connects; waiting here keeps the
        # gap between this process's start-up replay of the database and its first message short.
        if not self._connected.wait(wait_s):
            log.warning("no bus hub at %s after %.0fs; still trying", path, wait_s)

    def connected(self) -> bool:
        return self._connected.is_set()

    def _run(self) -> None:
        while not self._closing:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            at = time.time()
            try:
                sock.connect(str(self.path))
            except OSError:
                sock.close()
                time.sleep(RECONNECT_S)
                continue
            with self._lock:
                self._sock = sock
                try:
                    send_frame(sock, {"op": "hello", "at": at})
                    for kind, sid, pump in self._pumps:
                        pump.caught_up = kind == "l"
                        pump.registered.clear()
                        send_frame(sock, _registration(kind, sid, pump.prefix))
                except OSError:
                    pass  # the read below sees the connection gone
            self._connected.set()
            self._read(sock)
            self._connected.clear()
            with self._lock:
                self._sock = None
            sock.close()
            if not self._closing:
                log.warning("lost the bus hub at %s; reconnecting", self.path)

    def _read(self, sock: socket.socket) -> None:
        reader = sock.makefile("rb")
        try:
            while (frame := read_frame(reader)) is not None:
                kind, sid = str(frame["k"]), frame.get("sid")
                if frame.get("caught_up"):  # the hub has subscription `sid` (and sent its catch-up)
                    with self._lock:
                        for _k, n, pump in self._pumps:
                            if n == sid:
                                pump.caught_up = True
                                pump.registered.set()
                    continue
                message = decode_message(frame["m"])
                with self._lock:
                    if sid is not None:  # a catch-up for one new subscription
                        pumps = [p for _k, n, p in self._pumps if n == sid]
                    else:  # a subscription still catching up has this one in its catch-up, or did not want it
                        pumps = [
                            p
                            for k, _n, p in self._pumps
                            if k == kind and p.caught_up and message.topic.startswith(p.prefix)
                        ]
                for pump in pumps:
                    pump.put(message)
        except (OSError, ValueError) as exc:
            if not self._closing:
                log.warning("bus client: %s", exc)

    def _register(self, kind: str, topic_prefix: str, handler: Handler) -> None:
        pump = _Pump(topic_prefix, handler, f"bus-{'live-' if kind == 'l' else ''}{topic_prefix or 'all'}")
        with self._lock:
            sid = len(self._pumps) + 1
            pump.caught_up = kind == "l"
            self._pumps.append((kind, sid, pump))
            if self._sock is not None:
                with contextlib.suppress(OSError):  # sent again on reconnection
                    send_frame(self._sock, _registration(kind, sid, topic_prefix))
        # Like NATS's, a subscription is in place when the call returns (when a hub is there to take it).
        if self.connected() and not pump.registered.wait(REGISTER_WAIT_S):
            log.warning("the bus hub at %s has not confirmed subscription %r yet", self.path, topic_prefix)

    def subscribe(self, topic_prefix: str, handler: Handler) -> None:
        self._register("s", topic_prefix, handler)

    def listen(self, topic_prefix: str, handler: Handler) -> None:
        self._register("l", topic_prefix, handler)

    def _send(self, body: dict[str, Any]) -> bool:
        with self._lock:
            if self._sock is None:
                return False
            try:
                send_frame(self._sock, body)
            except OSError:
                return False
            return True

    def publish(self, message: Message) -> None:
        """Hand a message to the hub; raises when no hub is connected (the outbox keeps the row)."""
        if not self._send({"op": "pub", "m": plain(message)}):
            raise ConnectionError(f"no bus hub at {self.path}")

    def broadcast(self, message: Message) -> None:
        if not self._send({"op": "cast", "m": plain(message)}):
            log.warning("live %s not sent: no bus hub at %s", message.topic, self.path)

    def wake(self) -> None:
        """Tell the hub's relay that this process committed outbox rows (it also polls, so a lost wake-up only
        delays)."""
        self._send({"op": "wake"})

    def close(self) -> None:
        self._closing = True
        with self._lock:
            sock, pumps = self._sock, [p for _k, _n, p in self._pumps]
            self._pumps = []
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        for pump in pumps:
            pump.stop()


def _registration(kind: str, sid: int, prefix: str) -> dict[str, Any]:
    return {"op": "sub" if kind == "s" else "listen", "prefix": prefix, "sid": sid}
