"""The event bus on NATS JetStream: one stream a region, durable pull consumers, at-least-once delivery.

- Subjects are `sovereel.<region>.<topic>` in the stream `SOVEREEL_<REGION>` (kept 7 days), so a region's
  events never share a stream with another region's.
- Publishing waits for the stream's acknowledgement and sets `Nats-Msg-Id` to `<region>:<outbox id>`: a relay
  that dies after publishing but before marking the row delivered publishes it again, and JetStream drops the
  copy within its duplicate window.
- Each `subscribe` gets its own pull consumer. With a consumer name (`SOVEREEL_BUS_CONSUMER`) it is durable
  and a restarted process resumes where it stopped; without one it is a per-process consumer that starts at
  the moment the bus was opened (the learner replays older events from the database) and is deleted on
  close, or by the server after an hour of inactivity when the process died.
- A handler that raises gets the message again (up to `MAX_DELIVER` times): consumers must be idempotent.
- Live messages (`broadcast` / `listen`: the learner's deltas) go by core NATS on `sovereel-live.<region>.<topic>`,
  outside the stream: nothing is stored, every process listening gets a copy, and one that was not listening
  misses it (live topics carry state a process can rebuild from the database).

nats-py is asyncio; the bus runs its own event loop in one background thread so the rest of the code stays
synchronous, and handlers run in worker threads so a slow one never stalls the connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from sovereel.events.bus.interface import Handler, Message

log = logging.getLogger(__name__)
T = TypeVar("T")
RETENTION_S = 7 * 86400.0
MAX_DELIVER = 5
ACK_WAIT_S = 30.0
EPHEMERAL_IDLE_S = 3600.0
FETCH_BATCH = 64
CLOSE_GRACE_S = 5.0
RETRY_DELAY_S = 1.0  # a failed message is handed back after this: a store that is briefly down gets a moment


def stream_name(region: str) -> str:
    """The JetStream stream that holds one region's events."""
    return "SOVEREEL_" + re.sub(r"[^A-Za-z0-9_]", "_", region).upper()


def subject_for(region: str, topic: str) -> str:
    return f"sovereel.{region}.{topic}"


def filter_for(region: str, topic_prefix: str) -> str:
    """The narrowest subject filter that covers every topic starting with `topic_prefix`."""
    if topic_prefix.endswith("."):
        return f"sovereel.{region}.{topic_prefix}>"
    return f"sovereel.{region}.>"  # a partial token cannot be filtered by NATS: the bus filters locally


def live_subject(region: str, topic: str) -> str:
    """Live topics' subjects lie outside the region's stream (`sovereel.<region>.>`), so nothing stores them."""
    return f"sovereel-live.{region}.{topic}"


def consumer_name(base: str, topic_prefix: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", topic_prefix.rstrip(".")) or "all"
    return f"{base}-{slug}"


def encode(message: Message) -> bytes:
    return json.dumps(
        {"id": message.id, "topic": message.topic, "payload": message.payload, "created_at": message.created_at},
        separators=(",", ":"),
    ).encode()


def decode(data: bytes) -> Message:
    body = json.loads(data)
    return Message(
        id=int(body["id"]),
        topic=str(body["topic"]),
        payload=dict(body["payload"]),
        created_at=float(body.get("created_at") or 0.0),
    )


class NatsBus:
    """A `Bus` on NATS JetStream (see the module docstring for the delivery contract)."""

    def __init__(self, url: str, *, region: str, consumer: str = "", timeout_s: float = 10.0) -> None:
        self.url = url
        self.region = region
        self.stream = stream_name(region)
        self.durable = bool(consumer)
        self.consumer_base = consumer or f"p-{uuid.uuid4().hex[:12]}"
        self.timeout_s = timeout_s
        self.opened_at = time.time()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-bus", daemon=True)
        self._thread.start()
        self._tasks: list[asyncio.Task[None]] = []
        self._consumers: list[str] = []
        self._handling: set[asyncio.Task[Any]] = set()  # pumps inside a batch's handlers (see `_pump`)
        self._closing = False
        try:
            self._run(self._connect())
        except BaseException:
            self._stop_loop()
            raise

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout or self.timeout_s)

    async def _connect(self) -> None:
        self._nc = await nats.connect(
            self.url, connect_timeout=self.timeout_s, max_reconnect_attempts=-1, name=f"sovereel-{self.region}"
        )
        self._js = self._nc.jetstream(timeout=self.timeout_s)
        config = StreamConfig(
            name=self.stream,
            subjects=[f"sovereel.{self.region}.>"],
            max_age=RETENTION_S,
            duplicate_window=120.0,
        )
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(config)

    def publish(self, message: Message) -> None:
        """Publish and wait for JetStream to store it (raises if it could not: the outbox keeps the row)."""
        self._run(self._publish(message))

    async def _publish(self, message: Message) -> None:
        await self._js.publish(
            subject_for(self.region, message.topic),
            encode(message),
            headers={"Nats-Msg-Id": f"{self.region}:{message.id}"},
        )

    def subscribe(self, topic_prefix: str, handler: Handler) -> None:
        """Deliver every message whose topic starts with `topic_prefix` to `handler`, at least once."""
        self._run(self._subscribe(topic_prefix, handler))

    async def _subscribe(self, topic_prefix: str, handler: Handler) -> None:
        name = consumer_name(self.consumer_base, topic_prefix)
        same = sum(1 for c in self._consumers if c == name or c.startswith(name + "-n"))
        if same:  # a second handler on the same prefix gets its own copy, not half the messages
            name = f"{name}-n{same + 1}"
        try:
            await self._js.consumer_info(self.stream, name)  # a durable consumer resumes from its position
        except NotFoundError:
            start = dt.datetime.fromtimestamp(self.opened_at - 1.0, tz=dt.UTC)
            config = ConsumerConfig(
                durable_name=name,
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=start,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=ACK_WAIT_S,
                max_deliver=MAX_DELIVER,
                filter_subject=filter_for(self.region, topic_prefix),
                inactive_threshold=None if self.durable else EPHEMERAL_IDLE_S,
            )
            await self._js.add_consumer(self.stream, config)
        self._consumers.append(name)
        sub = await self._js.pull_subscribe_bind(durable=name, stream=self.stream)
        self._tasks.append(self._loop.create_task(self._pump(sub, topic_prefix, handler)))

    def broadcast(self, message: Message) -> None:
        """Publish a live message with core NATS (no stream, no acknowledgement, no redelivery)."""
        self._run(self._nc.publish(live_subject(self.region, message.topic), encode(message)))

    def listen(self, topic_prefix: str, handler: Handler) -> None:
        """Hand every live message whose topic starts with `topic_prefix` to `handler`, in order, from now on."""
        self._run(self._listen(topic_prefix, handler))

    async def _listen(self, topic_prefix: str, handler: Handler) -> None:
        wild = f"sovereel-live.{self.region}.{topic_prefix}>" if topic_prefix.endswith(".") else None
        sub = await self._nc.subscribe(wild or f"sovereel-live.{self.region}.>")

        async def pump() -> None:
            async for raw in sub.messages:
                try:
                    message = decode(raw.data)
                except (ValueError, KeyError, TypeError):
                    log.error("dropping an undecodable live message on %s", raw.subject)
                    continue
                if not message.topic.startswith(topic_prefix):
                    continue
                try:  # one at a time, in order: a handler applies deltas that build on each other
                    await asyncio.to_thread(handler, message)
                except Exception:
                    log.exception("handler for live %s failed on message %s", topic_prefix, message.id)

        self._tasks.append(self._loop.create_task(pump()))

    async def _pump(self, sub: Any, topic_prefix: str, handler: Handler) -> None:
        me = asyncio.current_task()
        while not self._closing:
            try:
                batch = await sub.fetch(FETCH_BATCH, timeout=1.0)
            except TimeoutError:  # nothing arrived: nats-py raises its own or the plain asyncio timeout
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                if not self._closing:
                    log.exception("fetching from %s failed; retrying", self.stream)
                    await asyncio.sleep(1.0)
                continue
            # `close` cancels a pump that is fetching but waits for one that is handling: cancelled between
            # its handler and its ack, a message that was handled would stay unacknowledged, and a restarted
            # durable consumer would see it again only after ACK_WAIT_S (seen as a 30 s stall in CI).
            if me is not None:
                self._handling.add(me)
            try:
                await self._handle(batch, topic_prefix, handler)
            finally:
                self._handling.discard(me)

    async def _handle(self, batch: list[Any], topic_prefix: str, handler: Handler) -> None:
        for raw in batch:
            if self._closing:  # not handled here: back to the stream now, not after ACK_WAIT_S
                await raw.nak()
                continue
            try:
                message = decode(raw.data)
            except (ValueError, KeyError, TypeError):
                log.error("dropping an undecodable message on %s", raw.subject)
                await raw.term()
                continue
            if message.topic.startswith(topic_prefix):
                try:
                    await asyncio.to_thread(handler, message)
                except Exception:
                    log.exception(
                        "handler for %s failed on message %s; it will be redelivered", topic_prefix, message.id
                    )
                    # The pause is the client's, then a plain nak: nats-server 2.9's delayed nak (`-NAK {"delay"}`)
                    # sometimes redelivered the next message in its place and lost this one until ACK_WAIT_S
                    # (reproduced here 1 run in 20).
                    await asyncio.sleep(RETRY_DELAY_S)
                    await raw.nak()
                    continue
            await raw.ack()

    def close(self) -> None:
        """Stop the consumers (deleting per-process ones) and the connection."""
        if self._closing:
            return
        self._closing = True
        try:
            self._run(self._close(), timeout=self.timeout_s + CLOSE_GRACE_S + 5)
        except Exception:
            log.exception("closing the NATS bus failed")
        self._stop_loop()

    async def _close(self) -> None:
        for task in self._tasks:
            if task not in self._handling:
                task.cancel()
        handling = [t for t in self._tasks if t in self._handling]
        if handling:  # the handler under way finishes and acks; a hung one is cut off after CLOSE_GRACE_S
            _, late = await asyncio.wait(handling, timeout=CLOSE_GRACE_S)
            for task in late:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if not self.durable:
            for name in self._consumers:
                try:
                    await self._js.delete_consumer(self.stream, name)
                except Exception:
                    log.warning("could not delete consumer %s (the server expires it)", name)
        await self._nc.close()  # every message handled was acked already; unacked ones are redelivered

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
