"""The application factory: `create_app(settings)` wires one region's runtime into FastAPI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from sovereel.api.errors import install_error_handlers
from sovereel.api.routes import auth, events, feed, feed_controls, users, videos
from sovereel.feed_service import FeedService
from sovereel.runtime import RegionRuntime, open_runtime
from sovereel.settings import Settings
from sovereel.web import pages

log = logging.getLogger(__name__)


def create_app(settings: Settings, runtime: RegionRuntime | None = None, *, start_background: bool = True) -> FastAPI:
    """Build the app; with no runtime given, one is opened (and closed) by the app's lifespan."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        rt = runtime or open_runtime(settings)
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
    for module in (auth, videos, feed, feed_controls, events, users):
        app.include_router(module.router)
    app.include_router(videos.comments_router)
    pages.install(app)
    return app
