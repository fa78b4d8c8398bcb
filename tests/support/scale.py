"""Reaching the scale-out services in tests: NATS JetStream, Redis, and an S3 test double (moto's server).

Under CI=true a missing NATS or Redis fails the test (through `require`); elsewhere it skips with the reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

NATS_URL = os.environ.get("SOVEREEL_TEST_NATS_URL", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("SOVEREEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def nats_available() -> bool:
    """A NATS server with JetStream enabled answers at NATS_URL."""
    if not reachable(NATS_URL, 4222):
        return False
    import nats

    async def probe() -> bool:
        nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
        try:
            await nc.jetstream().account_info()
            return True
        finally:
            await nc.close()

    try:
        return asyncio.run(probe())
    except Exception:
        return False


def redis_available() -> bool:
    if not reachable(REDIS_URL, 6379):
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def unique_region() -> str:
    """A region name no other test uses: its NATS stream and Redis keys are its own."""
    return f"t{secrets.token_hex(5)}"


def delete_stream(region: str) -> None:
    """Remove a test region's JetStream stream."""
    import nats

    from sovereel.events.bus.nats import stream_name

    async def drop() -> None:
        nc = await nats.connect(NATS_URL, connect_timeout=2)
        try:
            await nc.jetstream().delete_stream(stream_name(region))
        except Exception:
            pass
        finally:
            await nc.close()

    asyncio.run(drop())


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0, every_s: float = 0.02) -> bool:
    """Poll until `condition()` holds or the time is up; returns whether it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every_s)
    return condition()


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server (a test double for AWS S3, MinIO, Ceph RGW, R2) on a free loopback port; yields its URL."""
    from moto.server import ThreadedMotoServer

    from sovereel.api.server import free_port

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
