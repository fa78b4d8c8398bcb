"""Explanations in words: what "Why this video?" shows for a served item.

Sentences are built only from the item's Reason (its sources and score terms)
and facts the viewer can check about themselves (their follows and recent
engagements); nothing is claimed that the record does not support. In the
non-personalised mode no sentence uses the viewer's activity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from sovereel.feed.filters import normalise_tag
from sovereel.feed.interface import TASKS, CandidateWorld, Engagement, Reason, VideoInfo

TASK_PHRASES: dict[str, str] = {
    "complete": "watch it to the end",
    "watch_time": "watch it for longer than most videos of its length",
    "like": "like it",
    "share": "share it",
    "comment": "comment on it",
    "follow": "follow its creator",
}
"""How each predicted action reads in "the chance that you ..."."""

_VERBS: dict[str, str] = {
    "complete": "watched to the end",
    "like": "liked",
    "share": "shared",
    "comment": "commented on",
    "follow": "followed the creator of",
}
_VERB_STRENGTH = ("follow", "share", "comment", "like", "complete")  # the strongest action a viewer took names it


@dataclass(frozen=True)
class ExplainContext:
    """The facts about this impression that a sentence may cite."""

    video: VideoInfo
    world: CandidateWorld
    via: Mapping[str, str] = field(default_factory=dict)  # source -> seed video id or "pool N"
    slot: str = "ranked"
    cold_start: bool = False
    signed_in: bool = True


def handle(video: VideoInfo) -> str:
    """How a creator is named: @name, falling back to the id."""
    return f"@{video.creator_name or video.creator_id}"


def _plural(n: int, one: str, many: str) -> str:
    return f"a {one}" if n == 1 else f"{n} {many}"


def _verb_for(video_id: str, engagements: tuple[Engagement, ...]) -> str:
    kinds = {e.kind for e in engagements if e.video_id == video_id}
    return next((_VERBS[k] for k in _VERB_STRENGTH if k in kinds), "engaged with")


def hashtag_history(video: VideoInfo, world: CandidateWorld) -> str | None:
    """E.g. "You watched 3 videos tagged #cooking to the end", from the viewer's recent engagements."""
    tags = {normalise_tag(t) for t in video.hashtags}
    if not tags:
        return None
    by_kind: dict[str, Counter[str]] = {"complete": Counter(), "like": Counter()}
    counted: set[tuple[str, str]] = set()
    for e in world.recent_engagements:
        seen_video = world.videos.get(e.video_id)
        if e.kind not in by_kind or seen_video is None or e.video_id == video.id or (e.kind, e.video_id) in counted:
            continue
        counted.add((e.kind, e.video_id))  # a video watched twice is still one video
        for tag in {normalise_tag(t) for t in seen_video.hashtags} & tags:
            by_kind[e.kind][tag] += 1
    for kind, template in (
        ("complete", "You watched {n} tagged #{tag} to the end"),
        ("like", "You liked {n} tagged #{tag}"),
    ):
        if by_kind[kind]:
            tag, n = min(by_kind[kind].items(), key=lambda kv: (-kv[1], kv[0]))
            return template.format(n=_plural(n, "video", "videos"), tag=tag)
    return None


def _seed_sentence(source: str, ctx: ExplainContext) -> str:
    seed = ctx.world.videos.get(ctx.via.get(source, ""))
    if seed is None:
        return {
            "co_engagement": "Often watched together with videos you engaged with",
            "content": "Its caption and hashtags are like those of videos you engaged with",
            "sound": "Uses the sound of a video you engaged with",
        }[source]
    verb = _verb_for(seed.id, ctx.world.recent_engagements)
    if source == "sound":
        return f"Uses the sound of a video by {handle(seed)} that you {verb}"
    if source == "co_engagement":
        return f"Often watched together with a video by {handle(seed)} that you {verb}"
    shared = sorted({normalise_tag(t) for t in seed.hashtags} & {normalise_tag(t) for t in ctx.video.hashtags})
    if shared:
        return f"Tagged #{shared[0]}, like a video by {handle(seed)} that you {verb}"
    return f"Its caption is like that of a video by {handle(seed)} that you {verb}"


def _exploration_sentence(via: str) -> str:
    level = int(via.split()[-1]) if via.startswith("pool ") and via.split()[-1].isdigit() else 0
    if level == 0:
        return "New video being shown to a first audience"
    return "New video reaching a wider audience because earlier viewers finished it and engaged with it"


def _main_term(terms: Mapping[str, float]) -> str | None:
    task_terms = {t: v for t, v in terms.items() if t in TASK_PHRASES and v > 0}
    if not task_terms:
        return None
    task = min(task_terms, key=lambda t: (-task_terms[t], TASKS.index(t)))
    return f"Ranked mostly by the predicted chance that you {TASK_PHRASES[task]}"


def explain(reason: Reason, ctx: ExplainContext) -> list[str]:
    """The sentences for one served item, most specific first."""
    sentences: list[str] = []
    sources = set(reason.sources)
    if not reason.personalised:
        sentences.append(
            "Your For You feed is not personalised (you switched personalisation off): "
            "it is ranked by popularity in your region, not by your activity"
        )
    elif ctx.cold_start and not ctx.signed_in:
        sentences.append("You are not signed in, so you see videos popular in your region and new videos")
    elif ctx.cold_start:
        sentences.append("You are new here, so you see popular and new videos until your feed learns what you like")
    if "following" in sources:
        sentences.append(f"From {handle(ctx.video)}, whom you follow")
    if reason.personalised and sources & {"embedding", "co_engagement", "content", "sound"}:
        history = hashtag_history(ctx.video, ctx.world)
        if history:
            sentences.append(history)
    if "embedding" in sources:
        sentences.append("Similar to videos you watched and liked")
    for source in ("co_engagement", "content", "sound"):
        if source in sources:
            sentences.append(_seed_sentence(source, ctx))
    if "trending" in sources:
        sentences.append("Popular in your region")
    if "exploration" in sources:
        sentences.append(_exploration_sentence(ctx.via.get("exploration", "")))
        if ctx.slot == "exploration":
            sentences.append("Shown in a slot kept for new videos")
    if reason.personalised:
        main = _main_term(reason.terms)
        if main:
            sentences.append(main)
    return sentences
