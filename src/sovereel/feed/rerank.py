"""Re-ranking: turn scored candidates into a page that is varied and gives new videos a chance.

Rules, all from the parameter set:
- creator spacing: any `creator_window` consecutive slots hold distinct creators
  (with the default 3, two videos of one creator have at least two others between them);
- topic spacing: likewise for the primary hashtag over `topic_window` slots;
- sound spacing: two videos with the same sound are never adjacent (TikTok's published rule), a fixed rule
  rather than a parameter: when only same-sound candidates are left the page ends short instead of breaking it;
- exploration slots: a share of the slots is reserved for the exploration source,
  evenly spaced, their phase picked by the request seed;
- skip fatigue: a topic the viewer has swiped away `skip_fatigue` times since they last
  engaged with it waits behind the other topics (a softer, automatic "Not interested").
The rules hold across page boundaries: the tail of the previous page is passed in.
When the candidates cannot satisfy a rule the page still fills: skip fatigue is given up
first, then topic spacing, creator spacing only when every remaining candidate would break it; sound spacing never.
The best candidates a page did not place (`runners_up`) may be handed to the scroll's next page
(`CandidateWorld.carried`), which the platform then ranks from them instead of asking the sources again.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from sovereel.feed.filters import normalise_tag
from sovereel.feed.interface import Carried, Engagement, Skip, VideoInfo
from sovereel.feed.params import RerankParams


class Scored(NamedTuple):
    """A candidate after ranking, with what the re-ranker needs to place it."""

    # A named tuple, not a frozen dataclass: a page makes one per candidate (~500), and a frozen dataclass's
    # __init__ (a guarded setattr per field) cost 1.7 us each against 0.5 us.

    video_id: str
    creator_id: str
    topic: str  # the primary hashtag, normalised; "" when the video has none
    score: float
    exploration: bool  # proposed by the exploration source
    tiebreak: int = 0  # among equal scores the lower goes first (ids settle what is still tied)
    fatigued: bool = False  # its topic is one the viewer keeps swiping away (`fatigued_topics`)
    sound: str = ""  # the sound it credits; "" when it has none (never counts as the same sound as another)


@dataclass(frozen=True)
class Placed:
    """A candidate in its slot."""

    item: Scored
    position: int  # 0-based position in the whole scroll, not just this page
    slot: str  # "exploration" when it fills a reserved exploration slot, else "ranked"


Recent = tuple[str, str] | tuple[str, str, str]
"""A slot just before, for spacing: (creator, topic) or (creator, topic, sound)."""


def spacing_memory(params: RerankParams) -> int:
    """How many of the last placed videos the spacing rules look back on (what a cursor carries across pages)."""
    return max(params.creator_window, params.topic_window, SOUND_WINDOW) - 1


SOUND_WINDOW = 2  # any two consecutive slots hold distinct sounds
CARRY_RANKED = 5  # a page hands on this many times its size of its best unplaced candidates ...
CARRY_EXPLORATION = 1  # ... and up to this many times its size more of exploration's, for the reserved slots
# When a platform passes a carry on (`foryou.carry` decides; the public "How For You works" page says so):
CARRY_PAGES = 2  # at most this many pages in a row are ranked from carries; the next one asks the sources
CARRY_TTL_S = 60.0  # a carry older than this is not used: trending, the traffic pools and the viewer's vector move on


def primary_topic(video: VideoInfo) -> str:
    """The topic a video counts as for spacing: its first hashtag."""
    return normalise_tag(video.hashtags[0]) if video.hashtags else ""


def fatigued_topics(
    skips: Sequence[Skip],
    engagements: Sequence[Engagement],
    videos: Callable[[str], VideoInfo | None],
    threshold: int,
) -> frozenset[str]:
    """Topics swiped away at least `threshold` times since the viewer last engaged with that topic.

    A skip after watching half the video or more is not a rejection (the model reads it the same way); a skip
    of a video that is gone, or has no hashtag, counts for no topic. `threshold` 0 turns the rule off.
    """
    if threshold <= 0 or not skips:
        return frozenset()
    last_engaged: dict[str, float] = {}
    for e in engagements:
        video = videos(e.video_id)
        if video is not None and video.hashtags:
            topic = primary_topic(video)
            last_engaged[topic] = max(last_engaged.get(topic, e.at), e.at)
    counts: dict[str, int] = {}
    for s in skips:
        video = videos(s.video_id)
        if video is None or not video.hashtags or (video.duration_s > 0 and s.watched_s >= 0.5 * video.duration_s):
            continue
        topic = primary_topic(video)
        if s.at > last_engaged.get(topic, -math.inf):
            counts[topic] = counts.get(topic, 0) + 1
    return frozenset(t for t, n in counts.items() if n >= threshold)


def exploration_period(share: float) -> int:
    """Slots per exploration slot for a share (0 when there are none)."""
    return 0 if share <= 0 else math.ceil(1 / share)


@functools.lru_cache(maxsize=64)
def _as_fraction(share: float) -> Fraction:
    # Exact fractions: with floats, 0.1 * 30 is not 3 and a slot could be skipped.
    return Fraction(share).limit_denominator(1000)


def is_exploration_slot(position: int, share: float, phase: int) -> bool:
    """Whether a scroll position is reserved for exploration: floor(share*n) steps up at this slot."""
    if share <= 0:
        return False
    frac = _as_fraction(share)
    return math.floor((position + phase + 1) * frac) > math.floor((position + phase) * frac)


def rerank(
    candidates: Sequence[Scored],
    params: RerankParams,
    *,
    exploration_share: float,
    limit: int,
    start: int = 0,
    phase: int = 0,
    history: Sequence[Recent] = (),
) -> list[Placed]:
    """Fill up to `limit` slots from position `start`, best score first within the spacing and exploration rules
    (fewer when every candidate left has the sound of the slot before)."""
    remaining = sorted(candidates, key=lambda c: (-c.score, c.tiebreak, c.video_id))
    keep = spacing_memory(params)
    recent: list[tuple[str, str, str]] = [(h[0], h[1], h[2] if len(h) > 2 else "") for h in history][-keep:]
    placed: list[Placed] = []
    for position in range(start, start + limit):
        if not remaining:
            break
        explore = is_exploration_slot(position, exploration_share, phase)
        index = _choose(remaining, recent, params, explore)
        if index is None:
            break  # only videos with the previous slot's sound are left
        item = remaining.pop(index)
        slot = "exploration" if explore and item.exploration else "ranked"
        placed.append(Placed(item, position, slot))
        recent = [*recent, (item.creator_id, item.topic, item.sound)][-keep:]
    return placed


def _choose(
    remaining: list[Scored], recent: list[tuple[str, str, str]], params: RerankParams, explore: bool
) -> int | None:
    # `recent` holds (creator, topic, sound) of the slots just before, newest last.
    creators = {c for c, _, _ in recent[max(0, len(recent) - (params.creator_window - 1)) :]}
    topics = {t for _, t, _ in recent[max(0, len(recent) - (params.topic_window - 1)) :] if t}
    last_sound = recent[-1][2] if recent else ""
    # Passes of (exploration candidates only, topic spacing required), strictest first. An exploration slot
    # takes an exploration candidate whenever creator spacing allows: the reserved share is a promise to new videos.
    # Within each pass a candidate of a topic the viewer keeps skipping comes only when no other fits.
    passes = [(True, True), (True, False)] if explore else []
    passes += [(False, True), (False, False)]
    for only_exploration, need_topic in passes:
        fallback = None
        for i, c in enumerate(remaining):
            if (only_exploration and not c.exploration) or (c.sound and c.sound == last_sound):
                continue
            if c.creator_id not in creators and not (need_topic and c.topic in topics):
                if not c.fatigued:
                    return i
                fallback = i if fallback is None else fallback
        if fallback is not None:
            return fallback
    # Every candidate left breaks creator spacing: the best of them, rather than an empty slot; but never one with
    # the sound just played.
    return next((i for i, c in enumerate(remaining) if not (c.sound and c.sound == last_sound)), None)


def rerank_page(
    ranked: Sequence[Scored],
    params: RerankParams,
    *,
    exploration_share: float,
    limit: int,
    start: int,
    seed: int,
    history: Sequence[Recent] = (),
) -> tuple[list[Placed], bool]:
    """One page of `rerank` with the exploration phase drawn from the seed; also whether candidates remain."""
    period = exploration_period(exploration_share)
    phase = seed % period if period else 0
    placed = rerank(
        ranked,
        params,
        exploration_share=exploration_share,
        limit=limit,
        start=start,
        phase=phase,
        history=history,
    )
    return placed, len(ranked) > len(placed)


def runners_up(ranked: Sequence[Scored], placed: Sequence[Placed], limit: int, merged: Carried) -> Carried:
    """The candidates a page hands on to the next (`FeedPage.carry`): its best unplaced ones in the re-ranker's
    order, and enough exploration candidates for the next page's reserved slots."""
    taken = {p.item.video_id for p in placed}
    order = sorted(ranked, key=lambda c: (-c.score, c.tiebreak, c.video_id))  # `rerank`'s order
    rest = [c for c in order if c.video_id not in taken]
    keep = rest[: CARRY_RANKED * limit]
    keep += [c for c in rest[CARRY_RANKED * limit :] if c.exploration][: CARRY_EXPLORATION * limit]
    return {c.video_id: merged[c.video_id] for c in keep}
