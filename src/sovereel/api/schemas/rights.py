"""User data rights (exports, erasure) and the content exchange between regions."""

from __future__ import annotations

from pydantic import Field

from sovereel.api.schemas.common import Number, Public


class ExportPublic(Public):
    """A "Download my data" job as its owner sees it."""

    id: str
    state: str = Field(description="queued | running | ready | failed | expired")
    progress: Number = Field(description="0 to 1")
    step: str
    created_at: Number
    finished_at: Number | None
    expires_at: Number | None
    size_bytes: int | None
    error: str | None
    download_url: str | None = Field(description="a signed link while the export is ready and the link valid")


class ExportList(Public):
    """The user's exports, newest first."""

    exports: list[ExportPublic]


class AccountErased(Public):
    """The account and its data are gone; the erasure's id is what the trainer checks against."""

    erased: bool
    erasure_id: str


class ExchangeCreator(Public):
    """An exchanged video's creator: a handle, never an account id."""

    handle: str
    display_name: str


class ExchangeVideo(Public):
    """A public, ready video offered to other regions: public fields only."""

    id: str
    caption: str
    hashtags: list[str]
    duration_s: Number | None
    width: int | None
    height: int | None
    created_at: Number
    ready_at: Number
    creator: ExchangeCreator
    renditions: list[str]
    poster: bool


class ExchangeFeed(Public):
    """This region's public videos after `since`, for a peer region."""

    region: str
    videos: list[ExchangeVideo]


class ExchangeOffered(Public):
    """Which of the asked videos this region still offers."""

    region: str
    offered: list[str]
