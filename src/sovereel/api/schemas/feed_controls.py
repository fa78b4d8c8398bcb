"""The viewer's For You controls and "Why this video?"."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sovereel.api.schemas.common import Number, Public


class NotInterestedMark(Public):
    """One "not interested" mark: a video id, a creator's username, or a hashtag."""

    kind: str = Field(description="video | creator | hashtag")
    value: str


class FeedSettings(Public):
    """The viewer's For You controls."""

    personalised: bool
    keyword_filters: list[str]
    profile_reset_at: Number | None = Field(description="when the learned profile was last forgotten")
    not_interested: list[NotInterestedMark]


class WhyThisVideo(Public):
    """The viewer's own most recent For You impression of a video, and why it was served."""

    video_id: str
    served_at: Number
    position: int
    sources: Any
    model_version: Any
    params_version: Any
    score: Any
    terms: Any = Field(description="the score's terms by name")
    explanation: Any
    personalised: Any
