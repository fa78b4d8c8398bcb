"""Trust and safety: reports, the moderators' review queue and decisions, notices and appeals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sovereel.actions.moderation import do_appeal, do_decide_appeal, do_moderate
from sovereel.actions.reports import REASONS, TARGET_KINDS, do_report
from sovereel.api.deps import CurrentUser, RuntimeDep
from sovereel.api.media_range import blob_response
from sovereel.api.schemas.common import binary_responses, errors
from sovereel.api.schemas.moderation import (
    ActionPublic,
    Notices,
    ReportReasons,
    ReportReceipt,
    ReviewQueue,
    StatusOf,
)
from sovereel.errors import NotFound
from sovereel.queries.access import require_moderator
from sovereel.queries.moderation import action_view, notices_for, review_queue, under_review
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Video

router = APIRouter(prefix="/api", tags=["moderation"])
REASON_OTHER: dict[str, Any] = {"properties": {"reason": {"const": "other"}}, "required": ["reason"]}
DETAIL_REQUIRED: dict[str, Any] = {"properties": {"detail": {"pattern": r"[^\s]"}}, "required": ["detail"]}


class ReportIn(BaseModel):
    # The kind and reason are checked by `do_report` (their own error codes); the document lists what passes.
    model_config = ConfigDict(json_schema_extra={"if": REASON_OTHER, "then": DETAIL_REQUIRED})
    target_kind: str = Field(description="video | comment | account", json_schema_extra={"enum": list(TARGET_KINDS)})
    target_id: str = Field(min_length=1, max_length=32, description="The video's, comment's or account's id")
    reason: str = Field(description="One of: " + ", ".join(REASONS), json_schema_extra={"enum": list(REASONS)})
    detail: str = Field("", max_length=1000, description="Required, in a few visible words, when the reason is `other`")
    block: bool = Field(False, description="Also block the account responsible, at once")


@router.get(
    "/reports/reasons",
    summary="The reasons a report may give",
    response_model=ReportReasons,
    responses=errors(),
)
async def report_reasons() -> dict[str, Any]:
    return {"reasons": list(REASONS), "target_kinds": list(TARGET_KINDS)}


@router.post(
    "/reports",
    status_code=201,
    summary="Report a video, a comment or an account",
    response_model=ReportReceipt,
    responses=errors(404, 409, body=True),
)
async def report(body: ReportIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    outcome = await run_in_threadpool(
        lambda: do_report(
            rt.db,
            reporter_id=user.id,
            target_kind=body.target_kind,
            target_id=body.target_id,
            reason=body.reason,
            detail=body.detail,
            block=body.block,
            per_day=rt.settings.reports_per_day,
            audit_secret=rt.settings.secret_key,
        )
    )
    rt.wake()
    return {
        "id": outcome.report.id,
        "status": outcome.report.status,
        "duplicate": outcome.duplicate,
        "blocked": outcome.blocked,
    }


@router.get(
    "/moderation/queue",
    summary="The review queue (moderators only)",
    response_model=ReviewQueue,
    responses=errors(),
)
async def queue(user: CurrentUser, rt: RuntimeDep, limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    require_moderator(user)

    def read() -> list[dict[str, Any]]:
        with rt.db.session() as s:
            return review_queue(s, limit)

    return {"items": await run_in_threadpool(read)}


class ActionIn(BaseModel):
    target_kind: str
    target_id: str = Field(min_length=1, max_length=32)
    action: str = Field(description="dismiss | remove | age_restrict | not_for_you | suspend | restore")
    reason: str = Field("", max_length=1000, description="Required: what the affected user is told")


@router.post(
    "/moderation/actions",
    status_code=201,
    summary="Decide on a reported item (moderators only)",
    response_model=ActionPublic,
    responses=errors(404, 409, body=True),
)
async def act(body: ActionIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    row = await run_in_threadpool(
        lambda: do_moderate(
            rt.db,
            audit_secret=rt.settings.secret_key,
            moderator=user,
            target_kind=body.target_kind,
            target_id=body.target_id,
            action=body.action,
            reason=body.reason,
        )
    )
    rt.wake()
    return action_view(row)


class DecisionIn(BaseModel):
    decision: str = Field(description="uphold | grant")
    reason: str = Field("", max_length=1000)


@router.post(
    "/moderation/appeals/{appeal_id}/decision",
    summary="Uphold or grant an appeal (moderators only)",
    response_model=StatusOf,
    responses=errors(404, 409, body=True),
)
async def decide(appeal_id: str, body: DecisionIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    appeal = await run_in_threadpool(
        lambda: do_decide_appeal(
            rt.db,
            audit_secret=rt.settings.secret_key,
            moderator=user,
            appeal_id=appeal_id,
            decision=body.decision,
            reason=body.reason,
        )
    )
    rt.wake()
    return {"id": appeal.id, "status": appeal.status}


def _review_media_key(rt: RegionRuntime, video_id: str, rendition: str) -> tuple[str, str]:
    with rt.db.session() as s:
        video = s.get(Video, video_id)
        if video is None or not under_review(s, video_id):
            raise NotFound("no such video in the review queue")
        if rendition == "poster" and video.poster_key:
            return video.poster_key, "image/jpeg"
        info = (video.renditions or {}).get(rendition)
        if not info:
            raise NotFound("no such rendition")
        return str(info["key"]), "video/mp4"


@router.get(
    "/moderation/videos/{video_id}/media/{rendition}",
    summary="A reported video's media (moderators only)",
    response_class=Response,
    responses=binary_responses(
        "video/mp4", "image/jpeg", description="The rendition (video/mp4) or the poster (image/jpeg)"
    ),
)
async def review_media(video_id: str, rendition: str, request: Request, user: CurrentUser, rt: RuntimeDep) -> Response:
    require_moderator(user)
    key, media_type = await run_in_threadpool(_review_media_key, rt, video_id, rendition)
    return blob_response(request, rt.blobs, key, media_type)


@router.get(
    "/me/notices",
    summary="What moderators decided about your content, account or reports",
    response_model=Notices,
    responses=errors(),
)
async def my_notices(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    def read() -> list[dict[str, Any]]:
        with rt.db.session() as s:
            return notices_for(s, user.id)

    return {"notices": await run_in_threadpool(read), "suspended": user.suspended_at is not None}


class AppealIn(BaseModel):
    body: str = Field(min_length=1, max_length=1000)


@router.post(
    "/me/notices/{notice_id}/appeal",
    status_code=201,
    summary="Appeal a decision (once)",
    response_model=StatusOf,
    responses=errors(404, 409, body=True),
)
async def appeal(notice_id: str, body: AppealIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    row = await run_in_threadpool(
        lambda: do_appeal(
            rt.db, audit_secret=rt.settings.secret_key, user_id=user.id, notice_id=notice_id, body=body.body
        )
    )
    rt.wake()
    return {"id": row.id, "status": row.status}
