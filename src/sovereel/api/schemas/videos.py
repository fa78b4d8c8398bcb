"""Videos as a viewer sees them, uploads, likes, shares and comments."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sovereel.api.schemas.accounts import UserPublic
from sovereel.api.schemas.common import Number, Public


class Rendition(Public):
    """One stored rendition a player may choose: label, pixel size and bytes (null when unknown), URL."""

    label: str
    width: int | None
    height: int | None
    bytes: int | None
    url: str


class SoundCredit(Public):
    """The sound a video credits ("original sound – @ana"), linking the sound's page."""

    id: str
    title: str
    url: str


class VideoPublic(Public):
    """A video with the viewer's like/follow state; the failure and moderation state reach only its owner."""

    id: str
    creator: UserPublic | None
    caption: str
    hashtags: list[str]
    visibility: str = Field(description="public | followers | private")
    status: str = Field(description="processing | ready | failed")
    failure_reason: str | None
    moderation_state: str | None
    duration_s: Number | None
    width: int | None
    height: int | None
    aspect: Number | None
    poster_url: str | None
    media: dict[str, str] = Field(description="rendition name → media URL")
    renditions: list[Rendition]
    like_count: int
    comment_count: int
    share_count: int
    view_count: int
    age_restricted: bool
    comment_policy: str | None
    liked: bool
    following_creator: bool
    is_own: bool
    created_at: Number
    url: str
    sound: SoundCredit | None = Field(description="the sound it credits; null without audio or when hidden from you")


class Processing(Public):
    """The transcode job of the owner's unfinished video."""

    attempts: int
    last_error: str | None


class VideoDetail(VideoPublic):
    """One video; its owner also sees the transcode job while it is not ready."""

    processing: Processing | None = Field(None, description="present only for the owner's unfinished video")


class UploadAccepted(Public):
    """An accepted upload, queued for transcoding."""

    id: str
    status: str
    video: VideoDetail


class LikeState(Public):
    """The viewer's like and the video's like count."""

    liked: bool
    like_count: int


class ShareCount(Public):
    """The video's share count and the link the page copies."""

    share_count: int
    url: str


class CommentPublic(Public):
    """A comment as the viewer may see it, with its replies (one level)."""

    id: str
    body: str
    author: UserPublic | None
    parent_id: str | None
    created_at: Number
    is_own: bool
    can_delete: bool
    hidden: bool = Field(description="only ever true for its author: hidden from everyone else by a filter")
    replies: list[CommentPublic]


class CommentListing(Public):
    """A video's comments, newest first, and whether the viewer may comment."""

    comments: list[CommentPublic]
    hidden_count: int | None = Field(description="how many a keyword filter hid; only the video's owner is told")
    comment_policy: str
    can_comment: bool
    comment_refusal: str | None


class VideoUploadForm(Public):
    """The upload form (multipart/form-data): the file is sniffed and probed before anything is stored."""

    file: Any = Field(
        json_schema_extra={"type": "string", "format": "binary"},
        description="An MP4, MOV, WebM or MKV video within the region's size and duration limits",
    )
    caption: str = Field("", max_length=2200, description="Up to the region's caption limit (2,200 by default)")
    visibility: Literal["public", "followers", "private"] = "public"
    sound_id: str = Field("", max_length=32, description='A sound to use ("Use this sound"): 403 when not allowed')
    sound_mode: Literal["", "mix", "replace"] = Field(
        "", description="With sound_id: mix it with the video's own audio, or replace that audio (the default)"
    )
