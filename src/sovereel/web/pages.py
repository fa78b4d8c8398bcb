"""The HTML pages: `install(app)` adds the page routes, the HTML 404 page and the /static mount.

Pages read the viewer from the session cookie (the API's `OptionalUser`) and their data through the same
query functions the JSON API uses, so a page never shows what the API would refuse.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from sovereel.api.deps import OptionalUser, RuntimeDep, optional_user
from sovereel.api.routes.feed import feed_service
from sovereel.api.routes.feed_controls import settings_json
from sovereel.api.routes.sounds import sound_json
from sovereel.api.routes.users import hashtag_json, profile_json, search_json
from sovereel.api.routes.videos import video_json
from sovereel.errors import AppError, NotFound
from sovereel.governance.regions import ForeignRegion, region_choices
from sovereel.storage.models import User
from sovereel.web import (
    account_pages,
    analytics_pages,
    app_shell,
    inbox_pages,
    moderation_pages,
    oversight_pages,
    safety_pages,
    sound_pages,
)
from sovereel.web.render import STATIC_DIR, PageRenderer, safe_next

FIRST_PAGE = 6  # feed items rendered into the page; the script fetches the rest
GRID_PAGE = 24
TABS = ("foryou", "following")


def _video_title(video: dict[str, Any]) -> str:
    caption = " ".join(str(video.get("caption") or "").split())
    creator = video.get("creator") or {}
    who = f"@{creator.get('username')}" if creator else "a video"
    if not caption:
        return f"Video by {who}"
    return f"{caption[:57]}…" if len(caption) > 60 else caption


def view_source(request: Request) -> str:
    """Where a video page was opened from, for its creator's analytics: the page of this site that linked to it
    (the Referer, which `Referrer-Policy: same-origin` sends only within the site), else a shared link."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path:
        return "share"  # typed in, pasted, or followed from another site or app
    path = referer.path
    if path.startswith("/@"):
        return "profile"
    if path.startswith("/tag/"):
        return "hashtag"
    if path.startswith("/search"):
        return "search"
    if path == "/":
        return "following" if "tab=following" in referer.query else "foryou"
    return "other"


def build_router(render: PageRenderer) -> APIRouter:
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    def not_found(request: Request, viewer: User | None, message: str) -> Response:
        return render(request, "404.html", title="Not found", viewer=viewer, message=message, status_code=404)

    @router.get("/")
    async def feed_page(request: Request, viewer: OptionalUser, rt: RuntimeDep, tab: str = "foryou") -> Response:
        tab = tab if tab in TABS else "foryou"
        service = feed_service(request)
        page: dict[str, Any] = {"items": [], "next_cursor": None, "request_id": None}
        if tab == "foryou":
            page = await run_in_threadpool(service.for_you, viewer.id if viewer else None, FIRST_PAGE, None)
        elif viewer is not None:
            page = await run_in_threadpool(service.following, viewer.id, FIRST_PAGE, None)
        # The viewer's For You controls: the tab shows a badge when personalisation is off.
        settings = await run_in_threadpool(settings_json, rt, viewer.id) if viewer is not None else None
        boot = {
            "mode": tab,
            "items": page["items"],
            "next_cursor": page.get("next_cursor"),
            "request_id": page.get("request_id"),
            "feed_settings": settings,
        }
        title = "For You" if tab == "foryou" else "Following"
        personalised = settings is None or bool(settings["personalised"])
        return render(
            request, "feed.html", title=title, viewer=viewer, nav=tab, tab=tab, boot=boot, personalised=personalised
        )

    @router.get("/v/{video_id}")
    async def video_page(request: Request, video_id: str, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        try:
            video = await run_in_threadpool(video_json, rt, video_id, viewer.id if viewer else None)
        except NotFound as exc:
            if exc.code == "age_restricted":
                adults_only = "This video is age-restricted: it is shown only to viewers aged 18 or over."
                return not_found(request, viewer, adults_only)
            return not_found(request, viewer, "This video is not available: it was removed, or is not shared with you.")
        boot = {
            "mode": "single",
            "items": [video],
            "next_cursor": None,
            "request_id": None,
            "view_source": view_source(request),
        }
        return render(
            request, "video.html", title=_video_title(video), viewer=viewer, nav="", tab="", video=video, boot=boot
        )

    @router.get("/upload")
    async def upload_page(
        request: Request, viewer: OptionalUser, rt: RuntimeDep, sound: str = Query("", max_length=32)
    ) -> Response:
        if viewer is None:
            target = f"/upload?sound={sound}" if sound.isascii() and sound.isalnum() else "/upload"
            return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        # "Use this sound": the page names the chosen sound; the upload itself checks it again (403 when refused).
        chosen = None
        if sound:
            try:
                chosen = (await run_in_threadpool(sound_json, rt, sound, viewer.id, None, 1))["sound"]
            except AppError:
                chosen = None
        limits = {
            "max_upload_mb": rt.settings.max_upload_mb,
            "max_caption_chars": rt.settings.max_caption_chars,
            "max_duration_s": rt.settings.max_duration_s,
        }
        return render(request, "upload.html", title="Upload", viewer=viewer, nav="upload", limits=limits, sound=chosen)

    @router.get("/@{username}")
    async def profile_page(request: Request, username: str, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        try:
            profile = await run_in_threadpool(
                profile_json, rt, username, viewer.id if viewer else None, None, GRID_PAGE
            )
        except NotFound:
            return not_found(request, viewer, f"There is no account called @{username}.")
        except ForeignRegion:
            message = f"@{username} is an account of another region; its profile is kept there, not here."
            return render(request, "404.html", title="Another region", viewer=viewer, message=message, status_code=403)
        user = profile["user"]
        title = f"{user['display_name']} (@{user['username']})"
        nav = "profile" if user["is_me"] else ""
        return render(request, "profile.html", title=title, viewer=viewer, nav=nav, profile=profile)

    @router.get("/tag/{tag}")
    async def tag_page(request: Request, tag: str, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        try:
            result = await run_in_threadpool(hashtag_json, rt, tag, viewer.id if viewer else None, None, GRID_PAGE)
        except NotFound:
            return not_found(request, viewer, f"No videos with #{tag.lstrip('#')} yet.")
        return render(request, "tag.html", title=f"#{result['tag']}", viewer=viewer, nav="", result=result)

    @router.get("/search")
    async def search_page(
        request: Request, viewer: OptionalUser, rt: RuntimeDep, q: str = Query("", max_length=200)
    ) -> Response:
        query = q.strip()
        result: dict[str, Any] | None = None
        error = ""
        if query:
            try:
                result = await run_in_threadpool(search_json, rt, query, viewer.id if viewer else None, 30)
            except AppError as exc:  # a query the search backend refuses is shown, not a 500
                error = exc.message
        title = f"{query} – Search" if query else "Search"
        return render(
            request, "search.html", title=title, viewer=viewer, nav="search", q=query, result=result, error=error
        )

    def auth_page(mode: str, title: str) -> Callable[..., Awaitable[Response]]:
        async def page(request: Request, viewer: OptionalUser, rt: RuntimeDep, next: str = "/") -> Response:
            target = safe_next(next)
            if viewer is not None:
                return RedirectResponse(target, status_code=303)
            regions = region_choices(rt.settings)  # the region picker, when the deployment has several
            return render(
                request, "auth.html", title=title, viewer=None, nav=mode, mode=mode, next=target, regions=regions
            )

        return page

    router.add_api_route("/login", auth_page("login", "Sign in"), methods=["GET"])
    router.add_api_route("/signup", auth_page("signup", "Sign up"), methods=["GET"])

    return router


class RevalidatedStaticFiles(StaticFiles):
    """Static files the browser revalidates on every use (a cheap 304), so a new release is seen at once."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _is_page_path(path: str) -> bool:
    return not (path.startswith("/api/") or path == "/api" or path.startswith("/static/"))


def install(app: FastAPI) -> None:
    """Add every page module's routes (one renderer), serve /static, and answer unknown page paths with the 404 page.

    The one way pages are mounted: each page module (`web/*_pages.py` and this one) has a `build_router(render)`.
    """
    render = PageRenderer()
    for module in (
        safety_pages,
        account_pages,
        oversight_pages,
        moderation_pages,
        inbox_pages,
        analytics_pages,
        sound_pages,
    ):
        app.include_router(module.build_router(render))
    app.include_router(build_router(render))
    app.mount("/static", RevalidatedStaticFiles(directory=STATIC_DIR), name="static")
    app_shell.install(app)  # /sw.js, /manifest.webmanifest, /offline: the installable app
    api_handler = app.exception_handlers.get(StarletteHTTPException)

    async def http_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, StarletteHTTPException):  # registered for that class only
            raise exc
        if exc.status_code == 404 and _is_page_path(request.url.path):
            viewer: User | None = None
            try:
                viewer = await run_in_threadpool(optional_user, request, request.state.rt)
            except AppError:
                viewer = None
            message = "This page does not exist. It may have moved, or the link is wrong."
            return render(request, "404.html", title="Not found", viewer=viewer, message=message, status_code=404)
        if api_handler is not None:
            response = api_handler(request, exc)
            return await response if inspect.isawaitable(response) else response
        return Response(str(exc.detail), status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(StarletteHTTPException, http_error)
