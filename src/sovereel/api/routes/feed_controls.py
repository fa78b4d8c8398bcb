"""The viewer's For You controls and "Why this video?"."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from sovereel.actions.feed_controls import do_not_interested, do_refresh_for_you, do_update_feed_settings
from sovereel.api.deps import CurrentUser, RuntimeDep
from sovereel.api.schemas.common import errors
from sovereel.api.schemas.feed_controls import FeedSettings, WhyThisVideo
from sovereel.errors import NotFound
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import FeedImpression, FeedPreferences, NotInterested, User

router = APIRouter(prefix="/api", tags=["feed controls"])


class NotInterestedIn(BaseModel):
    kind: Literal["video", "creator", "hashtag"]
    value: str = Field(min_length=1, max_length=100, description="video id, creator username, or hashtag")


class FeedSettingsIn(BaseModel):
    personalised: bool | None = None
    keyword_filters: list[str] | None = Field(None, max_length=200)


def settings_json(rt: RegionRuntime, user_id: str) -> dict[str, Any]:
    with rt.db.session() as s:
        prefs = s.get(FeedPreferences, user_id)
        marks = list(s.scalars(select(NotInterested).where(NotInterested.user_id == user_id)))
        creators = {
            u.id: u.username
            for u in s.scalars(select(User).where(User.id.in_([m.value for m in marks if m.kind == "creator"])))
        }
    return {
        "personalised": prefs.personalised if prefs else True,
        "keyword_filters": list(prefs.keyword_filters) if prefs else [],
        "profile_reset_at": prefs.profile_reset_at if prefs else None,
        "not_interested": [
            {"kind": m.kind, "value": creators.get(m.value, m.value) if m.kind == "creator" else m.value} for m in marks
        ],
    }


@router.get("/me/feed-settings", summary="Your For You controls", response_model=FeedSettings, responses=errors())
async def get_feed_settings(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(settings_json, rt, user.id)


@router.put(
    "/me/feed-settings",
    summary="Switch personalisation on/off, set keyword filters",
    response_model=FeedSettings,
    responses=errors(body=True),
)
async def put_feed_settings(body: FeedSettingsIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(
        lambda: do_update_feed_settings(
            rt.db, user_id=user.id, personalised=body.personalised, keyword_filters=body.keyword_filters
        )
    )
    rt.wake()
    return await run_in_threadpool(settings_json, rt, user.id)


@router.post(
    "/feed/not-interested",
    summary="Not interested in a video, creator or hashtag",
    response_model=FeedSettings,
    responses=errors(404, body=True),
)
async def not_interested(body: NotInterestedIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(lambda: do_not_interested(rt.db, user_id=user.id, kind=body.kind, value=body.value))
    rt.wake()
    return await run_in_threadpool(settings_json, rt, user.id)


@router.delete(
    "/feed/not-interested",
    summary="Undo a not-interested mark",
    response_model=FeedSettings,
    responses=errors(404, body=True),
)
async def undo_not_interested(body: NotInterestedIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(
        lambda: do_not_interested(rt.db, user_id=user.id, kind=body.kind, value=body.value, undo=True)
    )
    rt.wake()
    return await run_in_threadpool(settings_json, rt, user.id)


@router.post(
    "/feed/refresh",
    summary="Refresh For You: forget the learned profile, keep follows and filters",
    response_model=FeedSettings,
    responses=errors(),
)
async def refresh(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(lambda: do_refresh_for_you(rt.db, user_id=user.id))
    rt.wake()
    return await run_in_threadpool(settings_json, rt, user.id)


def why_json(rt: RegionRuntime, video_id: str, user_id: str) -> dict[str, Any]:
    rt.impressions.flush()  # the page that served it may have returned before its impressions were written
    with rt.db.session() as s:
        imp = s.scalar(
            select(FeedImpression)
            .where(FeedImpression.user_id == user_id, FeedImpression.video_id == video_id)
            .order_by(FeedImpression.id.desc())
            .limit(1)
        )
    if imp is None:
        raise NotFound("this video was not served to you in For You", code="no_impression")
    reason = dict(imp.reason)
    return {
        "video_id": video_id,
        "served_at": imp.served_at,
        "position": imp.position,
        "sources": reason.get("sources", []),
        "model_version": reason.get("model_version"),
        "params_version": reason.get("params_version"),
        "score": reason.get("score"),
        "terms": reason.get("terms", {}),
        "explanation": reason.get("explanation", []),
        "personalised": reason.get("personalised", True),
    }


@router.get(
    "/videos/{video_id}/why",
    summary="Why this video? (for your own most recent For You impression of it)",
    response_model=WhyThisVideo,
    responses=errors(404),
)
async def why(video_id: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(why_json, rt, video_id, user.id)
