"""Signing up and in, and the signed-in user's own account."""

from __future__ import annotations

from pydantic import Field

from sovereel.api.schemas.accounts import UserPublic
from sovereel.api.schemas.common import Public


class MePublic(UserPublic):
    """The signed-in user: the public fields and the account's role."""

    role: str = Field(description="user | moderator | overseer | admin")


class SessionPublic(Public):
    """A new session: the account and its bearer token (the session cookie is set as well)."""

    user: MePublic
    token: str
