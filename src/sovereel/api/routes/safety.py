"""Trust and safety for users: blocking, privacy, who may comment, comment filters, follow requests."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sovereel.actions.blocks import do_block, do_unblock
from sovereel.actions.safety_settings import (
    do_answer_follow_request,
    do_set_video_comment_policy,
    do_update_safety_settings,
)
from sovereel.api.deps import CurrentUser, RuntimeDep
from sovereel.api.schemas.common import errors
from sovereel.api.schemas.safety import (
    BlockList,
    BlockState,
    FollowRequestAnswer,
    FollowRequests,
    SafetyLog,
    SafetySettings,
    VideoCommentPolicy,
)
from sovereel.errors import Unauthorized
from sovereel.queries.safety import list_blocks, safety_log_for, safety_settings
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import User

router = APIRouter(prefix="/api", tags=["safety"])
Policy = Literal["everyone", "followers", "no_one"]


class SafetySettingsIn(BaseModel):
    is_private: bool | None = Field(None, description="videos for approved followers only; follows become requests")
    comment_policy: Policy | None = Field(None, description="who may comment on your videos by default")
    comment_filters: list[str] | None = Field(
        None,
        max_length=100,
        description="keywords: matching comments on your videos are hidden (but from their author)",
    )


class VideoCommentPolicyIn(BaseModel):
    comment_policy: Policy | None = Field(description="who may comment on this video; null follows your account")


def settings_json(rt: RegionRuntime, user_id: str) -> dict[str, Any]:
    """The viewer's safety settings as the page and the API show them."""
    with rt.db.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise Unauthorized("no such user")
        return safety_settings(s, user)


@router.post(
    "/users/{username}/block",
    summary="Block a user: you stop seeing each other; follows end both ways",
    response_model=BlockState,
    responses=errors(404, 409),
)
async def block(username: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(
        lambda: do_block(rt.db, user_id=user.id, username=username, audit_secret=rt.settings.secret_key)
    )
    rt.wake()
    return {"blocked": True}


@router.delete(
    "/users/{username}/block",
    summary="Unblock a user (follows do not come back)",
    response_model=BlockState,
    responses=errors(404),
)
async def unblock(username: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(
        lambda: do_unblock(rt.db, user_id=user.id, username=username, audit_secret=rt.settings.secret_key)
    )
    rt.wake()
    return {"blocked": False}


@router.get(
    "/me/blocks",
    summary="The accounts you blocked, newest first",
    response_model=BlockList,
    responses=errors(),
)
async def my_blocks(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    def read() -> list[dict[str, Any]]:
        with rt.db.session() as s:
            return list_blocks(s, user.id)

    return {"blocks": await run_in_threadpool(read)}


@router.get(
    "/me/safety",
    summary="Your privacy and safety settings, blocks and follow requests",
    response_model=SafetySettings,
    responses=errors(),
)
async def get_safety(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(settings_json, rt, user.id)


@router.put(
    "/me/safety",
    summary="Change privacy, who may comment, and comment keyword filters",
    response_model=SafetySettings,
    responses=errors(body=True),
)
async def put_safety(body: SafetySettingsIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(
        lambda: do_update_safety_settings(
            rt.db,
            user.id,
            is_private=body.is_private,
            comment_policy=body.comment_policy,
            comment_filters=body.comment_filters,
            audit_secret=rt.settings.secret_key,
        )
    )
    return await run_in_threadpool(settings_json, rt, user.id)


@router.put(
    "/videos/{video_id}/comment-policy",
    summary="Who may comment on one of your videos",
    response_model=VideoCommentPolicy,
    responses=errors(404, body=True),
)
async def put_video_comment_policy(
    video_id: str, body: VideoCommentPolicyIn, user: CurrentUser, rt: RuntimeDep
) -> dict[str, Any]:
    video = await run_in_threadpool(
        lambda: do_set_video_comment_policy(
            rt.db, user_id=user.id, video_id=video_id, policy=body.comment_policy, audit_secret=rt.settings.secret_key
        )
    )
    return {"video_id": video.id, "comment_policy": video.comment_policy}


@router.get(
    "/me/follow-requests",
    summary="Requests to follow your private account",
    response_model=FollowRequests,
    responses=errors(),
)
async def follow_requests(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    settings = await run_in_threadpool(settings_json, rt, user.id)
    return {"follow_requests": settings["follow_requests"]}


@router.post(
    "/me/follow-requests/{username}",
    summary="Approve a follow request",
    response_model=FollowRequestAnswer,
    responses=errors(404),
)
async def approve_follow_request(username: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(
        lambda: do_answer_follow_request(
            rt.db, user_id=user.id, username=username, approve=True, audit_secret=rt.settings.secret_key
        )
    )
    rt.wake()
    return {"approved": True}


@router.delete(
    "/me/follow-requests/{username}",
    summary="Decline a follow request",
    response_model=FollowRequestAnswer,
    responses=errors(404),
)
async def decline_follow_request(username: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(
        lambda: do_answer_follow_request(
            rt.db, user_id=user.id, username=username, approve=False, audit_secret=rt.settings.secret_key
        )
    )
    return {"approved": False}


@router.get(
    "/me/safety-log",
    summary="Safety actions you took, and those taken on your account or comments",
    response_model=SafetyLog,
    responses=errors(),
)
async def my_safety_log(user: CurrentUser, rt: RuntimeDep, limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    def read() -> list[dict[str, Any]]:
        with rt.db.session() as s:
            return safety_log_for(s, user.id, limit)

    return {"entries": await run_in_threadpool(read)}
