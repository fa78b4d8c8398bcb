"""Request dependencies: the region runtime, the signed-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sovereel.actions.refusals import record_unauthenticated
from sovereel.actions.residency import check_token
from sovereel.errors import Unauthorized
from sovereel.queries.accounts import user_for_token
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import User

SESSION_COOKIE = "sovereel_session"


def get_runtime(request: Request) -> RegionRuntime:
    rt: RegionRuntime = request.state.rt
    return rt


RuntimeDep = Annotated[RegionRuntime, Depends(get_runtime)]


def request_token(request: Request) -> str | None:
    """The session token from `Authorization: Bearer …` or the session cookie."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE) or None


def optional_user(request: Request, rt: RuntimeDep) -> User | None:
    token = request_token(request)
    if not token:
        return None
    if request.headers.get("authorization"):
        check_token(rt.settings, rt.db, token)  # another region's token: 403, counted (not audited one by one)
    user = user_for_token(rt.db, rt.settings.secret_key, token)
    if user is None and request.headers.get("authorization"):
        # An explicit bearer token that does not verify is an error, not an anonymous request; counted, never
        # written per request (actions.refusals).
        record_unauthenticated(rt.db, "bad_token")
        raise Unauthorized("session expired or invalid; sign in again", code="bad_session")
    return user


def required_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("sign in first", code="not_signed_in")
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(required_user)]
