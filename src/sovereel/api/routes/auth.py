"""Sign-up, sign-in, sign-out, and the signed-in user's own profile."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, Response, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sovereel.actions.accounts import do_login, do_logout, do_signup, do_update_profile
from sovereel.api.deps import SESSION_COOKIE, CurrentUser, RuntimeDep, request_token
from sovereel.api.schemas.auth import MePublic, SessionPublic
from sovereel.api.schemas.common import errors
from sovereel.errors import Invalid, TooLarge, UnsupportedMedia
from sovereel.media.ffmpeg_args import avatar_args
from sovereel.media.sniff import sniff_image
from sovereel.queries.videos import user_view
from sovereel.storage.models import User

router = APIRouter(prefix="/api", tags=["auth"])
MAX_AVATAR_BYTES = 5 * 1024 * 1024
AVATAR_TYPES = "image/jpeg, image/png, image/webp"  # sniffed from the bytes, whatever the part's type says
AvatarFile = Annotated[
    UploadFile,
    File(description=f"A JPEG, PNG or WebP image of at most {MAX_AVATAR_BYTES} bytes; stored as a 256×256 JPEG"),
]


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class SignupIn(Credentials):
    display_name: str = Field("", max_length=64)
    birth_date: date | None = Field(None, description="ISO date (YYYY-MM-DD); required, and at least 13 years ago")


class ProfileUpdate(BaseModel):
    display_name: str | None = Field(None, max_length=64)
    bio: str | None = Field(None, max_length=280)


def me_view(user: User) -> dict[str, Any]:
    return {**user_view(user), "role": user.role}


def _set_cookie(response: Response, token: str, days: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=days * 86400, httponly=True, samesite="lax", secure=secure, path="/"
    )


@router.post(
    "/auth/signup",
    status_code=201,
    summary="Create an account and sign in",
    response_model=SessionPublic,
    responses=errors(409, body=True),
)
async def signup(body: SignupIn, rt: RuntimeDep, response: Response) -> dict[str, Any]:
    if body.birth_date is None:
        raise Invalid(
            "birth_date is required (YYYY-MM-DD): sovereel is for people aged 13 and over", code="birth_date_required"
        )
    await run_in_threadpool(
        lambda: do_signup(rt.db, body.username, body.password, body.display_name, birth_date=body.birth_date)
    )
    user, token = await run_in_threadpool(
        do_login, rt.db, rt.settings.secret_key, body.username, body.password, rt.settings.session_days
    )
    _set_cookie(response, token, rt.settings.session_days, rt.settings.environment == "production")
    return {"user": me_view(user), "token": token}


@router.post(
    "/auth/login",
    summary="Sign in; returns a bearer token and sets the session cookie",
    response_model=SessionPublic,
    responses=errors(body=True),
)
async def login(body: Credentials, rt: RuntimeDep, response: Response) -> dict[str, Any]:
    user, token = await run_in_threadpool(
        do_login, rt.db, rt.settings.secret_key, body.username, body.password, rt.settings.session_days
    )
    _set_cookie(response, token, rt.settings.session_days, rt.settings.environment == "production")
    return {"user": me_view(user), "token": token}


@router.post("/auth/logout", status_code=204, summary="End this session", responses=errors())
async def logout(request: Request, rt: RuntimeDep) -> Response:
    token = request_token(request)
    if token:
        await run_in_threadpool(do_logout, rt.db, rt.settings.secret_key, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", summary="The signed-in user", response_model=MePublic, responses=errors())
async def me(user: CurrentUser) -> dict[str, Any]:
    return me_view(user)


@router.patch("/me", summary="Edit display name and bio", response_model=MePublic, responses=errors(body=True))
async def update_me(body: ProfileUpdate, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    updated = await run_in_threadpool(
        lambda: do_update_profile(rt.db, user.id, display_name=body.display_name, bio=body.bio)
    )
    return me_view(updated)


def _square_avatar(src: Path, dest: Path, kind: str) -> None:
    """Centre-crop and scale an image of sniffed `kind` to a 256×256 JPEG with ffmpeg (proving it decodes)."""
    # ffmpeg reads the file only as `kind` (see media/inputs.py): never as a playlist or script.
    proc = subprocess.run(avatar_args(src, dest, kind), capture_output=True, timeout=30, check=False)
    if proc.returncode != 0 or not dest.is_file():
        raise Invalid("the avatar image could not be read", code="image_unreadable")


@router.post(
    "/me/avatar",
    summary="Upload an avatar image (JPEG, PNG or WebP, up to 5 MB)",
    response_model=MePublic,
    responses=errors(507, body=True),
    openapi_extra={
        "requestBody": {"content": {"multipart/form-data": {"encoding": {"file": {"contentType": AVATAR_TYPES}}}}}
    },
)
async def upload_avatar(file: AvatarFile, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    data = await file.read(MAX_AVATAR_BYTES + 1)
    if len(data) > MAX_AVATAR_BYTES:
        raise TooLarge("an avatar is at most 5 MB")
    kind = sniff_image(data)
    if kind is None:
        raise UnsupportedMedia("an avatar must be a JPEG, PNG or WebP image")
    key = f"avatars/{user.id}.jpg"
    with tempfile.TemporaryDirectory() as tmp:
        src, dest = Path(tmp) / "in", Path(tmp) / "out.jpg"
        src.write_bytes(data)
        await asyncio.to_thread(_square_avatar, src, dest, kind)
        await asyncio.to_thread(rt.blobs.put_file, key, dest)
    updated = await run_in_threadpool(lambda: do_update_profile(rt.db, user.id, avatar_key=key))
    return me_view(updated)
