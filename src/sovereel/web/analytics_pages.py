"""The creator's analytics pages: `/studio` (the account's trends and videos) and `/studio/videos/{id}` (one
video: figures, retention curve, sources, views per day). Charts are SVG drawn here (`web.charts`); the
figures are the same JSON the API gives (`api.routes.analytics`), so page and API never disagree."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sovereel.api.deps import OptionalUser, RuntimeDep
from sovereel.api.routes.analytics import account_analytics_json, video_analytics_json
from sovereel.errors import NotFound
from sovereel.web.charts import bar_chart, retention_chart
from sovereel.web.render import PageRenderer

SOURCE_NAMES = {
    "foryou": "For You",
    "following": "Following",
    "profile": "Your profile",
    "hashtag": "Hashtag pages",
    "search": "Search",
    "share": "Shared links",
    "other": "Other",
}


def ago(seconds: int | None) -> str:
    """'3 s ago', '4 min ago', '2 h ago', '5 days ago': how fresh the figures are, in words."""
    if seconds is None:
        return "no activity yet"
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"updated {seconds // size} {unit} ago"
    return f"updated {seconds} s ago"


def minutes(seconds: float) -> str:
    """12.3 -> '12.3 s', 95 -> '1 min 35 s'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s"


def build_router(render: PageRenderer) -> APIRouter:
    """The studio pages."""
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @router.get("/studio")
    async def studio_page(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if viewer is None:
            return RedirectResponse("/login?next=/studio", status_code=303)
        data = await run_in_threadpool(account_analytics_json, rt, viewer.id)
        charts: dict[str, Any] = {}
        if data["daily"] is not None:
            dates = [d["date"] for d in data["daily"]]
            charts["views"] = bar_chart([d["views"] for d in data["daily"]], dates, "Views per day, last 60 days")
            net = [d["followers_gained"] - d["followers_lost"] for d in data["daily"]]
            charts["followers"] = bar_chart([max(0, n) for n in net], dates, "New followers per day, last 60 days")
        return render(
            request,
            "analytics.html",
            title="Analytics",
            viewer=viewer,
            nav="profile",
            a=data,
            charts=charts,
            freshness=ago(data["updated_ago_s"]),
            minutes=minutes,
        )

    @router.get("/studio/videos/{video_id}")
    async def studio_video_page(request: Request, video_id: str, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if viewer is None:
            return RedirectResponse(f"/login?next=/studio/videos/{video_id}", status_code=303)
        try:
            if len(video_id) > 32:
                raise NotFound("no such video")
            data = await run_in_threadpool(video_analytics_json, rt, video_id, viewer.id)
        except NotFound:
            message = "There is no video here whose analytics you can see."
            return render(request, "404.html", title="Not found", viewer=viewer, message=message, status_code=404)
        charts: dict[str, Any] = {}
        if data["retention"] is not None:
            shares = [p["share"] for p in data["retention"]]
            charts["retention"] = retention_chart(shares, "Share of viewers still watching at each second")
        if data["daily"] is not None:
            dates = [d["date"] for d in data["daily"]]
            charts["views"] = bar_chart([d["views"] for d in data["daily"]], dates, "Views per day, last 28 days")
        return render(
            request,
            "analytics_video.html",
            title="Video analytics",
            viewer=viewer,
            nav="profile",
            a=data,
            charts=charts,
            freshness=ago(data["updated_ago_s"]),
            minutes=minutes,
            source_names=SOURCE_NAMES,
        )

    return router
