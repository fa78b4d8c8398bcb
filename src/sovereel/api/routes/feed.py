"""The For You and Following feeds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from sovereel.api.deps import CurrentUser, OptionalUser
from sovereel.api.schemas.common import errors
from sovereel.api.schemas.feed import FollowingPage, ForYouPage
from sovereel.foryou.service import FeedService

router = APIRouter(prefix="/api/feed", tags=["feed"])


def feed_service(request: Request) -> FeedService:
    service: FeedService = request.state.feed
    return service


@router.get(
    "/foryou",
    summary="The For You feed; pass next_cursor back for the next page",
    response_model=ForYouPage,
    responses=errors(),
)
async def for_you(
    request: Request, viewer: OptionalUser, limit: int = Query(10, ge=1, le=50), cursor: str | None = None
) -> dict[str, Any]:
    service = feed_service(request)
    return await run_in_threadpool(service.for_you, viewer.id if viewer else None, limit, cursor)


@router.get(
    "/following",
    summary="Newest videos from the creators you follow",
    response_model=FollowingPage,
    responses=errors(),
)
async def following(
    request: Request, user: CurrentUser, limit: int = Query(10, ge=1, le=50), cursor: str | None = None
) -> dict[str, Any]:
    return await run_in_threadpool(feed_service(request).following, user.id, limit, cursor)
