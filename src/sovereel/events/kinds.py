"""The kinds of viewer action on a video, defined once; every other list of kinds is a named subset of these.

A leaf: it imports nothing from sovereel, so both the I/O code (the API, actions, the learner) and the pure
`sovereel.feed` core import it. Two vocabularies meet here:

- watch kinds, what the page reports to `POST /api/events` and the event log stores (`WATCH_KINDS`);
- the model's vocabulary, what the feed model learns from (`MODEL_KINDS`): the watch kinds with a loop folded
  into `complete` (the learner and the data export translate it), plus per-video interactions that arrive as
  `social.*` bus topics (`SOCIAL_KINDS`) and `follow` (of the video's creator).
"""

from __future__ import annotations

from typing import Literal, get_args

WatchKind = Literal["impression", "play", "progress", "complete", "loop", "skip"]
"""One watch event's kind: shown, started playing, partly watched, watched to the end, replayed, swiped away."""

WATCH_KINDS: tuple[WatchKind, ...] = get_args(WatchKind)
"""What the API accepts and the event log holds, in this order."""

PLAYBACK_KINDS: frozenset[str] = frozenset(WATCH_KINDS) - {"impression"}
"""Watch kinds that say the video played (all but `impression`): each updates the viewer's watch row."""

WATCHED_TO_END_KINDS: frozenset[str] = frozenset({"complete", "loop"})
"""Watch kinds that mark a video watched to the end (a loop starts it again after the end)."""

SOCIAL_KINDS: tuple[str, ...] = ("like", "share", "comment")
"""Per-video interactions, which reach the learner as `social.like` / `social.share` / `social.comment`."""

ENGAGEMENT_KINDS: tuple[str, ...] = ("complete", *SOCIAL_KINDS, "follow")
"""Positive signals in the model's vocabulary, which the sources, explanations and live state understand.

A loop is not among them: the learner has already made it a `complete` before the model sees it (the live
state, which sees the raw kind, does not count a loop as engagement)."""

SHOWN_KINDS: frozenset[str] = frozenset(WATCH_KINDS) - {"loop"}
"""Watch kinds that say a video was on the viewer's screen, in the model's vocabulary (a loop is a complete)."""

MODEL_KINDS: frozenset[str] = SHOWN_KINDS | frozenset(ENGAGEMENT_KINDS)
"""Every kind the feed model learns from (not `loop`, which the learner makes a complete, nor `unlike`)."""

POSITIVE_HISTORY_KINDS: frozenset[str] = WATCHED_TO_END_KINDS | frozenset(SOCIAL_KINDS)
"""Raw kinds a viewer's exported history counts as interest (`governance.rights`): a loop is still a loop there."""

ViewSource = Literal["foryou", "following", "profile", "hashtag", "search", "share", "other"]
"""Where a viewer found the video a watch event is about: a feed tab, a profile or hashtag page, search, a shared
link (a video page opened from outside the site), or `other` (a client that did not say)."""

VIEW_SOURCES: tuple[ViewSource, ...] = get_args(ViewSource)
"""Every view source, in the order analytics lists them."""
