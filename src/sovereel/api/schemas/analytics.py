"""Creator analytics: one video's figures and the account's trends (aggregates only, never who watched)."""

from __future__ import annotations

from pydantic import Field

from sovereel.api.schemas.common import Public


class AnalyticsVideo(Public):
    """The video the figures are about."""

    id: str
    caption: str
    duration_s: float | None
    created_at: float
    url: str


class RetentionPoint(Public):
    """The share (0–1) of the video's viewers still watching at `second`."""

    second: int
    share: float


class SourceViews(Public):
    """Views that came from one place: foryou, following, profile, hashtag, search, share (a link) or other."""

    source: str
    views: int
    share: float


class VideoDay(Public):
    """One UTC day of a video: views and seconds watched."""

    date: str
    views: int
    watch_time_s: float


class VideoAnalytics(Public):
    """A video's figures for its creator. `retention`, `sources` and `daily` are null (`breakdown_hidden`) until
    `min_viewers` distinct viewers watched. `updated_at`: when the newest folded event reached these figures."""

    video: AnalyticsVideo
    updated_at: float | None
    updated_ago_s: int | None
    views: int = Field(description="first plays of a viewer in a UTC day, like the public count")
    unique_viewers: int
    watch_time_s: float = Field(description="the sum over viewers of the most each watched, in seconds")
    average_watch_s: float
    completion_rate: float = Field(description="the share of viewers who watched to the end")
    likes: int
    comments: int
    shares: int
    new_followers: int = Field(description="follows of the creator within the hour after watching this video")
    min_viewers: int
    breakdown_hidden: bool
    retention: list[RetentionPoint] | None
    sources: list[SourceViews] | None
    daily: list[VideoDay] | None


class AccountPeriod(Public):
    """The account's totals over the last `days` days (today included)."""

    days: int
    views: int
    followers_gained: int
    followers_lost: int


class AccountDay(Public):
    """One UTC day of the account."""

    date: str
    views: int
    followers_gained: int
    followers_lost: int


class VideoSummary(Public):
    """One of the account's videos, in the list that leads to its own analytics page (`url`)."""

    id: str
    caption: str
    status: str
    views: int
    unique_viewers: int
    average_watch_s: float
    completion_rate: float
    url: str


class AccountAnalytics(Public):
    """The signed-in creator's trends over 7 / 28 / 60 days; `daily` is null (`breakdown_hidden`) until
    `min_viewers` distinct viewers watched any of the account's videos."""

    username: str
    updated_at: float | None
    updated_ago_s: int | None
    followers: int
    unique_viewers: int
    min_viewers: int
    breakdown_hidden: bool
    periods: list[AccountPeriod]
    daily: list[AccountDay] | None
    videos: list[VideoSummary]
