"""Candidate filters: what the For You feed must never show a given viewer.

Each filter is a pure predicate `(video, FilterContext) -> bool` that is True
when the video may be shown. The context is built once per request from the
world snapshot, so per-video checks are set look-ups. Filters run after the
sources and before the ranking model, so nothing the model scores is ineligible.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sovereel.feed.interface import CandidateWorld, VideoInfo

SERVABLE_MODERATION = frozenset({"ok"})
"""Moderation states that may be recommended; anything else (removed, not_for_you, pending, unknown) may not."""

_WORD = re.compile(r"\w+")


def normalise_tag(tag: str) -> str:
    """A hashtag as compared everywhere: without '#', case-folded."""
    return tag.lstrip("#").casefold()


def words(text: str) -> list[str]:
    """Case-folded words of a text (letters, digits and underscores in any script)."""
    return _WORD.findall(text.casefold())


@dataclass(frozen=True)
class FilterContext:
    """What the filters need to know about one viewer, prepared once per request."""

    viewer_id: str | None = None
    seen: frozenset[str] = frozenset()
    following: frozenset[str] = frozenset()
    not_interested_videos: frozenset[str] = frozenset()
    not_interested_creators: frozenset[str] = frozenset()
    not_interested_hashtags: frozenset[str] = frozenset()  # normalised
    hidden_creators: frozenset[str] = frozenset()
    keywords: tuple[tuple[str, ...], ...] = ()  # each filter as its word sequence
    served: frozenset[str] = frozenset()  # already on earlier pages of this scroll

    @classmethod
    def from_world(
        cls, world: CandidateWorld, viewer_id: str | None, *, use_history: bool, served: Iterable[str] = ()
    ) -> FilterContext:
        """Build the context; without `use_history` the watch history (seen set) is not consulted."""
        return cls(
            viewer_id=viewer_id,
            # The seen set is behavioural data: the non-personalised feed must not use it.
            seen=world.seen if use_history else frozenset(),
            following=world.following,
            not_interested_videos=world.not_interested_videos,
            not_interested_creators=world.not_interested_creators,
            not_interested_hashtags=frozenset(normalise_tag(t) for t in world.not_interested_hashtags),
            hidden_creators=world.hidden_creators,
            keywords=tuple(ws for ws in (tuple(words(k)) for k in world.keyword_filters) if ws),
            served=frozenset(served),
        )


def moderation_ok(video: VideoInfo, ctx: FilterContext) -> bool:
    """Only videos in a servable moderation state (fails closed on states it does not know)."""
    return video.moderation in SERVABLE_MODERATION


def audience_ok(video: VideoInfo, ctx: FilterContext) -> bool:
    """Public videos, or followers-only ones when the viewer follows the creator; never private ones."""
    if video.visibility == "public":
        return True
    if video.visibility == "followers":
        return ctx.viewer_id is not None and video.creator_id in ctx.following
    return False


def not_own(video: VideoInfo, ctx: FilterContext) -> bool:
    """A viewer is not recommended their own videos."""
    return ctx.viewer_id is None or video.creator_id != ctx.viewer_id


def not_seen(video: VideoInfo, ctx: FilterContext) -> bool:
    """Not already watched by the viewer."""
    return video.id not in ctx.seen


def not_served(video: VideoInfo, ctx: FilterContext) -> bool:
    """Not already on an earlier page of this scroll."""
    return video.id not in ctx.served


def not_rejected(video: VideoInfo, ctx: FilterContext) -> bool:
    """Not marked "not interested" by video, by creator or by any of its hashtags."""
    if video.id in ctx.not_interested_videos or video.creator_id in ctx.not_interested_creators:
        return False
    return not any(normalise_tag(t) in ctx.not_interested_hashtags for t in video.hashtags)


def creator_not_hidden(video: VideoInfo, ctx: FilterContext) -> bool:
    """Not by a creator the viewer has hidden."""
    return video.creator_id not in ctx.hidden_creators


def _contains(haystack: list[str], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(tuple(haystack[i : i + n]) == needle for i in range(len(haystack) - n + 1))


def keywords_absent(video: VideoInfo, ctx: FilterContext) -> bool:
    """None of the viewer's keyword filters appears as whole words in the caption or as a hashtag."""
    if not ctx.keywords:
        return True
    caption = words(video.caption)
    tags = {normalise_tag(t) for t in video.hashtags}
    for keyword in ctx.keywords:
        # "horror movie" also catches #horrormovie and #horror_movie, and a one-word filter catches #word.
        if "".join(keyword) in tags or "_".join(keyword) in tags or _contains(caption, keyword):
            return False
        if any(_contains(words(t), keyword) for t in tags):
            return False
    return True


VideoFilter = Callable[[VideoInfo, FilterContext], bool]

FILTERS: tuple[tuple[str, VideoFilter], ...] = (
    ("moderation", moderation_ok),
    ("audience", audience_ok),
    ("own_video", not_own),
    ("served", not_served),
    ("seen", not_seen),
    ("not_interested", not_rejected),
    ("hidden_creator", creator_not_hidden),
    ("keyword", keywords_absent),
)
"""Every filter, by name, in the order applied; safety filters first so their name is the one recorded."""


def passes_all(video: VideoInfo, ctx: FilterContext) -> bool:
    """Whether every one of FILTERS keeps the video: their checks inlined, for the common case of a candidate
    that passes (a test holds it equal to asking each filter)."""
    tags = video.hashtags
    return (
        video.moderation in SERVABLE_MODERATION
        and (
            video.visibility == "public"
            or (video.visibility == "followers" and ctx.viewer_id is not None and video.creator_id in ctx.following)
        )
        and (ctx.viewer_id is None or video.creator_id != ctx.viewer_id)
        and video.id not in ctx.served
        and video.id not in ctx.seen
        and video.id not in ctx.not_interested_videos
        and video.creator_id not in ctx.not_interested_creators
        and not (ctx.not_interested_hashtags and any(normalise_tag(t) in ctx.not_interested_hashtags for t in tags))
        and video.creator_id not in ctx.hidden_creators
        and (not ctx.keywords or keywords_absent(video, ctx))
    )


def apply_filters(
    video_ids: Iterable[str], videos: Mapping[str, VideoInfo], ctx: FilterContext
) -> tuple[list[str], dict[str, str]]:
    """The ids that pass every filter (order kept), and for each dropped id the first filter that dropped it."""
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for vid in video_ids:
        video = videos.get(vid)
        if video is None:
            dropped[vid] = "unknown"
            continue
        if passes_all(video, ctx):
            kept.append(vid)
            continue
        for name, keep in FILTERS:  # which filter dropped it, for the record
            if not keep(video, ctx):
                dropped[vid] = name
                break
        else:
            kept.append(vid)
    return kept, dropped
