"""The For You and Following feeds."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sovereel.api.schemas.common import Public
from sovereel.api.schemas.videos import VideoPublic


class FeedReason(Public):
    """Why For You served this video, in short (the full account is `GET /api/videos/{id}/why`)."""

    sources: Any = Field(description="the candidate sources that proposed it")
    model_version: Any
    params_version: Any
    explanation: Any = Field(description="plain-words reasons")
    personalised: Any


class FeedVideo(VideoPublic):
    """A video in For You, with why it was served."""

    reason: FeedReason


class ForYouPage(Public):
    """A page of For You; pass `next_cursor` back for the next one."""

    items: list[FeedVideo]
    next_cursor: str | None
    request_id: str | None


class FollowingPage(Public):
    """A page of the Following feed, newest first."""

    items: list[VideoPublic]
    next_cursor: str | None
