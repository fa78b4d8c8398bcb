"""Sounds: the credit under a video, a sound's page and its videos, the creator's reuse setting."""

from __future__ import annotations

from pydantic import Field

from sovereel.api.schemas.common import Number, Public
from sovereel.api.schemas.videos import SoundCredit, VideoPublic


class SoundSummary(SoundCredit):
    """A sound in search results or on a hashtag page, with how many visible videos use it."""

    video_count: int


class SoundPublic(Public):
    """A sound as the viewer sees it."""

    id: str
    title: str
    creator_username: str | None = Field(description="null once the creator's account is erased")
    duration_s: Number | None
    original_video_id: str | None = Field(description="null when the original is unavailable")
    original_available: bool = Field(description="false once the original video is removed, deleted or erased")
    reuse_allowed: bool = Field(description='whether the viewer may make a video with it ("Use this sound")')
    is_own: bool
    video_count: int
    audio_url: str | None
    url: str


class SoundReuse(Public):
    """Whether others may make videos with your original sounds."""

    allow_reuse: bool


class SoundPage(Public):
    """A sound and the videos using it that the viewer may see, most viewed first."""

    sound: SoundPublic
    videos: list[VideoPublic]
    next_cursor: str | None
