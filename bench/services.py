"""Private service instances and server processes for the load and fault benches.

Fault runs stop and start their own PostgreSQL, NATS and Redis on free loopback ports in a temporary folder,
never the shared ones on the standard ports. Server processes run in their own session so a whole process
tree (a worker and its ffmpeg children) can be killed at once, as a machine failure would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sovereel.api.server import free_port

PG_BIN = Path(os.environ.get("SOVEREEL_PG_BIN", "/usr/lib/postgresql/15/bin"))
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _as_postgres_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` system user then."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root without runuser: cannot start a private PostgreSQL")
    return [runuser, "-u", "postgres", "--"]


def postgres_installed() -> bool:
    return (PG_BIN / "initdb").is_file() and (PG_BIN / "pg_ctl").is_file()


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port (trust auth, user postgres, database `sovereel`)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sovereel-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            [*_as_postgres_user(), str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
             "--no-sync", "-E", "UTF8"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        self.start()
        subprocess.run(
            [*_as_postgres_user(), str(PG_BIN.parent / "bin" / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "postgres", "sovereel"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/sovereel"

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*_as_postgres_user(), str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args],
            check=True, capture_output=True, timeout=timeout,
        )  # fmt: skip

    def start(self) -> None:
        # fsync off: these runs restart the server cleanly, they never lose the machine under it.
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._ctl("-w", "-o", opts, "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-w", "-m", mode, "stop")

    def close(self) -> None:
        with suppress(subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateProcess:
    """A server binary on a free port in its own temp folder (NATS with JetStream, Redis)."""

    def __init__(self, argv: Sequence[str], port: int, root: Path) -> None:
        self.argv = list(argv)
        self.port = port
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        log = (self.root / "server.log").open("ab")
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(self.port, 20)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def private_nats() -> PrivateProcess:
    """nats-server -js on a free port, its JetStream store in a temp folder (kept across stop/start)."""
    root = Path(tempfile.mkdtemp(prefix="sovereel-nats-"))
    port = free_port()
    return PrivateProcess([NATS_SERVER, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(root)], port, root)


def private_redis() -> PrivateProcess:
    root = Path(tempfile.mkdtemp(prefix="sovereel-redis-"))
    port = free_port()
    argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root), "--save", ""]
    return PrivateProcess(argv, port, root)


def wait_port(port: int, timeout_s: float) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s} s")


@contextmanager
def small_filesystem(size_kb: int) -> Iterator[Path]:
    """A real, small tmpfs (root only): writes past its size fail with ENOSPC, as on a full disk."""
    mount = Path(tempfile.mkdtemp(prefix="sovereel-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)], check=True, timeout=30)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, timeout=30)
        shutil.rmtree(mount, ignore_errors=True)


def can_mount_tmpfs() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    try:
        with small_filesystem(64):
            return True
    except (subprocess.SubprocessError, OSError):
        return False


def fill(folder: Path) -> Path:
    """Fill the filesystem holding `folder` with one file until the next write fails (ENOSPC)."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for size in (1 << 20, 4096, 1):  # big blocks first, then the last few bytes
            while True:
                try:
                    if os.write(fd, b"\0" * size) < size:
                        break
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


def sovereel_process(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `python -m sovereel.cli.main ARGS` in its own session (so its whole tree can be killed)."""
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "sovereel.cli", *args],
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_tree(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Send a signal to a process started by `sovereel_process` and everything it started."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until GET url answers below 500 (the server has started)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


@dataclass
class ResourceSampler:
    """Samples CPU and resident memory of server processes (and their children) with psutil."""

    pids: list[int]
    interval_s: float = 0.5
    cpu: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _procs(self) -> list[Any]:
        import psutil

        out = []
        for pid in self.pids:
            try:
                p = psutil.Process(pid)
                out += [p, *p.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return out

    def _run(self) -> None:
        import psutil

        known: dict[int, Any] = {}
        while not self._stop.wait(self.interval_s):
            total_cpu = total_rss = 0.0
            for p in self._procs():
                proc = known.setdefault(p.pid, p)
                try:
                    total_cpu += proc.cpu_percent(None)
                    total_rss += proc.memory_info().rss / 2**20
                except psutil.NoSuchProcess:
                    known.pop(p.pid, None)
            self.cpu.append(total_cpu)
            self.rss_mb.append(total_rss)

    def __enter__(self) -> ResourceSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def summary(self) -> dict[str, float]:
        cpu = self.cpu[1:] or [0.0]  # the first reading of each process is 0 by psutil's definition
        return {
            "cpu_percent_mean": round(sum(cpu) / len(cpu), 1),
            "cpu_percent_max": round(max(cpu), 1),
            "rss_mb_max": round(max(self.rss_mb or [0.0]), 1),
        }


def wait_for(cond: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `cond` every 0.1 s until it holds (True) or the timeout passes (False)."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def seeded_sqlite(work: Path, users: int, videos: int) -> str:
    """A region store under work/data seeded by `bench.feed_load.seed`; returns its SQLite URL."""
    from bench.feed_load import seed

    url = f"sqlite:///{work / 'data' / 'default' / 'sovereel.db'}"
    seed(url, users, videos)
    return url
