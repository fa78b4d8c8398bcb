"""The "Your data" page (/account/data): download my data and delete my account, filled from the rights API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sovereel.api.deps import OptionalUser, RuntimeDep
from sovereel.api.routes.rights import latest_export_json
from sovereel.web.render import PageRenderer


def build_router(render: PageRenderer) -> APIRouter:
    """The account data page."""
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @router.get("/account/data")
    async def account_data_page(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if viewer is None:
            return RedirectResponse("/login?next=/account/data", status_code=303)
        export = await run_in_threadpool(latest_export_json, rt, viewer.id)
        return render(
            request,
            "rights.html",
            title="Your data",
            viewer=viewer,
            nav="profile",
            export=export,
            region=rt.region,
            link_minutes=rt.settings.export_link_s // 60,
        )

    return router
