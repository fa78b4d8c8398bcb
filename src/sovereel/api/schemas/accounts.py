"""An account as others see it: the fields every view of a user shares."""

from __future__ import annotations

from pydantic import Field

from sovereel.api.schemas.common import Public


class UserPublic(Public):
    """Public profile fields of an account."""

    id: str
    username: str
    display_name: str
    bio: str
    avatar_url: str | None = Field(description="null when there is no avatar, or the viewer may not see it")
    follower_count: int
    following_count: int
    region: str
    is_private: bool
