"""Prometheus metrics: request latency per route (middleware) and `/metrics`.

`/metrics` is served to requests from loopback (not relayed by a proxy) and to those bearing the metrics token
(SOVEREEL_METRICS_TOKEN); everyone else gets 404. It reports the counters and histograms of `sovereel.telemetry`
(summed over every process when PROMETHEUS_MULTIPROC_DIR is set, as `sovereel up` does) and, read at scrape time
from the region's store and this process's learner: the outbox backlog and the age of its oldest undelivered
event, the media queue depth and job states, the model version being served and the one published, and the
learner's deduplicated redeliveries.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sovereel.errors import NotFound
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import MediaJob, OutboxMessage
from sovereel.telemetry import REQUEST_SECONDS

JOB_STATES = ("queued", "running", "done", "failed")


class MetricsMiddleware:
    """Times every HTTP request and records it under its route template (never the raw path: ids would explode)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("static" if scope["path"].startswith("/static/") else "other")
            REQUEST_SECONDS.labels(route=template, method=scope["method"], status=f"{status // 100}xx").observe(
                time.perf_counter() - started
            )


def region_snapshot(rt: RegionRuntime) -> dict[str, Any]:
    """The numbers `/metrics` reads from the store and this process at scrape time."""
    now = time.time()
    with rt.db.session() as s:
        backlog, oldest = s.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.delivered_at.is_(None))
        ).one()
        jobs = dict(s.execute(select(MediaJob.state, func.count()).group_by(MediaJob.state)).all())
        retrying = s.scalar(select(func.count()).where(MediaJob.state == "queued", MediaJob.attempts > 0)) or 0
    learner = rt.learner
    return {
        "outbox_backlog": int(backlog or 0),
        "outbox_oldest_s": max(0.0, now - float(oldest)) if oldest else 0.0,
        "jobs": {state: int(jobs.get(state, 0)) for state in JOB_STATES},
        "retrying": int(retrying),
        "serving": learner.scorer.version,
        "published": learner.registry.current() or "",
        "last_event_age_s": max(0.0, now - learner.last_event_at) if learner.last_event_at else -1.0,
        "duplicates": learner.applied_ids.duplicates,
        "applied": learner.state.applied,
        # The split layout: deltas of the region's learner process this process applied, missed, or could not use.
        "deltas": rt.replica.deltas if rt.replica else 0,
        "delta_gaps": rt.replica.gaps if rt.replica else 0,
        "delta_rows_skipped": rt.replica.rows_skipped if rt.replica else 0,
    }


class RegionCollector(Collector):
    """Gauges from one snapshot (built per scrape, so no gauge is ever stale between processes)."""

    def __init__(self, region: str, snap: dict[str, Any]) -> None:
        self.region = region
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        snap, region = self.snap, self.region

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            g = GaugeMetricFamily(name, doc, labels=["region"])
            g.add_metric([region], value)
            return g

        yield gauge("sovereel_outbox_backlog", "Committed events not yet relayed to the bus.", snap["outbox_backlog"])
        yield gauge(
            "sovereel_outbox_oldest_undelivered_seconds",
            "Age of the oldest event waiting in the outbox (0 when empty).",
            snap["outbox_oldest_s"],
        )
        yield gauge(
            "sovereel_media_queue_depth",
            "Transcode jobs waiting or running.",
            snap["jobs"]["queued"] + snap["jobs"]["running"],
        )
        jobs = GaugeMetricFamily("sovereel_media_jobs", "Transcode jobs by state.", labels=["region", "state"])
        for state, n in snap["jobs"].items():
            jobs.add_metric([region, state], n)
        yield jobs
        yield gauge(
            "sovereel_media_jobs_retrying",
            "Jobs whose last attempt failed and that wait for a retry.",
            snap["retrying"],
        )
        info = GaugeMetricFamily(
            "sovereel_model_info",
            "The For You model this process serves, and the one published.",
            labels=["region", "serving", "published"],
        )
        info.add_metric([region, snap["serving"], snap["published"]], 1)
        yield info
        yield gauge(
            "sovereel_learner_last_event_age_seconds",
            "Seconds since this process's learner applied an event (-1 before the first).",
            snap["last_event_age_s"],
        )
        yield gauge(
            "sovereel_learner_signals_applied",
            "Interaction signals this process's learner has folded into its state (replayed at start + live).",
            snap["applied"],
        )
        yield gauge(
            "sovereel_learner_duplicates_ignored",
            "Redelivered bus messages this process's learner recognised and skipped.",
            snap["duplicates"],
        )
        yield gauge(
            "sovereel_foryou_deltas_applied",
            "Deltas of the region's learner process this API process applied (0 unless SOVEREEL_LEARNER_PROCESS).",
            snap["deltas"],
        )
        yield gauge(
            "sovereel_foryou_deltas_missed",
            "Deltas of the learner process that never reached this process (a gap in their numbering).",
            snap["delta_gaps"],
        )
        yield gauge(
            "sovereel_foryou_delta_rows_skipped",
            "Embedding rows of another model version than the one served here (during a swap), left out.",
            snap["delta_rows_skipped"],
        )


def exposition(rt: RegionRuntime) -> bytes:
    """The whole text exposition for one scrape."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shared = CollectorRegistry()
        MultiProcessCollector(shared)  # type: ignore[no-untyped-call]
        base = generate_latest(shared)
    else:
        base = generate_latest(REGISTRY)
    scraped = CollectorRegistry()
    scraped.register(RegionCollector(rt.region, region_snapshot(rt)))
    return base + generate_latest(scraped)


FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def may_scrape(request: Request, token: str) -> bool:
    """Whether a request may read /metrics: it bears the metrics token, or it comes straight from loopback."""
    auth = request.headers.get("authorization", "")
    if token and auth.lower().startswith("bearer "):
        return hmac.compare_digest(auth[7:].strip().encode(), token.encode())
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False  # relayed by a proxy on this host: the one asking is somewhere else
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def install(app: FastAPI) -> None:
    """Add the latency middleware and the `/metrics` endpoint."""
    app.add_middleware(MetricsMiddleware)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        rt: RegionRuntime = request.state.rt
        if not rt.settings.metrics_enabled:
            raise NotFound("metrics are turned off (SOVEREEL_METRICS_ENABLED)")
        if not may_scrape(request, rt.settings.metrics_token):
            # 404, as if it were not there: the public learns nothing about the deployment from it.
            raise NotFound("metrics are served to loopback, or with the metrics token (SOVEREEL_METRICS_TOKEN)")
        body = await run_in_threadpool(exposition, rt)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
