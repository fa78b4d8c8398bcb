"""The privacy and safety settings page (`/settings/safety`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sovereel.api.deps import OptionalUser, RuntimeDep
from sovereel.api.routes.safety import settings_json
from sovereel.web.render import PageRenderer

router = APIRouter(include_in_schema=False)
_renderer: list[PageRenderer] = []  # built on first use: no templates are loaded at import time


def _render() -> PageRenderer:
    if not _renderer:
        _renderer.append(PageRenderer())
    return _renderer[0]


@router.get("/settings/safety")
async def safety_page(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
    """Private account, who can comment, comment filters, follow requests, blocked accounts and activity."""
    if viewer is None:
        return RedirectResponse("/login?next=/settings/safety", status_code=303)
    settings = await run_in_threadpool(settings_json, rt, viewer.id)
    return _render()(request, "safety_settings.html", title="Privacy and safety", viewer=viewer, settings=settings)
