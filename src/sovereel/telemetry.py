"""The platform's Prometheus metrics, defined once; `api/metrics.py` serves them.

Under several processes (`sovereel up`) set PROMETHEUS_MULTIPROC_DIR before start: every process then writes
its samples to files there and `/metrics` of any API process reports the sum over all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Histogram

from sovereel.events.bus.interface import Handler, Message

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

REQUEST_SECONDS = Histogram(
    "sovereel_http_request_duration_seconds",
    "HTTP request latency by route template, method and status class.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
EVENT_LAG_SECONDS = Histogram(
    "sovereel_event_lag_seconds",
    "From an event's commit (outbox row) to its delivery to a consumer, by consumer.",
    ["consumer"],
    buckets=LAG_BUCKETS,
)
EVENTS_DELIVERED = Counter("sovereel_events_delivered_total", "Bus messages handed to a consumer.", ["consumer"])
RATE_LIMITED = Counter("sovereel_rate_limited_total", "Requests refused with 429, by limit.", ["limit"])
JOB_FAILURES = Counter("sovereel_media_job_failures_total", "Failed transcode attempts (retried or final).", ["final"])
TRAININGS = Counter("sovereel_trainings_total", "Model versions trained by this process, by outcome.", ["outcome"])
# Requests refused before anyone was authenticated (bad tokens, made-up regions, unsigned peers): counted here and
# summarised into the audit log at most once per window, never appended one by one. `reason` is one of
# sovereel.actions.refusals.REASONS, never a value taken from the request.
UNAUTHENTICATED_REFUSALS = Counter(
    "sovereel_unauthenticated_refusals_total", "Unauthenticated requests refused, by reason.", ["reason"]
)
FORYOU_STAGES = ("world", "queue", "sources", "filters", "ranking", "reranking", "impressions", "render")
"""The stages of a For You page, in order: `world` reads the viewer's context and builds the candidate world
(`foryou.service`); `queue` waits for the page's turn to be ranked (`foryou.service.PageTurns`); sources,
filters, ranking and reranking are `feed.pipeline`'s; `impressions` records what was served; `render` reads the
rows and builds the answer."""
FORYOU_STAGE_SECONDS = Histogram(
    "sovereel_foryou_stage_seconds",
    "Time one For You page spent in each stage (telemetry.FORYOU_STAGES), summed over the page's passes.",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
FORYOU_PAGES = Counter(
    "sovereel_foryou_pages_total",
    "Signed-in For You pages, by where their candidates came from: `retrieved` (the sources) or `carried` "
    "(the scroll's previous page, foryou.carry).",
    ["candidates"],
)


class StageTimer:
    """Per-stage time of one For You page: `lap(stage)` closes the stage that ran since the previous lap,
    `observe()` records the page's totals in FORYOU_STAGE_SECONDS (one sample per stage that ran)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._last = clock()
        self.seconds: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = self._clock()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + (now - self._last)
        self._last = now

    def observe(self) -> None:
        for stage, seconds in self.seconds.items():
            FORYOU_STAGE_SECONDS.labels(stage=stage).observe(seconds)


def timed_consumer(name: str, handler: Handler, clock: Callable[[], float] = time.time) -> Handler:
    """Wrap a bus handler so each delivery records its commit-to-delivery lag."""
    lag = EVENT_LAG_SECONDS.labels(consumer=name)
    delivered = EVENTS_DELIVERED.labels(consumer=name)

    def run(message: Message) -> None:
        handler(message)
        delivered.inc()
        if message.created_at:
            lag.observe(max(0.0, clock() - message.created_at))

    return run
