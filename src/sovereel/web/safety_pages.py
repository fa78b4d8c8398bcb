"""The privacy and safety settings page (`/settings/safety`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sovereel.api.deps import OptionalUser, RuntimeDep
from sovereel.api.routes.safety import settings_json
from sovereel.api.routes.sounds import reuse_json
from sovereel.web.render import PageRenderer


def build_router(render: PageRenderer) -> APIRouter:
    """The safety settings page."""
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @router.get("/settings/safety")
    async def safety_page(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        """Private account, who can comment, comment filters, follow requests, blocked accounts and activity."""
        if viewer is None:
            return RedirectResponse("/login?next=/settings/safety", status_code=303)
        settings = await run_in_threadpool(settings_json, rt, viewer.id)
        reuse = await run_in_threadpool(reuse_json, rt, viewer.id)  # whether others may use the viewer's sounds
        return render(
            request, "safety_settings.html", title="Privacy and safety", viewer=viewer, settings=settings,
            sound_reuse=reuse,
        )  # fmt: skip

    return router
