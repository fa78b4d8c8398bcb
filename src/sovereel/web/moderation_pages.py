"""The review queue page (/moderation) and the notices page (/notices): shells that their scripts fill from the API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from sovereel.actions.reports import REASONS
from sovereel.api.deps import OptionalUser
from sovereel.queries.access import is_moderator
from sovereel.web.render import PageRenderer


def build_router(render: PageRenderer) -> APIRouter:
    """Routes for the trust-and-safety pages."""
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @router.get("/moderation")
    async def moderation_page(request: Request, viewer: OptionalUser) -> Response:
        if viewer is None:
            return RedirectResponse("/login?next=/moderation", status_code=303)
        if not is_moderator(viewer):
            return render(
                request,
                "404.html",
                title="Not allowed",
                viewer=viewer,
                message="The review queue is for moderators only.",
                status_code=403,
            )
        return render(request, "moderation.html", title="Review queue", viewer=viewer, nav="moderation")

    @router.get("/notices")
    async def notices_page(request: Request, viewer: OptionalUser) -> Response:
        if viewer is None:
            return RedirectResponse("/login?next=/notices", status_code=303)
        return render(request, "notices.html", title="Notices", viewer=viewer, nav="notices", reasons=REASONS)

    return router
