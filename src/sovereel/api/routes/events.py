"""The watch-event batch endpoint the page reports impressions, plays, progress and skips to."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from sovereel.actions.watch import WatchEvent
from sovereel.api.deps import CurrentUser, RuntimeDep
from sovereel.api.schemas.common import errors, inline_schema
from sovereel.api.schemas.events import EventBatch, EventsAccepted
from sovereel.errors import TooLarge

router = APIRouter(prefix="/api", tags=["events"])
MAX_BODY = 1024 * 1024
# The page sends at most 100 events a batch, so at most 100 videos; a batch naming more is not a viewer's.
MAX_BATCH_VIDEOS = 100


@router.post(
    "/events",
    summary="Report a batch of watch events (stored once per client_id; a view counts once per viewer and day)",
    response_model=EventsAccepted,
    responses=errors(body=True),
    # Read by hand (size first, then strict parsing), so the body is documented here rather than by a parameter.
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(EventBatch)}}}
    },
)
async def post_events(request: Request, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise TooLarge("an event batch is at most 1 MB", code="batch_too_large")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise TooLarge("an event batch is at most 1 MB", code="batch_too_large")
    batch = EventBatch.model_validate_json(body)
    if len(batch.events) > rt.settings.max_event_batch:
        raise TooLarge(f"at most {rt.settings.max_event_batch} events per batch", code="batch_too_large")
    if len({e.video_id for e in batch.events}) > MAX_BATCH_VIDEOS:
        raise TooLarge(f"an event batch names at most {MAX_BATCH_VIDEOS} videos", code="batch_too_large")
    events = [
        WatchEvent(
            client_id=e.client_id,
            kind=e.kind,
            video_id=e.video_id,
            ts=e.ts / 1000.0,
            watched_s=float(e.watched_s) if e.watched_s is not None else None,
            position_s=float(e.position_s) if e.position_s is not None else None,
            request_id=e.request_id,
            source=e.source,
        )
        for e in batch.events
    ]
    result = await run_in_threadpool(rt.events.record, user.id, events)
    rt.wake()
    return {"accepted": result.accepted, "duplicates": result.duplicates}
