"""One conformance suite for every hot-state backend: in process, and Redis (real server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from sovereel.hotstate.interface import HotState, open_hot_state
from tests.support.local_bus import local_hub
from tests.support.scale import REDIS_URL, redis_available, unique_region
from tests.support.settings import require


@pytest.fixture(params=["memory", "local", pytest.param("redis", marks=pytest.mark.redis)])
def hot(request: pytest.FixtureRequest) -> Iterator[HotState]:
    if request.param == "local":  # kept by a local bus hub, reached through its socket
        with local_hub() as hub:
            state = open_hot_state(f"local://{hub.path}")
            yield state
            state.close()
        return
    if request.param == "redis":
        require(redis_available(), f"Redis is not reachable at {REDIS_URL}")
        state = open_hot_state(REDIS_URL, region=unique_region())
    else:
        state = open_hot_state("memory://")
    yield state
    state.close()


def test_values_are_stored_replaced_deleted_and_expire(hot: HotState) -> None:
    assert hot.get("session:a") is None
    hot.put("session:a", "user-1")
    hot.put("session:b", "user-2", ttl_s=0.2)
    assert hot.get("session:a") == "user-1"
    assert hot.get("session:b") == "user-2"
    hot.put("session:a", "user-3")
    assert hot.get("session:a") == "user-3"
    time.sleep(0.3)
    assert hot.get("session:b") is None
    assert hot.get("session:a") == "user-3"  # no ttl: it outlives the one that expired
    hot.delete("session:a")
    assert hot.get("session:a") is None


def test_hits_count_within_a_fixed_window_that_then_resets(hot: HotState) -> None:
    counts = [hot.hit("rl:login:1.2.3.4", 0.4)[0] for _ in range(3)]
    assert counts == [1, 2, 3]
    count, reset = hot.hit("rl:login:1.2.3.4", 0.4)
    assert count == 4 and 0 < reset <= 0.4
    assert hot.get("rl:login:1.2.3.4") == "4"  # a counter reads back as its number
    assert hot.hit("rl:login:5.6.7.8", 0.4)[0] == 1  # keys are independent
    time.sleep(0.5)
    assert hot.hit("rl:login:1.2.3.4", 0.4)[0] == 1


def test_hits_from_many_threads_are_all_counted(hot: HotState) -> None:
    def hammer() -> None:
        for _ in range(50):
            hot.hit("rl:events:u1", 30.0)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hot.hit("rl:events:u1", 30.0)[0] == 401


def test_sets_hold_members_and_expire(hot: HotState) -> None:
    assert not hot.has_member("seen:u1", "v1")
    hot.add_members("seen:u1", ["v1", "v2"])
    hot.add_members("seen:u1", ["v2", "v3"], ttl_s=0.3)
    assert all(hot.has_member("seen:u1", v) for v in ("v1", "v2", "v3"))
    assert not hot.has_member("seen:u1", "v9")
    time.sleep(0.4)
    assert not any(hot.has_member("seen:u1", v) for v in ("v1", "v2", "v3"))


@pytest.mark.redis
def test_redis_state_is_shared_between_connections_and_namespaced_by_region() -> None:
    require(redis_available(), f"Redis is not reachable at {REDIS_URL}")
    region = unique_region()
    one, two = open_hot_state(REDIS_URL, region=region), open_hot_state(REDIS_URL, region=region)
    other = open_hot_state(REDIS_URL, region=unique_region())
    try:
        one.hit("rl:signup:9.9.9.9", 60)
        assert two.hit("rl:signup:9.9.9.9", 60)[0] == 2  # another process sees the same window
        assert other.hit("rl:signup:9.9.9.9", 60)[0] == 1  # another region does not
    finally:
        for state in (one, two, other):
            state.delete("rl:signup:9.9.9.9")
            state.close()


def test_local_state_is_shared_between_processes_and_answers_as_empty_without_its_hub() -> None:
    with local_hub() as hub:
        url = f"local://{hub.path}"
        one, two = open_hot_state(url), open_hot_state(url)  # two API processes' connections
        one.put("session:t1", "user-1", ttl_s=60)
        assert two.get("session:t1") == "user-1"
        two.delete("session:t1")  # a sign-out in one process is seen by the other
        assert one.get("session:t1") is None
        one.hit("rl:signup:9.9.9.9", 60)
        assert two.hit("rl:signup:9.9.9.9", 60)[0] == 2  # one window, not one per process
    # The hub is gone (restarting): nothing cached, a first hit, no member, and no error for the request.
    assert one.get("session:t1") is None
    assert one.hit("rl:signup:9.9.9.9", 60) == (1, 60.0)
    assert not one.has_member("login_ok:ana", "x")
    one.close()
    two.close()


def test_unknown_hot_state_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="redis://"):
        open_hot_state("memcached://localhost")
