"""Sounds: a sound and its videos, its audio, and a creator's "let others use my sounds" setting."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sovereel.actions.sounds import do_set_sound_reuse
from sovereel.api.deps import CurrentUser, OptionalUser, RuntimeDep
from sovereel.api.media_range import blob_response
from sovereel.api.schemas.common import binary_responses, errors
from sovereel.api.schemas.sounds import SoundPage, SoundReuse
from sovereel.errors import NotFound
from sovereel.queries.access import allows_sound_reuse
from sovereel.queries.sounds import sound_videos, sound_view, visible_sound
from sovereel.queries.videos import video_views
from sovereel.runtime.region import RegionRuntime

router = APIRouter(prefix="/api", tags=["sounds"])


def sound_json(
    rt: RegionRuntime, sound_id: str, viewer_id: str | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    with rt.db.session() as s:
        sound, state = visible_sound(s, sound_id, viewer_id)
        videos, nxt = sound_videos(s, sound.id, viewer_id, cursor, limit)
        return {
            "sound": sound_view(s, sound, state, viewer_id),
            "videos": video_views(s, videos, viewer_id),
            "next_cursor": nxt,
        }


@router.get(
    "/sounds/{sound_id}",
    summary="A sound and the videos using it, most viewed first",
    response_model=SoundPage,
    responses=errors(404),
)
async def get_sound(
    sound_id: str,
    rt: RuntimeDep,
    viewer: OptionalUser,
    cursor: str | None = Query(None, max_length=60),
    limit: int = Query(24, ge=1, le=100),
) -> dict[str, Any]:
    return await run_in_threadpool(sound_json, rt, sound_id, viewer.id if viewer else None, cursor, limit)


@router.get(
    "/sounds/{sound_id}/audio",
    summary="A sound's audio (AAC in MP4), with HTTP Range support",
    response_class=Response,
    responses=binary_responses("audio/mp4", description="The sound's audio"),
)
async def sound_audio(sound_id: str, request: Request, rt: RuntimeDep, viewer: OptionalUser) -> Response:
    def lookup() -> str:
        with rt.db.session() as s:
            sound, state = visible_sound(s, sound_id, viewer.id if viewer else None)
            if state != "available" or sound.audio_key is None:
                raise NotFound("this sound's audio is no longer available", code="sound_unavailable")
            return sound.audio_key

    key = await run_in_threadpool(lookup)
    return blob_response(request, rt.blobs, key, "audio/mp4")


class SoundReuseIn(BaseModel):
    allow_reuse: bool = Field(description="whether others may make videos with your original sounds")


def reuse_json(rt: RegionRuntime, user_id: str) -> dict[str, Any]:
    with rt.db.session() as s:
        return {"allow_reuse": allows_sound_reuse(s, user_id)}


@router.get("/me/sound-reuse", summary="Whether others may use your original sounds", response_model=SoundReuse)
async def get_sound_reuse(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(reuse_json, rt, user.id)


@router.put(
    "/me/sound-reuse",
    summary='Let others use your original sounds, or stop them ("Use this sound" is then refused with 403)',
    response_model=SoundReuse,
    responses=errors(422),
)
async def put_sound_reuse(body: SoundReuseIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    allow = await run_in_threadpool(
        lambda: do_set_sound_reuse(rt.db, user.id, body.allow_reuse, audit_secret=rt.settings.secret_key)
    )
    return {"allow_reuse": allow}
