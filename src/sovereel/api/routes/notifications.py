"""The inbox API: notifications by cursor, the unread count, mark read, per-kind settings, and the live stream.

The stream (`GET /api/me/notifications/stream`, Server-Sent Events) is left out of the OpenAPI document: it is
not a JSON answer and never ends by itself within a request's time. It sends `event: unread` with
`{"unread", "created", "kind"}` at once and whenever this process's inbox hub hears `notification.*` for the
viewer on the bus, a comment line as a heartbeat, and ends after `STREAM_S` (the browser reconnects by itself
after `retry`, and reads the count again), so no stream outlives a server's shutdown for long.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from sovereel.actions.notifications import (
    SETTINGS,
    do_mark_all_read,
    do_mark_read,
    do_update_notification_settings,
    muted_settings,
)
from sovereel.api.deps import CurrentUser, RuntimeDep
from sovereel.api.schemas.common import errors
from sovereel.api.schemas.notifications import (
    NotificationPage,
    NotificationSettingsIn,
    NotificationSettingsPublic,
    UnreadCount,
)
from sovereel.queries.notifications import MAX_PAGE, check_cursor, list_notifications, unread_count
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import User

router = APIRouter(prefix="/api", tags=["inbox"])

STREAM_S = 25.0  # one stream's life: EventSource reconnects after RETRY_MS
HEARTBEAT_S = 10.0  # a comment line this often keeps proxies from closing an idle stream
RETRY_MS = 1000


def read_unread(rt: RegionRuntime, user_id: str) -> int | None:
    """The viewer's unread count (None when the account is gone)."""
    with rt.db.session() as s:
        user = s.get(User, user_id)
        return unread_count(s, user) if user is not None else None


def settings_of(rt: RegionRuntime, user_id: str) -> dict[str, bool]:
    """Each per-kind setting: on or off."""
    with rt.db.session() as s:
        muted = muted_settings(s, user_id)
    return {k: k not in muted for k in SETTINGS}


@router.get(
    "/me/notifications",
    summary="Your inbox, newest first (likes of one video grouped), by cursor",
    response_model=NotificationPage,
    responses=errors(),
)
async def my_notifications(
    user: CurrentUser,
    rt: RuntimeDep,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 30,
) -> dict[str, Any]:
    after = check_cursor(cursor)

    def read() -> dict[str, Any]:
        with rt.db.session() as s:
            me = s.get(User, user.id) or user
            return {**list_notifications(s, me, after, limit), "unread": unread_count(s, me)}

    return await run_in_threadpool(read)


@router.get(
    "/me/notifications/unread",
    summary="How many inbox items are unread",
    response_model=UnreadCount,
    responses=errors(),
)
async def my_unread(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    return {"unread": await run_in_threadpool(read_unread, rt, user.id) or 0}


@router.post(
    "/me/notifications/read-all",
    summary="Mark every notification read",
    response_model=UnreadCount,
    responses=errors(),
)
async def mark_all_read(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(lambda: do_mark_all_read(rt.db, user_id=user.id))
    rt.wake()
    return {"unread": await run_in_threadpool(read_unread, rt, user.id) or 0}


@router.post(
    "/me/notifications/{notification_id}/read",
    summary="Mark one inbox item read (all the likes it groups)",
    response_model=UnreadCount,
    responses=errors(404),
)
async def mark_read(notification_id: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(lambda: do_mark_read(rt.db, user_id=user.id, notification_id=notification_id))
    rt.wake()
    return {"unread": await run_in_threadpool(read_unread, rt, user.id) or 0}


@router.get(
    "/me/notification-settings",
    summary="Which kinds of notification are on",
    response_model=NotificationSettingsPublic,
    responses=errors(),
)
async def get_notification_settings(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(settings_of, rt, user.id)


@router.put(
    "/me/notification-settings",
    summary="Turn kinds of notification on or off (moderation notices cannot be turned off)",
    response_model=NotificationSettingsPublic,
    responses=errors(body=True),
)
async def put_notification_settings(body: NotificationSettingsIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    enabled = {k: v for k, v in body.model_dump().items() if v is not None}
    await run_in_threadpool(lambda: do_update_notification_settings(rt.db, user_id=user.id, enabled=enabled))
    return await run_in_threadpool(settings_of, rt, user.id)


def _event(data: dict[str, Any]) -> str:
    return f"event: unread\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _stream(rt: RegionRuntime, user_id: str) -> AsyncIterator[str]:
    """The viewer's live inbox: the unread count now, then again on every wake-up from the bus."""
    loop = asyncio.get_running_loop()
    listener = rt.inbox.listen(user_id)  # before the first read, so nothing falls between the two
    try:
        yield f"retry: {RETRY_MS}\n\n"
        unread = await run_in_threadpool(read_unread, rt, user_id)
        if unread is None:
            return
        yield _event({"unread": unread, "created": False, "kind": None})
        deadline = loop.time() + STREAM_S
        while (left := deadline - loop.time()) > 0:
            try:
                wake = await asyncio.wait_for(listener.queue.get(), timeout=min(HEARTBEAT_S, left))
            except TimeoutError:
                yield ": ping\n\n"
                continue
            created, kind = wake.created, wake.kind
            while not listener.queue.empty():  # a burst (a block clears several) is one read
                more = listener.queue.get_nowait()
                created, kind = created or more.created, more.kind or kind
            unread = await run_in_threadpool(read_unread, rt, user_id)
            if unread is None:
                return
            yield _event({"unread": unread, "created": created, "kind": kind})
    finally:
        rt.inbox.leave(user_id, listener)


@router.get("/me/notifications/stream", include_in_schema=False)
async def notification_stream(user: CurrentUser, rt: RuntimeDep) -> StreamingResponse:
    """Server-Sent Events: the unread count, live (see the module docstring)."""
    return StreamingResponse(
        _stream(rt, user.id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
