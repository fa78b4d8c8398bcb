"""The sound page (`/sounds/{id}`): the sound, "Use this sound", its creator's reuse switch, and its videos."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sovereel.api.deps import OptionalUser, RuntimeDep
from sovereel.api.routes.sounds import reuse_json, sound_json
from sovereel.errors import NotFound
from sovereel.web.render import PageRenderer

GRID_PAGE = 24


def build_router(render: PageRenderer) -> APIRouter:
    """The sound page."""
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @router.get("/sounds/{sound_id}")
    async def sound_page(request: Request, sound_id: str, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        viewer_id = viewer.id if viewer else None
        try:
            result = await run_in_threadpool(sound_json, rt, sound_id, viewer_id, None, GRID_PAGE)
        except NotFound:
            message = "This sound is not available: it was removed, or is not shared with you."
            return render(request, "404.html", title="Not found", viewer=viewer, message=message, status_code=404)
        reuse = await run_in_threadpool(reuse_json, rt, viewer.id) if result["sound"]["is_own"] and viewer else None
        title = result["sound"]["title"]
        return render(request, "sound.html", title=title, viewer=viewer, nav="", result=result, reuse=reuse)

    return router
