"""Videos: upload, read, delete, retry, media, likes, comments, shares."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sovereel.actions.social import (
    do_comment,
    do_delete_comment,
    do_like,
    do_share,
    do_unlike,
)
from sovereel.actions.videos import (
    check_caption,
    check_sound_choice,
    check_visibility,
    do_create_video,
    do_delete_video,
    do_retry_video,
)
from sovereel.api.deps import CurrentUser, OptionalUser, RuntimeDep
from sovereel.api.media_range import blob_response
from sovereel.api.schemas.common import binary_responses, errors, inline_schema
from sovereel.api.schemas.videos import (
    CommentListing,
    CommentPublic,
    LikeState,
    ShareCount,
    UploadAccepted,
    VideoDetail,
    VideoUploadForm,
)
from sovereel.api.upload import receive_upload
from sovereel.errors import NotFound
from sovereel.queries.access import ensure_active, viewable_video
from sovereel.queries.comments import comment_listing
from sovereel.queries.videos import user_view, video_views
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import MediaJob

router = APIRouter(prefix="/api/videos", tags=["videos"])


def video_json(rt: RegionRuntime, video_id: str, viewer_id: str | None) -> dict[str, Any]:
    with rt.db.session() as s:
        video = viewable_video(s, video_id, viewer_id)
        view = video_views(s, [video], viewer_id)[0]
        if view["is_own"] and video.status != "ready":
            job = s.get(MediaJob, video_id)
            view["processing"] = {"attempts": job.attempts, "last_error": job.last_error} if job else None
        return view


@router.post(
    "",
    status_code=202,
    summary="Upload a video (multipart: file, caption, visibility, and optionally a sound to use)",
    response_model=UploadAccepted,
    response_model_exclude_unset=True,  # `processing` only where the handler sets it
    responses=errors(507, body=True),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": inline_schema(VideoUploadForm)}},
        }
    },
)
async def upload_video(request: Request, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    ensure_active(user)  # a suspended account cannot upload
    staged = await receive_upload(request, rt.settings)
    try:
        caption = check_caption(staged.fields.get("caption", ""), rt.settings.max_caption_chars)
        visibility = check_visibility(staged.fields.get("visibility", "public") or "public")
        sound_id, sound_mode = check_sound_choice(
            staged.fields.get("sound_id", ""), staged.fields.get("sound_mode", "")
        )
        video = await run_in_threadpool(
            lambda: do_create_video(
                rt.db,
                rt.blobs,
                creator_id=user.id,
                staged=staged.path,
                original_name=staged.original_name,
                caption=caption,
                visibility=visibility,
                duration_s=staged.probe.duration_s,
                width=staged.probe.width,
                height=staged.probe.height,
                sound_id=sound_id,
                sound_mode=sound_mode,
            )
        )
    finally:
        staged.discard()
    rt.wake()
    return {"id": video.id, "status": video.status, "video": await run_in_threadpool(video_json, rt, video.id, user.id)}


@router.get(
    "/{video_id}",
    summary="A video as the viewer may see it",
    response_model=VideoDetail,
    response_model_exclude_unset=True,
    responses=errors(404),
)
async def get_video(video_id: str, rt: RuntimeDep, viewer: OptionalUser) -> dict[str, Any]:
    return await run_in_threadpool(video_json, rt, video_id, viewer.id if viewer else None)


@router.delete("/{video_id}", status_code=204, summary="Delete your own video", responses=errors(404))
async def delete_video(video_id: str, user: CurrentUser, rt: RuntimeDep) -> Response:
    await run_in_threadpool(lambda: do_delete_video(rt.db, rt.blobs, video_id=video_id, user_id=user.id))
    rt.wake()
    return Response(status_code=204)


@router.post(
    "/{video_id}/retry",
    status_code=202,
    summary="Retry a failed transcode",
    response_model=VideoDetail,
    response_model_exclude_unset=True,
    responses=errors(404, 409),
)
async def retry_video(video_id: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(lambda: do_retry_video(rt.db, video_id=video_id, user_id=user.id))
    rt.wake()
    return await run_in_threadpool(video_json, rt, video_id, user.id)


@router.get(
    "/{video_id}/media/{rendition}",
    summary="A rendition listed in the video's `renditions`, or the poster, with HTTP Range support",
    response_class=Response,
    responses=binary_responses(
        "video/mp4", "image/jpeg", description="The rendition (video/mp4) or the poster (image/jpeg)"
    ),
)
async def media(video_id: str, rendition: str, request: Request, rt: RuntimeDep, viewer: OptionalUser) -> Response:
    def lookup() -> tuple[str, str]:
        with rt.db.session() as s:
            video = viewable_video(s, video_id, viewer.id if viewer else None)
            if rendition == "poster" and video.poster_key:
                return video.poster_key, "image/jpeg"
            info = (video.renditions or {}).get(rendition)
            if not info:
                raise NotFound("no such rendition")
            return str(info["key"]), "video/mp4"

    key, media_type = await run_in_threadpool(lookup)
    return blob_response(request, rt.blobs, key, media_type)


@router.post("/{video_id}/like", summary="Like a video", response_model=LikeState, responses=errors(404))
async def like(video_id: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    count = await run_in_threadpool(lambda: do_like(rt.db, user_id=user.id, video_id=video_id))
    rt.wake()
    return {"liked": True, "like_count": count}


@router.delete("/{video_id}/like", summary="Remove your like", response_model=LikeState, responses=errors(404))
async def unlike(video_id: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    count = await run_in_threadpool(lambda: do_unlike(rt.db, user_id=user.id, video_id=video_id))
    rt.wake()
    return {"liked": False, "like_count": count}


class ShareIn(BaseModel):
    channel: str = Field("link", max_length=32)


@router.post(
    "/{video_id}/share",
    summary="Count a share (once per viewer, video and UTC day; the page copies the link)",
    response_model=ShareCount,
    responses=errors(404, body=True),
)
async def share(
    video_id: str, request: Request, rt: RuntimeDep, viewer: OptionalUser, body: ShareIn | None = None
) -> dict[str, Any]:
    channel = body.channel if body else "link"
    address = request.client.host if request.client else None  # signed out: the viewer is the address (hashed)
    count = await run_in_threadpool(
        lambda: do_share(
            rt.db,
            user_id=viewer.id if viewer else None,
            video_id=video_id,
            channel=channel,
            address=address,
            counter_secret=rt.settings.secret_key,
        )
    )
    rt.wake()
    return {"share_count": count, "url": f"/v/{video_id}"}


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=1000)
    parent_id: str | None = Field(None, max_length=32)


def comment_views(rt: RegionRuntime, video_id: str, viewer_id: str | None, limit: int) -> dict[str, Any]:
    """Comments as the viewer may see them (blocks, the creator's keyword filters), and who may comment."""
    with rt.db.session() as s:
        video = viewable_video(s, video_id, viewer_id)
        return comment_listing(s, video, viewer_id, limit)


@router.get(
    "/{video_id}/comments",
    summary="Comments, newest first, with their replies",
    response_model=CommentListing,
    responses=errors(404),
)
async def list_comments(
    video_id: str, rt: RuntimeDep, viewer: OptionalUser, limit: int = Query(200, ge=1, le=500)
) -> dict[str, Any]:
    return await run_in_threadpool(comment_views, rt, video_id, viewer.id if viewer else None, limit)


@router.post(
    "/{video_id}/comments",
    status_code=201,
    summary="Comment, or reply to a top-level comment",
    response_model=CommentPublic,
    responses=errors(404, body=True),
)
async def add_comment(video_id: str, body: CommentIn, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    ensure_active(user)
    comment = await run_in_threadpool(
        lambda: do_comment(rt.db, user_id=user.id, video_id=video_id, body=body.body, parent_id=body.parent_id)
    )
    rt.wake()
    return {
        "id": comment.id,
        "body": comment.body,
        "parent_id": comment.parent_id,
        "author": user_view(user),
        "created_at": comment.created_at,
        "is_own": True,
        "can_delete": True,
        "hidden": False,
        "replies": [],
    }


comments_router = APIRouter(prefix="/api/comments", tags=["videos"])


@comments_router.delete(
    "/{comment_id}",
    status_code=204,
    summary="Delete your comment, or any on your video",
    responses=errors(404),
)
async def delete_comment(comment_id: str, user: CurrentUser, rt: RuntimeDep) -> Response:
    await run_in_threadpool(
        lambda: do_delete_comment(rt.db, user_id=user.id, comment_id=comment_id, audit_secret=rt.settings.secret_key)
    )
    return Response(status_code=204)
