"""The local bus across real processes: what `serve --processes N` relies on between its hub and API processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from sovereel.events.bus.interface import Message, open_bus
from sovereel.events.bus.local import LocalBusClient, LocalBusHub
from tests.support.local_bus import local_hub
from tests.support.scale import wait_for

# A process of its own, as an API process is: it subscribes to stored watch events and listens to live deltas,
# says it is ready (a message it publishes reaches the hub after its subscriptions), prints what it gets as JSON
# lines and exits on `test.stop`.
CLIENT = """
import json, sys, threading
from sovereel.events.bus.interface import Message, open_bus

bus = open_bus(sys.argv[1])
done = threading.Event()
lock = threading.Lock()

def got(kind):
    def handler(m):
        with lock:
            print(json.dumps([kind, m.topic, m.id]), flush=True)
        if m.topic == "test.stop":
            done.set()
    return handler

bus.subscribe("watch.", got("stored"))
bus.listen("foryou.", got("live"))
bus.listen("test.", got("live"))
bus.publish(Message(id=0, topic="ready.client", payload={"name": sys.argv[2]}))
done.wait(60)
bus.close()
"""


class Received:
    """What the hub's own handlers got."""

    def __init__(self) -> None:
        self.items: list[Message] = []
        self.lock = threading.Lock()

    def __call__(self, message: Message) -> None:
        with self.lock:
            self.items.append(message)

    def names(self) -> list[str]:
        with self.lock:
            return [str(m.payload["name"]) for m in self.items]


def start_client(url: str, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CLIENT, url, name], stdout=subprocess.PIPE, text=True)


def stop_and_read(hub: LocalBusHub, procs: list[subprocess.Popen[str]]) -> list[list[tuple[str, str, int]]]:
    hub.broadcast(Message(id=999, topic="test.stop", payload={}))
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=30)
        out.append([(str(k), str(t), int(i)) for k, t, i in map(json.loads, stdout.splitlines())])
    return out


def test_publish_and_broadcast_reach_other_processes_and_a_late_one_gets_only_what_follows() -> None:
    with local_hub() as hub:
        url = f"local://{hub.path}"
        ready, learner = Received(), Received()
        hub.subscribe("ready.", ready)
        hub.subscribe("watch.", learner)  # the hub's own subscriber (its learner) gets every message too
        first = [start_client(url, "a"), start_client(url, "b")]
        late: list[subprocess.Popen[str]] = []
        try:
            assert wait_for(lambda: sorted(ready.names()) == ["a", "b"], timeout_s=60)
            for i in range(1, 21):
                hub.publish(Message(id=i, topic="watch.events", payload={"i": i}))
            hub.publish(Message(id=50, topic="social.like", payload={}))  # nobody outside subscribed to it
            for part in range(1, 4):
                hub.broadcast(Message(id=part, topic="foryou.delta", payload={"part": part}))
            assert wait_for(lambda: len(learner.items) == 20)
            time.sleep(0.5)  # the first two have what came so far (checked below); then a third one starts
            late = [start_client(url, "c")]
            assert wait_for(lambda: sorted(ready.names()) == ["a", "b", "c"], timeout_s=60)
            hub.publish(Message(id=21, topic="watch.events", payload={}))
            hub.broadcast(Message(id=4, topic="foryou.delta", payload={"part": 4}))
            time.sleep(0.5)
            a, b, c = stop_and_read(hub, first + late)
        finally:
            for proc in first + late:
                if proc.poll() is None:
                    proc.kill()
        for got in (a, b):  # every message, in the order sent
            assert [x for x in got if x[1] == "watch.events"] == [("stored", "watch.events", i) for i in range(1, 22)]
            assert [x for x in got if x[1] == "foryou.delta"] == [("live", "foryou.delta", p) for p in (1, 2, 3, 4)]
            assert not any(x[1] == "social.like" for x in got)
        # The late process: nothing published or broadcast before it connected, everything after.
        assert [x for x in c if x[1] != "test.stop"] in (
            [("stored", "watch.events", 21), ("live", "foryou.delta", 4)],
            [("live", "foryou.delta", 4), ("stored", "watch.events", 21)],
        )
        assert [m.id for m in learner.items] == [*range(1, 21), 21]


def test_a_client_resubscribes_when_its_hub_comes_back() -> None:
    with local_hub() as hub:
        path = hub.path
        client = open_bus(f"local://{path}")
        assert isinstance(client, LocalBusClient)
        got = Received()
        client.subscribe("watch.", got)
        hub.close()  # the hub process dies and the supervisor starts another
        assert wait_for(lambda: not client.connected())
        second = LocalBusHub(path)
        try:
            assert wait_for(client.connected)
            time.sleep(0.2)  # its subscription is sent again on reconnection
            second.publish(Message(id=7, topic="watch.events", payload={"name": "x"}))
            assert wait_for(lambda: [m.id for m in got.items] == [7])
        finally:
            client.close()
            second.close()


def test_a_subscription_made_after_connecting_gets_what_was_published_since_the_connection() -> None:
    """An API process connects, replays the database for a while, then subscribes: what the relay published in
    between reaches it (as a per-process NATS consumer starts from the moment its bus was opened)."""
    with local_hub() as hub:
        hub.publish(Message(id=1, topic="video.ready", payload={}))  # before the process connected: not for it
        client = open_bus(f"local://{hub.path}")
        try:
            assert isinstance(client, LocalBusClient) and wait_for(client.connected)
            hub.publish(Message(id=2, topic="video.ready", payload={}))  # during its start-up replay
            hub.publish(Message(id=3, topic="watch.events", payload={}))
            ready, videos = Received(), Received()
            client.subscribe("video.ready", ready)
            client.subscribe("video.", videos)  # a second subscription catches up on its own
            hub.publish(Message(id=4, topic="video.ready", payload={}))
            assert wait_for(lambda: [m.id for m in ready.items] == [2, 4])
            assert wait_for(lambda: [m.id for m in videos.items] == [2, 4]), [m.id for m in videos.items]
            time.sleep(0.2)  # each once, in order
            assert [m.id for m in ready.items] == [2, 4] and [m.id for m in videos.items] == [2, 4]
        finally:
            client.close()


class Batching(Received):
    """A handler that also takes batches (as the analytics fold does): records each call's messages."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.calls: list[list[int]] = []
        self.gate = gate

    def batch(self, messages: list[Message]) -> None:
        if self.gate is not None:
            self.gate.wait(10)  # held up, as a fold waiting for the write turn is: more messages queue meanwhile
        with self.lock:
            self.calls.append([m.id for m in messages])
            self.items.extend(messages)


def test_a_batching_handler_gets_what_queued_together_in_order_and_a_plain_one_each_message() -> None:
    from sovereel.events.bus.memory import InProcessBus

    # In process: inside `batched()` (the relay's batch) the batching handler gets every message at the end, in
    # one call; a plain handler gets each at once; outside it both get each message as it is published.
    bus = InProcessBus()
    batching, plain = Batching(), Received()
    bus.subscribe("watch.", batching)
    bus.subscribe("social.follow", batching)
    bus.subscribe("watch.", plain)
    with bus.batched():
        for i in range(1, 4):
            bus.publish(Message(id=i, topic="watch.events" if i != 2 else "social.follow", payload={"name": str(i)}))
        assert [m.id for m in plain.items] == [1, 3] and batching.calls == []
    assert batching.calls == [[1, 2, 3]]
    bus.publish(Message(id=4, topic="watch.events", payload={"name": "4"}))
    assert batching.calls == [[1, 2, 3]] and [m.id for m in batching.items] == [1, 2, 3, 4]  # 4: called alone

    # The local hub: its queue hands the batching handler what piled up while it was busy, in order.
    with local_hub() as hub:
        gate = threading.Event()
        slow = Batching(gate)
        hub.subscribe("watch.", slow)
        for i in range(1, 6):
            hub.publish(Message(id=i, topic="watch.events", payload={"name": str(i)}))
        gate.set()
        wait_for(lambda: len(slow.items) == 5)
        assert [m.id for m in slow.items] == [1, 2, 3, 4, 5]
        assert len(slow.calls) < 5  # what queued while the handler was busy came in one call
