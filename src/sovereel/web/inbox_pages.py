"""The inbox page (`/inbox`): a shell its script fills from the inbox API and keeps live from the stream."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from sovereel.api.deps import OptionalUser
from sovereel.web.render import PageRenderer


def build_router(render: PageRenderer) -> APIRouter:
    """The inbox page."""
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @router.get("/inbox")
    async def inbox_page(request: Request, viewer: OptionalUser) -> Response:
        """Notifications, newest first, with mark read, mark all read and the per-kind settings."""
        if viewer is None:
            return RedirectResponse("/login?next=/inbox", status_code=303)
        return render(request, "inbox.html", title="Inbox", viewer=viewer, nav="inbox")

    return router
