"""The "How For You works" page in plain words, generated from the live parameter set (EU DSA Art. 27).

Every number in the text comes from the `Params` object that is ranking feeds right now, so the page cannot
drift from the algorithm: change a weight in the parameter file and the sentence about it changes. Pure: the
caller passes the parameters (and the model version) in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sovereel.feed.explain import TASK_PHRASES
from sovereel.feed.interface import TASKS
from sovereel.feed.params import SOURCES, Params
from sovereel.feed.rerank import CARRY_PAGES, CARRY_TTL_S

SOURCE_WORDS: dict[str, str] = {
    "embedding": "videos whose learned profile is close to yours (what people with tastes like yours enjoyed)",
    "following": "new videos from creators you follow",
    "trending": "videos that are popular in your region right now",
    "exploration": "new videos that are still finding their first audience",
    "co_engagement": "videos often enjoyed by people who enjoyed the videos you engaged with",
    "content": "videos whose caption and hashtags are similar to videos you engaged with",
    "sound": "other videos that use the sound of videos you engaged with",
}
ACTION_WORDS: dict[str, str] = {
    "complete": "a watch to the end",
    "like": "a like",
    "share": "a share",
    "comment": "a comment",
    "follow": "a follow",
}
SIGNALS_USED = (
    "what you watched, how long you watched it, and what you swiped away early",
    "your likes, shares, comments and follows",
    'the creators you follow, and your "Not interested" marks and keyword filters (these only remove videos)',
    "public facts about each video: its creator, hashtags, caption, length, age and how much it is engaged with",
    "what other viewers in your region engaged with (counted together, never shown as anyone's activity)",
)
SIGNALS_NOT_USED = (
    "your messages, your location beyond the region your account belongs to, or your contacts",
    "any data from other regions: the model that ranks your feed is trained only on this region's data",
)


@dataclass
class Section:
    """One titled part of the page: paragraphs, and optionally a table of (label, value) rows."""

    key: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    rows: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "paragraphs": self.paragraphs,
            "rows": [list(r) for r in self.rows],
        }


def _num(x: float) -> str:
    """A number as a person writes it: 2, 2.5, 0.25."""
    return f"{x:g}"


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size:
            n = seconds / size
            return f"{_num(round(n, 1))} {unit}{'' if n == 1 else 's'}"
    return f"{_num(seconds)} seconds"


def _times(ratio: float) -> str:
    if ratio == 1:
        return "as much as"
    return f"{_num(round(ratio, 2))} times as much as"


def weight_section(params: Params) -> Section:
    """The final score: the weight of each predicted action, in words and as a table."""
    weights = {t: params.weights[t] for t in TASKS}
    total = sum(weights.values())
    positive = [t for t in TASKS if weights[t] > 0]
    base = min((weights[t] for t in positive), default=1.0)
    ordered = sorted(positive, key=lambda t: (-weights[t], TASKS.index(t)))
    paras = [
        "For each candidate video the ranking model predicts how likely you are to "
        + ", to ".join(TASK_PHRASES[t] for t in TASKS[:-1])
        + f", and to {TASK_PHRASES[TASKS[-1]]}. The video's score is the sum of these chances, each multiplied by a "
        "published weight; the videos with the highest scores are shown first.",
    ]
    if ordered:
        top = ordered[0]
        paras.append(
            f"The prediction that weighs most is that you will {TASK_PHRASES[top]} (weight {_num(weights[top])}). "
            + " ".join(
                f"The chance that you will {TASK_PHRASES[t]} counts {_times(weights[t] / base)} the least weighted one."
                for t in ordered[1:]
                if weights[t] != base
            )
        )
    off = [t for t in TASKS if weights[t] == 0]
    if off:
        paras.append(
            "These predictions are currently not used at all (weight 0): "
            + "; ".join(TASK_PHRASES[t] for t in off)
            + "."
        )
    rows = [
        (
            f"the chance that you {TASK_PHRASES[t]}",
            f"weight {_num(weights[t])} ({_pct(weights[t] / total) if total else '0%'} of the total)",
        )
        for t in ordered + off
    ]
    return Section("weights", "How a video's score is made", paras, rows)


def sources_section(params: Params) -> Section:
    """Where candidate videos come from, with each source's quota."""
    rows = [(SOURCE_WORDS[s], f"up to {params.quotas[s]} videos") for s in SOURCES if params.quotas[s] > 0]
    unused = [s for s in SOURCES if params.quotas[s] == 0]
    paras = [
        "Before anything is ranked, For You gathers candidate videos from several sources, each allowed a "
        f"limited number; at most {params.max_candidates} candidates are ranked for one page."
    ]
    paras.append(
        f"As you scroll on, up to {CARRY_PAGES} pages in a row may be ranked from the best candidates the page before "
        "gathered but did not show, by the model as it is at that moment, so what you just watched still changes "
        f"their order. Candidates are gathered afresh after those pages, when the kept ones are over "
        f"{_duration(CARRY_TTL_S)} old, and at once after a like, share, comment, follow or your first finished "
        "video; what you mark Not interested or block meanwhile is never shown."
    )
    if unused:
        paras.append("Switched off in this parameter set: " + "; ".join(SOURCE_WORDS[s] for s in unused) + ".")
    return Section("sources", "Where the candidate videos come from", paras, rows)


def filters_section() -> Section:
    """What is removed before ranking (these rules are code, not parameters)."""
    return Section(
        "filters",
        "What is never shown",
        [
            "Videos you have already watched or were already shown in this scroll, your own videos, videos you marked "
            '"Not interested" (and every video of a creator or hashtag you marked), videos matching your keyword '
            "filters, videos you are not in the audience of, and videos held or removed by moderation."
        ],
    )


def exploration_section(params: Params) -> Section:
    """The fresh-video pool: how new videos get a first audience."""
    ex = params.exploration
    pools = ", then ".join(str(n) for n in ex.pool_sizes)
    return Section(
        "exploration",
        "New videos get a first audience",
        [
            f"About {_pct(ex.share)} of the places in your feed are kept for new videos "
            f"(up to {_duration(ex.max_age_s)} old) that are still finding an audience, so that every new video is "
            "seen by some people whatever its creator's following.",
            f"A new video is first shown to {ex.pool_sizes[0]} viewers; it earns the next, larger audience ({pools} "
            f"viewers) only if enough of its viewers watch it to the end (at least {_pct(ex.min_completion_rate[0])} "
            f"at first) and engage with it (at least {_pct(ex.min_engagement_rate[0])} at first).",
        ],
    )


def spacing_section(params: Params) -> Section:
    """The re-ranking rules: creator and topic spacing."""
    rr = params.rerank
    paras = []
    if rr.creator_window > 1:
        paras.append(f"Any {rr.creator_window} videos in a row come from {rr.creator_window} different creators.")
    if rr.topic_window > 1:
        paras.append(f"Any {rr.topic_window} videos in a row are about different topics (their first hashtag).")
    if rr.skip_fatigue > 0:
        paras.append(
            f"A topic you have swiped away {rr.skip_fatigue} times since you last watched one of its videos to the "
            "end (or liked, shared or commented on one) comes after the other topics until you engage with it again."
        )
    if not paras:
        paras.append("No spacing rules are applied: the feed follows the score order.")
    return Section("spacing", "Variety in the feed", paras)


def signals_section(params: Params) -> Section:
    """What is used to personalise, with the time scales from the parameters."""
    hi, tr, fo = params.history, params.trending, params.following
    return Section(
        "signals",
        "What For You uses",
        [
            "To personalise your feed, For You uses: " + "; ".join(SIGNALS_USED) + ".",
            f"Your {hi.seed_count} most recent engagements lead to similar videos; an engagement's influence halves "
            f"every {_duration(hi.half_life_s)}. Popularity in your region halves every {_duration(tr.half_life_s)}, "
            "where "
            + ", ".join(f"{ACTION_WORDS.get(k, k)} counts {_num(w)}" for k, w in tr.kind_weights.items())
            + ". "
            f"Videos of creators you follow are candidates for {_duration(fo.max_age_s)}, at most {fo.per_creator} per "
            "creator at a time.",
            "It does not use " + "; nor ".join(SIGNALS_NOT_USED) + ".",
        ],
    )


def controls_section() -> Section:
    """How a viewer changes or switches off personalisation."""
    return Section(
        "controls",
        "How to switch personalisation off",
        [
            'Open the For You settings from the feed and turn off "Personalised For You". Your feed is then ranked '
            "only by what is popular in your region, without using your activity, and this choice is remembered "
            "(EU Digital Services Act, Art. 38). You can switch it back on at any time.",
            'In the same place you can add keyword filters, undo "Not interested" marks, and use "Refresh For '
            'You" to make the feed forget what it learnt from your earlier activity.',
            'Every video in For You has a "Why this video?" panel that names the sources and the main reasons it '
            "was shown to you.",
        ],
    )


def describe_for_you(params: Params, model_version: str | None = None) -> dict[str, Any]:
    """The whole plain-words description as JSON-ready data (sections in reading order)."""
    sections = [
        weight_section(params),
        sources_section(params),
        filters_section(),
        exploration_section(params),
        spacing_section(params),
        signals_section(params),
        controls_section(),
    ]
    return {
        "params_name": params.name,
        "params_version": params.version,
        "model_version": model_version,
        "summary": params.description,
        "sections": [s.as_dict() for s in sections],
        "parameters": params.to_dict(),
    }
