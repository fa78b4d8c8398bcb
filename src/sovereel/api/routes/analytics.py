"""Creator analytics as JSON: `GET /api/me/analytics` (the account's trends) and `GET /api/videos/{id}/analytics`
(one video's figures, for its creator only: everyone else, signed in or not, gets 404 as for no video)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from sovereel.api.deps import CurrentUser, RuntimeDep
from sovereel.api.schemas.analytics import AccountAnalytics, VideoAnalytics
from sovereel.api.schemas.common import errors
from sovereel.errors import NotFound
from sovereel.queries.analytics import account_analytics, video_analytics
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import User

router = APIRouter(prefix="/api", tags=["analytics"])


def video_analytics_json(rt: RegionRuntime, video_id: str, viewer_id: str) -> dict[str, Any]:
    """One video's analytics for its creator (NotFound for anyone else)."""
    with rt.db.session() as s:
        return video_analytics(s, video_id, viewer_id)


def account_analytics_json(rt: RegionRuntime, user_id: str) -> dict[str, Any]:
    """The account's analytics, read fresh (the session's user object may be stale)."""
    with rt.db.session() as s:
        user = s.get(User, user_id)
        if user is None:  # erased between authentication and now
            raise NotFound("no such user")
        return account_analytics(s, user)


@router.get(
    "/me/analytics",
    summary="Your account's analytics: views and followers over 7 / 28 / 60 days, and each video's figures",
    response_model=AccountAnalytics,
    responses=errors(),
)
async def my_analytics(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(account_analytics_json, rt, user.id)


@router.get(
    "/videos/{video_id}/analytics",
    summary="A video's analytics (its creator only): views, viewers, watch time, retention, sources",
    response_model=VideoAnalytics,
    responses=errors(404),
)
async def video_analytics_route(
    user: CurrentUser, rt: RuntimeDep, video_id: str = Path(min_length=1, max_length=32)
) -> dict[str, Any]:
    return await run_in_threadpool(video_analytics_json, rt, video_id, user.id)
