"""`sovereel up`: the scaled layout on one machine, supervised.

It starts, each as its own process: N API processes (uvicorn, one port), the outbox relay,
the learner, the media worker and the trainer. API processes only write outbox rows; the relay publishes them to
NATS; the learner alone learns from every event (one durable consumer for the region) and publishes deltas that
every API process applies (`learner_process`), so learning costs the same with 1 or N API processes. A child that
dies is restarted with backoff; Ctrl-C (SIGINT) or SIGTERM stops them all (SIGTERM, then SIGKILL after a grace
period).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from sovereel.settings import Settings

log = logging.getLogger(__name__)
GRACE_S = 20.0
MAX_BACKOFF_S = 30.0


# uvicorn binds the workers' shared socket without saying IPPROTO_TCP, so asyncio leaves Nagle on: the protocol
# class turns it off per connection (api/http_protocol.py: 44 ms a keep-alive request without it).
HTTP_PROTOCOL = "sovereel.api.http_protocol:NoDelayH11Protocol"
# Idle keep-alive connections are kept longer than clients keep them: at uvicorn's 5 s default, a request sent on a
# pooled connection just as the server closes it fails without a status (a 30-minute bench.load on one process saw
# one `ReadError`). Every way of serving the API uses this.
KEEP_ALIVE_S = 120
GRACEFUL_SHUTDOWN_S = 10
# Linux spreads a port's connections over the listening sockets of its SO_REUSEPORT group; elsewhere (macOS, BSD)
# the option only lets them share the port, so the API processes share one socket through uvicorn's `--workers`.
REUSE_PORT = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
LISTEN_BACKLOG = 2048  # uvicorn's default


def api_argv(py: str, host: str, port: int, workers: int) -> list[str]:
    """The command of API processes sharing one socket: uvicorn with `workers` processes on one port."""
    return [py, "-m", "uvicorn", "--factory", "sovereel.api.asgi:app_from_env", "--host", host, "--port", str(port),
            "--workers", str(workers), "--http", HTTP_PROTOCOL, "--timeout-keep-alive", str(KEEP_ALIVE_S),
            "--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_S)]  # fmt: skip


def api_children(py: str, host: str, port: int, processes: int, env: dict[str, str]) -> list[Child]:
    """The API processes: on Linux one child per process, each listening on a socket of its own in the port's
    SO_REUSEPORT group (`api.worker`); elsewhere one uvicorn with `--workers`."""
    if not REUSE_PORT:
        return [Child("api", api_argv(py, host, port, processes), env)]
    argv = [py, "-m", "sovereel.api.worker"]
    return [Child(f"api-{i + 1}", argv, env, listen=(host, port)) for i in range(processes)]


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn reads --host


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket in the port's SO_REUSEPORT group, for one API process to inherit."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def port_taken(host: str, port: int) -> str | None:
    """Why the port cannot be served (something listens there already), or None.

    Asked before the API processes bind with SO_REUSEPORT, which would otherwise join another server of the same
    user on that port and silently split its connections with it."""
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT do not count
        probe.bind((host, port))
    except OSError as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    finally:
        probe.close()
    return None


@dataclass
class Child:
    """One supervised process: how to start it and its current state."""

    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    next_start_at: float = 0.0
    exits: list[int] = field(default_factory=list)
    # (host, port) for an API process: it gets a fresh listening socket of its own at every start (`--fd`). The
    # supervisor keeps no copy, so the socket closes with the process and the kernel stops sending it connections.
    listen: tuple[str, int] | None = None

    def start(self) -> None:
        if self.listen is None:
            # Its own session: Ctrl-C reaches the supervisor only, which stops the children in order.
            self.proc = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
        else:
            with listening_socket(*self.listen) as sock:
                argv = [*self.argv, "--fd", str(sock.fileno())]
                self.proc = subprocess.Popen(argv, env=self.env, start_new_session=True, pass_fds=(sock.fileno(),))
        self.started_at = time.monotonic()
        log.info("started %s (pid %d): %s", self.name, self.proc.pid, " ".join(self.argv[2:]))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def check_layout(settings: Settings, api_workers: int) -> list[str]:
    """Why this configuration cannot run as several processes (empty when it can)."""
    problems = []
    if not settings.bus_url.startswith(("nats://", "tls://")):
        problems.append("the processes share events through NATS JetStream: set SOVEREEL_BUS_URL=nats://127.0.0.1:4222")
    if api_workers > 1 and settings.hot_state_url == "memory://":
        problems.append(
            "several API processes must share rate limits and session lookups: set SOVEREEL_HOT_STATE_URL=redis://…"
        )
    return problems


def plan(
    settings: Settings,
    *,
    host: str,
    port: int,
    api_workers: int,
    media_threads: int,
    trainer: bool,
    base_env: dict[str, str],
) -> list[Child]:
    """The children of the scaled layout, with the environment each gets."""
    py = sys.executable
    env = {
        **base_env,
        "SOVEREEL_DATA_DIR": str(settings.data_dir),
        "SOVEREEL_REGION": settings.region,
        "SOVEREEL_RUN_RELAY": "false",  # the relay is its own process: the others only write the outbox
    }
    api_env = {
        **env,
        "SOVEREEL_RUN_WORKERS": "false",  # the media worker is its own process
        "SOVEREEL_TRAIN_EVERY_S": "0",  # and so is the trainer; API processes swap in what it publishes
        "SOVEREEL_BUS_CONSUMER": "",  # a consumer per process: each must see every catalogue change
        "SOVEREEL_LEARNER_PROCESS": "true",  # they follow the learner process instead of learning themselves
    }
    learner_env = {**env, "SOVEREEL_BUS_CONSUMER": "learner"}  # durable: a restart resumes where it stopped
    children = [
        *api_children(py, host, port, api_workers, api_env),
        Child("relay", [py, "-m", "sovereel.cli", "relay"], env),
        Child("learner", [py, "-m", "sovereel.cli", "learner"], learner_env),
        Child("worker", [py, "-m", "sovereel.cli", "worker", "--threads", str(media_threads)], env),
    ]
    if trainer:
        children.append(Child("trainer", [py, "-m", "sovereel.cli", "trainer"], env))
    return children


def prepare_metrics_dir(settings: Settings) -> Path:
    """A fresh folder for the processes' shared Prometheus samples."""
    path = (settings.data_dir / "run" / "metrics").resolve()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


class Supervisor:
    """Keeps the children running until told to stop."""

    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.stopping = False

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping every process", signal.Signals(signum).name)
        self.stopping = True

    def run(self, poll_s: float = 0.5) -> int:
        signal.signal(signal.SIGINT, self._signal)
        signal.signal(signal.SIGTERM, self._signal)
        for child in self.children:
            child.start()
        while not self.stopping:
            time.sleep(poll_s)
            for child in self.children:
                self._tend(child)
        return self.shutdown()

    def _tend(self, child: Child) -> None:
        now = time.monotonic()
        if child.proc is not None and child.proc.poll() is not None:
            code = child.proc.returncode
            child.exits.append(code)
            child.proc = None
            # Backoff grows while a child keeps dying soon after start, and resets once it ran a minute.
            child.restarts = 0 if now - child.started_at > 60 else child.restarts + 1
            delay = min(MAX_BACKOFF_S, 2.0**child.restarts - 1)
            child.next_start_at = now + delay
            log.error("%s exited with %s; restarting in %.0fs", child.name, code, delay)
        if child.proc is None and now >= child.next_start_at and not self.stopping:
            child.start()

    def shutdown(self) -> int:
        """SIGTERM every child, wait for them, SIGKILL what is left after the grace period."""
        for child in reversed(self.children):  # the trainer and workers first, the API last
            if child.alive() and child.proc is not None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs: killing it", child.name, GRACE_S)
                os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
        log.info("all processes stopped")
        return 0


def run_up(
    settings: Settings, *, host: str, port: int, api_workers: int, media_threads: int, trainer: bool = True
) -> int:
    """Check the configuration, migrate once, then start and supervise the scaled layout."""
    problems = check_layout(settings, api_workers)
    taken = port_taken(host, port)
    if taken:
        problems.append(taken)
    if problems:
        for problem in problems:
            print(f"sovereel up: {problem}", file=sys.stderr)
        return 2
    from sovereel.storage.db import open_region_db

    open_region_db(settings).dispose()  # migrate once, before several processes start at the same moment
    env = dict(os.environ)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(prepare_metrics_dir(settings))
    children = plan(
        settings,
        host=host,
        port=port,
        api_workers=api_workers,
        media_threads=media_threads,
        trainer=trainer,
        base_env=env,
    )
    log.info(
        "region %s: %d API processes on http://%s:%d, relay, learner, media worker",
        settings.region,
        api_workers,
        host,
        port,
    )
    return Supervisor(children).run()
