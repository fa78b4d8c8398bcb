"""Accounts as others see them, profiles, follows, hashtags and search."""

from __future__ import annotations

from pydantic import Field

from sovereel.api.schemas.accounts import UserPublic
from sovereel.api.schemas.common import Public
from sovereel.api.schemas.sounds import SoundSummary
from sovereel.api.schemas.videos import VideoPublic


class ProfileUser(UserPublic):
    """A profile's account with the viewer's relation to it."""

    followed_by_me: bool
    is_me: bool
    blocked_by_me: bool
    follow_requested: bool
    access: str = Field(description="own | full | limited | blocked_by_me | … (queries.access)")
    suspended: bool = Field(description="true only for the holder of a suspended account")


class Profile(Public):
    """A profile page: the account and a page of its videos."""

    user: ProfileUser
    videos: list[VideoPublic]
    next_cursor: str | None


class FollowState(Public):
    """After a follow: following, or (a private account) a request waiting for approval."""

    following: bool
    requested: bool = Field(False, description="present only when the follow became a request")


class UnfollowState(Public):
    """After an unfollow."""

    following: bool


class HashtagPage(Public):
    """Videos with one hashtag, newest first."""

    tag: str
    videos: list[VideoPublic]
    next_cursor: str | None
    sounds: list[SoundSummary] = Field(description="sounds the tag's videos use, most used first (first page)")


class HashtagCount(Public):
    """A hashtag and how many videos carry it."""

    tag: str
    video_count: int


class SearchResults(Public):
    """Users, videos and hashtags matching a query."""

    query: str
    users: list[UserPublic]
    videos: list[VideoPublic]
    hashtags: list[HashtagCount]
    sounds: list[SoundSummary] = Field(description="available sounds whose title or creator's handle matches")


# A hashtag as `captions.hashtag_key` accepts it, in a pattern ECMA and Python regexes read alike: an optional
# #, then 1-100 word characters, not all digits. Python's \w is Unicode and ECMA's is ASCII, so "word
# character" is written as "not ASCII punctuation, space or control" (letters of any script pass), and
# `(?![\s\S])` is the end of the string.
_WORD = r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f\s]"
HASHTAG_DOC_PATTERN = rf"^#?(?![0-9]+(?![\s\S])){_WORD}{{1,100}}(?![\s\S])"
