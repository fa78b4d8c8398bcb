"""Hot state in Redis, shared by every process of a region (the scaled layout)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

# INCR, and start the window's expiry on the first hit (also when a crash lost it): one round trip, atomic.
_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class RedisHotState:
    """Hot state on one Redis database; every key is prefixed with the region's namespace."""

    def __init__(self, url: str, *, namespace: str, timeout_s: float = 3.0) -> None:
        self.url = url
        self.namespace = namespace
        self._redis: Any = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._hit = self._redis.register_script(_HIT)

    def _k(self, key: str) -> str:
        return self.namespace + key

    def get(self, key: str) -> str | None:
        value = self._redis.get(self._k(key))
        return None if value is None else str(value)

    def put(self, key: str, value: str, ttl_s: float | None = None) -> None:
        px = max(1, int(ttl_s * 1000)) if ttl_s is not None else None
        self._redis.set(self._k(key), value, px=px)

    def delete(self, key: str) -> None:
        self._redis.delete(self._k(key))

    def hit(self, key: str, window_s: float) -> tuple[int, float]:
        count, ttl_ms = self._hit(keys=[self._k(key)], args=[max(1, int(window_s * 1000))])
        return int(count), max(0.0, int(ttl_ms) / 1000.0)

    def add_members(self, key: str, members: Iterable[str], ttl_s: float | None = None) -> None:
        items = list(members)
        pipe = self._redis.pipeline()
        if items:
            pipe.sadd(self._k(key), *items)
        if ttl_s is not None:
            pipe.pexpire(self._k(key), max(1, int(ttl_s * 1000)))
        pipe.execute()

    def has_member(self, key: str, member: str) -> bool:
        return bool(self._redis.sismember(self._k(key), member))

    def close(self) -> None:
        self._redis.close()
