"""Profiles, follows, hashtags and search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from sovereel.actions.residency import check_username
from sovereel.actions.social import do_follow, do_unfollow
from sovereel.api.deps import CurrentUser, OptionalUser, RuntimeDep
from sovereel.api.media_range import blob_response
from sovereel.api.schemas.common import binary_responses, errors
from sovereel.api.schemas.users import (
    HASHTAG_DOC_PATTERN,
    FollowState,
    HashtagPage,
    Profile,
    SearchResults,
    UnfollowState,
)
from sovereel.captions import hashtag_key
from sovereel.errors import NotFound
from sovereel.queries.access import SHOWS_ACCOUNT, visible_user
from sovereel.queries.safety import follow_requested
from sovereel.queries.search import query_terms, search_hashtags, search_users, search_video_ids
from sovereel.queries.sounds import hashtag_sounds, search_sounds
from sovereel.queries.videos import hashtag_videos, user_videos, user_view, video_views
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Follow, Hashtag, User, Video

router = APIRouter(prefix="/api", tags=["users"])
# Documented, not checked here: `hashtag_key` decides, and a name that cannot be a hashtag is a 404 like an unused one.
HashtagName = Annotated[
    str,
    Path(
        description="A hashtag, with or without its #: up to 100 letters, digits or underscores, not only digits",
        json_schema_extra={"minLength": 1, "maxLength": 101, "pattern": HASHTAG_DOC_PATTERN},
    ),
]


def profile_json(
    rt: RegionRuntime, username: str, viewer_id: str | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    # Another region's user: 403; audited for a signed-in viewer, only counted for an anonymous one.
    check_username(rt.settings, rt.db, username, signed_in=viewer_id is not None)
    with rt.db.session() as s:
        # One rule (queries.access): hidden when blocked by it, or a 13-15-year-old's the viewer does not follow.
        user, access = visible_user(s, username, viewer_id)
        videos, nxt = user_videos(s, user.id, viewer_id, cursor, limit) if access in ("own", "full") else ([], None)
        following = viewer_id is not None and s.get(Follow, (viewer_id, user.id)) is not None
        return {
            "user": {
                **user_view(user),
                # Blocks hide both ways: the blocker is shown a "blocked" state, not the blocked one's picture.
                **({"avatar_url": None} if access not in SHOWS_ACCOUNT else {}),
                "followed_by_me": following,
                "is_me": viewer_id == user.id,
                "blocked_by_me": access == "blocked_by_me",
                "follow_requested": follow_requested(s, viewer_id, user.id),
                "access": access,
                # Only the holder is told (and still sees its videos): to everyone else they are simply gone.
                "suspended": access == "own" and user.suspended_at is not None,
            },
            "videos": video_views(s, videos, viewer_id),
            "next_cursor": nxt,
        }


@router.get(
    "/users/{username}",
    summary="A profile with the user's videos",
    response_model=Profile,
    responses=errors(404),
)
async def get_user(
    username: str,
    rt: RuntimeDep,
    viewer: OptionalUser,
    cursor: str | None = None,
    limit: int = Query(24, ge=1, le=100),
) -> dict[str, Any]:
    return await run_in_threadpool(profile_json, rt, username, viewer.id if viewer else None, cursor, limit)


@router.get(
    "/users/{username}/avatar",
    summary="The user's avatar image",
    response_class=Response,
    responses=binary_responses("image/jpeg", description="The avatar, a 256×256 JPEG"),
)
async def avatar(username: str, request: Request, rt: RuntimeDep, viewer: OptionalUser) -> Response:
    def key() -> str:
        with rt.db.session() as s:
            # The picture is part of the account: whoever may not see the account gets 404, as for its profile.
            try:
                user, access = visible_user(s, username, viewer.id if viewer else None)
            except NotFound:
                raise NotFound("no avatar") from None
            if access not in SHOWS_ACCOUNT or not user.avatar_key:
                raise NotFound("no avatar")
            return user.avatar_key

    return blob_response(request, rt.blobs, await run_in_threadpool(key), "image/jpeg")


@router.post(
    "/users/{username}/follow",
    summary="Follow a user",
    response_model=FollowState,
    response_model_exclude_unset=True,  # `requested` only when the follow became a request
    responses=errors(404, 409),
)
async def follow(username: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(lambda: check_username(rt.settings, rt.db, username, signed_in=True))

    def follow_state() -> dict[str, Any]:
        do_follow(rt.db, user_id=user.id, username=username, audit_secret=rt.settings.secret_key)
        with rt.db.session() as s:
            target = s.scalar(select(User).where(User.username_key == username.lower()))
            if target is None:  # deleted between the follow and this read
                raise NotFound("no such user")
            following = s.get(Follow, (user.id, target.id)) is not None
            return {"following": following, "requested": not following and follow_requested(s, user.id, target.id)}

    state = await run_in_threadpool(follow_state)
    rt.wake()
    if state["requested"]:  # a private account: the holder approves the request first
        return state
    return {"following": True}


@router.delete(
    "/users/{username}/follow",
    summary="Unfollow a user",
    response_model=UnfollowState,
    responses=errors(404),
)
async def unfollow(username: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    await run_in_threadpool(lambda: check_username(rt.settings, rt.db, username, signed_in=True))
    await run_in_threadpool(lambda: do_unfollow(rt.db, user_id=user.id, username=username))
    rt.wake()
    return {"following": False}


def hashtag_json(rt: RegionRuntime, tag: str, viewer_id: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    key = hashtag_key(tag)  # matched whole: "cats\n" or "#" alone is no hashtag
    if key is None:
        raise NotFound("no such hashtag")
    tag = key
    with rt.db.session() as s:
        row = s.get(Hashtag, tag)
        videos, nxt = hashtag_videos(s, tag, viewer_id, cursor, limit)
        if row is None and not videos:
            raise NotFound("no such hashtag")
        return {
            "tag": tag,
            "videos": video_views(s, videos, viewer_id),
            "next_cursor": nxt,
            "sounds": hashtag_sounds(s, tag, viewer_id),  # the sounds the tag's videos use, most used first
        }


@router.get(
    "/hashtags/{tag}",
    summary="Videos with a hashtag, newest first",
    response_model=HashtagPage,
    responses=errors(404),
)
async def hashtag(
    tag: HashtagName,
    rt: RuntimeDep,
    viewer: OptionalUser,
    cursor: str | None = None,
    limit: int = Query(24, ge=1, le=100),
) -> dict[str, Any]:
    return await run_in_threadpool(hashtag_json, rt, tag, viewer.id if viewer else None, cursor, limit)


def search_json(rt: RegionRuntime, q: str, viewer_id: str | None, limit: int) -> dict[str, Any]:
    with rt.db.session() as s:
        ids = search_video_ids(s, q, viewer_id, limit)
        videos = {v.id: v for v in s.scalars(select(Video).where(Video.id.in_(ids)))}
        return {
            "query": q,
            "users": [user_view(u) for u in search_users(s, q, limit, viewer_id)],
            "videos": video_views(s, [videos[i] for i in ids if i in videos], viewer_id),
            "hashtags": [{"tag": h.tag, "video_count": h.video_count} for h in search_hashtags(s, q, limit)],
            "sounds": search_sounds(s, query_terms(q), viewer_id, limit),
        }


@router.get(
    "/search", summary="Search users, captions, hashtags and sounds", response_model=SearchResults, responses=errors()
)
async def search(
    rt: RuntimeDep, viewer: OptionalUser, q: str = Query(..., max_length=200), limit: int = Query(20, ge=1, le=50)
) -> dict[str, Any]:
    return await run_in_threadpool(search_json, rt, q, viewer.id if viewer else None, limit)
