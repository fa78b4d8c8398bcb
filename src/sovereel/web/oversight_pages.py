"""The overseer's pages (/oversight/…) and the public /about/for-you page, drawn from the oversight API's reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sovereel.api.deps import OptionalUser, RuntimeDep
from sovereel.api.routes.oversight import (
    algorithm_json,
    audit_json,
    impressions_json,
    model_json,
    models_json,
    ranker_cache,
    replay_json,
)
from sovereel.errors import AppError
from sovereel.governance.overseer import OVERSEER
from sovereel.storage.models import User
from sovereel.web.render import PageRenderer


def build_router(render: PageRenderer) -> APIRouter:
    """The /oversight pages and the public /about/for-you page."""
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    def gate(request: Request, viewer: User | None) -> Response | None:
        if viewer is None:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if viewer.role != OVERSEER:
            message = "This page is for the overseer role only."
            return render(request, "oversight.html", title="Oversight", viewer=viewer, section="denied",
                          message=message, status_code=403)  # fmt: skip
        return None

    def page(request: Request, viewer: User, section: str, title: str, **context: Any) -> Response:
        return render(
            request, "oversight.html", title=title, viewer=viewer, nav="oversight", section=section, **context
        )

    @pages.get("/oversight")
    async def home(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        data = await run_in_threadpool(models_json, rt)
        return page(request, viewer, "home", "Oversight", models=data, region=rt.region)

    @pages.get("/oversight/audit")
    async def audit_page(request: Request, viewer: OptionalUser, rt: RuntimeDep, start: int = 0) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        data = await run_in_threadpool(audit_json, rt, max(0, start), 50)
        return page(request, viewer, "audit", "Audit log", audit=data)

    @pages.get("/oversight/models")
    async def models_page(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        return page(request, viewer, "models", "Model versions", models=await run_in_threadpool(models_json, rt))

    @pages.get("/oversight/models/{version}")
    async def model_page(request: Request, version: str, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        try:
            card = await run_in_threadpool(model_json, rt, version)
        except AppError as exc:
            return page(request, viewer, "error", "Model version", message=exc.message, status_code=exc.status)
        return page(request, viewer, "model", f"Model {version}", card=card)

    @pages.get("/oversight/for-you")
    async def algorithm_page(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        return page(request, viewer, "for_you", "How For You works", about=algorithm_json(rt))

    @pages.get("/oversight/replay")
    async def replay_list(
        request: Request, viewer: OptionalUser, rt: RuntimeDep, before: int | None = None
    ) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        data = await run_in_threadpool(impressions_json, rt, 50, before if before and before > 0 else None)
        return page(request, viewer, "replay_list", "Replay", impressions=data)

    @pages.get("/oversight/replay/{impression_id}")
    async def replay_page(request: Request, impression_id: int, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        try:
            data = await run_in_threadpool(replay_json, rt, ranker_cache(request, rt), impression_id)
        except AppError as exc:
            return page(request, viewer, "error", "Replay", message=exc.message, status_code=exc.status)
        return page(request, viewer, "replay", f"Replay of impression {impression_id}", data=data)

    @pages.get("/about/for-you")
    async def about_page(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        return render(request, "oversight_about_page.html", title="How For You works", viewer=viewer,
                      about=algorithm_json(rt))  # fmt: skip

    return pages
