"""The application factory: `create_app(settings)` wires one region's runtime into FastAPI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from sovereel.api import metrics
from sovereel.api.bodies import BodyMiddleware
from sovereel.api.errors import install_error_handlers
from sovereel.api.headers import SecurityHeadersMiddleware
from sovereel.api.origin import SameOriginMiddleware
from sovereel.api.ratelimit import RateLimitMiddleware
from sovereel.api.routes import (
    analytics,
    audit,
    auth,
    events,
    feed,
    feed_controls,
    moderation,
    notifications,
    oversight,
    rights,
    safety,
    sounds,
    users,
    videos,
)
from sovereel.api.slow_bodies import BodyTimeoutMiddleware
from sovereel.foryou.service import FeedService
from sovereel.runtime.region import RegionRuntime, open_runtime
from sovereel.settings import Settings
from sovereel.web import pages

log = logging.getLogger(__name__)


def create_app(settings: Settings, runtime: RegionRuntime | None = None, *, start_background: bool = True) -> FastAPI:
    """Build the app; with no runtime given, one is opened (and closed) by the app's lifespan."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        rt = runtime or open_runtime(settings)
        if runtime is None:  # a served process: its settings go into the audit log when they changed
            from sovereel.actions.audit import do_record_settings

            do_record_settings(rt.db, rt.settings)
        feed_service = FeedService(rt)
        if start_background:
            rt.start_background()
        log.info("serving region %s from %s", rt.region, rt.db.engine.url.render_as_string(hide_password=True))
        try:
            yield {"rt": rt, "feed": feed_service}
        finally:
            if runtime is None:
                rt.close()

    app = FastAPI(
        title="sovereel",
        summary="A short-video platform whose data and algorithm stay in their jurisdiction.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(BodyMiddleware)  # outside the limiter: it reads the parse this caps and checks
    app.add_middleware(SameOriginMiddleware, public_url=settings.public_url)  # before any body is read
    app.add_middleware(SecurityHeadersMiddleware)  # on every answer, refusals included
    metrics.install(app)  # 429s are timed too
    # outermost: a stalled body is cut off before anything inside waits on it
    app.add_middleware(BodyTimeoutMiddleware, idle_s=settings.body_idle_s, min_rate=settings.body_min_rate)
    for module in (auth, videos, feed, feed_controls, events, users, safety, notifications, analytics, sounds):
        app.include_router(module.router)
    app.include_router(videos.comments_router)
    app.include_router(rights.router)
    app.include_router(moderation.router)
    app.include_router(audit.router)
    oversight.install(app)  # the overseer's read-only API and its guard
    pages.install(app)  # every HTML page, /static, the app shell, the HTML 404
    return app
