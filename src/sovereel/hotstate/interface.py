"""The hot-state interface and `open_hot_state(url)`: memory:// (in process) or redis://host:6379/0.

Hot state is what every process of a region must agree on within milliseconds but that may be lost without
harm (it is rebuilt or simply starts again): rate-limit windows, session-token lookups cached in front of the
database, short-lived sets such as what a viewer was just shown. Keys are namespaced by region.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class HotState(Protocol):
    url: str

    def get(self, key: str) -> str | None:
        """The value under `key`, or None when missing or expired."""
        ...

    def put(self, key: str, value: str, ttl_s: float | None = None) -> None:
        """Store a value, expiring after `ttl_s` seconds when given."""
        ...

    def delete(self, key: str) -> None:
        """Forget a key of any kind."""
        ...

    def hit(self, key: str, window_s: float) -> tuple[int, float]:
        """Count one hit in the fixed window that `key` names; returns (hits so far, seconds until it resets)."""
        ...

    def add_members(self, key: str, members: Iterable[str], ttl_s: float | None = None) -> None:
        """Add members to the set under `key` (its expiry restarts when `ttl_s` is given)."""
        ...

    def has_member(self, key: str, member: str) -> bool:
        """Whether `member` is in the set under `key`."""
        ...

    def close(self) -> None: ...


def open_hot_state(url: str, *, region: str = "default") -> HotState:
    """Open the hot state named by URL (memory://, local:///path/bus.sock: the local bus hub's, or redis://…)."""
    if url == "memory://":
        from sovereel.hotstate.memory import MemoryHotState

        return MemoryHotState()
    if url.startswith("local://"):
        from sovereel.hotstate.local import LocalHotState

        return LocalHotState(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from sovereel.hotstate.redis import RedisHotState

        return RedisHotState(url, namespace=f"sovereel:{region}:")
    raise ValueError(
        f"unsupported hot-state URL {url!r} (use memory://, local:///path/bus.sock or redis://host:6379/0)"
    )
