"""The contract between the platform and any For You recommender.

A recommender receives a `FeedRequest` and a read-only `CandidateWorld`
snapshot (what the platform knows that ranking may use) and returns ranked
`FeedItem`s, each with a `Reason` record: what "Why this video?" shows and what
an auditor replays. Recommenders do no I/O of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from sovereel.events import kinds


@dataclass(frozen=True)
class FeedRequest:
    """One For You page request."""

    user_id: str | None  # None for a signed-out viewer
    region: str
    limit: int
    cursor: str | None = None
    now: float = 0.0
    personalised: bool = True


@dataclass(frozen=True, slots=True)  # slots: a region holds one per video, twice a process (100,000: ~30 MB less)
class VideoInfo:
    """Public facts about a ready video that ranking may use."""

    id: str
    creator_id: str
    created_at: float
    duration_s: float
    hashtags: tuple[str, ...] = ()
    caption: str = ""
    like_count: int = 0
    comment_count: int = 0
    share_count: int = 0
    view_count: int = 0
    creator_name: str = ""  # the handle shown as "@name" in explanations; creator_id when empty
    visibility: str = "public"  # "public" | "followers" | "private"
    moderation: str = "ok"  # "ok" is servable; "removed", "not_for_you" and any other state are not
    # The sound it credits (`storage.models.sounds`): a ranker input, a candidate source ("sound") and a re-ranking
    # rule (two videos with one sound are never adjacent). None when it has none (no audio, exchanged, simulated).
    sound_id: str | None = None


ENGAGEMENT_KINDS: tuple[str, ...] = kinds.ENGAGEMENT_KINDS
"""Engagement kinds the sources and explanations understand (positive signals)."""


@dataclass(frozen=True)
class Engagement:
    """One positive action of the viewer on a video (from their recent watch/like/share events)."""

    video_id: str
    kind: str  # one of ENGAGEMENT_KINDS
    at: float


@dataclass(frozen=True)
class Skip:
    """The viewer swiped a video away (a `skip` watch event): a rejection when less than half of it was watched."""

    video_id: str
    at: float
    watched_s: float = 0.0


@dataclass(frozen=True)
class EngagementBucket:
    """Region-wide count of one engagement kind on one video in a time bucket (e.g. an hour)."""

    video_id: str
    kind: str  # one of ENGAGEMENT_KINDS
    at: float  # the bucket's start time
    count: int


@dataclass(frozen=True)
class ExposureStats:
    """What a video's audience has done so far: drives the exploration traffic pool."""

    impressions: int = 0
    completes: int = 0  # impressions watched to the end
    engagements: int = 0  # likes + shares + comments + follows from those impressions


@dataclass
class Reason:
    """Why an item was served: the record shown to the viewer and replayed by an auditor."""

    sources: list[str]
    model_version: str
    params_version: str
    score: float
    terms: dict[str, float] = field(default_factory=dict)
    explanation: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    personalised: bool = True  # False when ranked without profiling the viewer (EU DSA Art. 38)

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready data."""
        return {
            "personalised": self.personalised,
            "sources": list(self.sources),
            "model_version": self.model_version,
            "params_version": self.params_version,
            "score": self.score,
            "terms": dict(self.terms),
            "explanation": list(self.explanation),
            "inputs": dict(self.inputs),
        }


class SourceHit(NamedTuple):
    """One proposal of a candidate source: a video, the source that proposed it and that source's own score."""

    video_id: str
    source: str
    score: float
    via: str = ""  # what led here: the seed video (co_engagement, content) or "pool N" (exploration)


Carried = Mapping[str, Mapping[str, SourceHit]]
"""Candidates a page hands to the next page of its scroll: by video, every source's hit on it."""


@dataclass(frozen=True)
class FeedItem:
    """One served video and why it was served."""

    video_id: str
    reason: Reason


@dataclass(frozen=True)
class FeedPage:
    """One page of the feed; `next_cursor` is None when nothing more can be served."""

    items: list[FeedItem]
    next_cursor: str | None
    # The best candidates this page ranked but did not place (personalised pages with a next page only): the
    # platform may pass them back as `CandidateWorld.carried` for the scroll's next page.
    carry: Carried = field(default_factory=dict)
    from_carry: bool = False  # ranked from `CandidateWorld.carried`, without asking the sources


@dataclass(frozen=True)
class CandidateWorld:
    """The snapshot a recommender ranks over: eligible videos and the viewer's context."""

    # The videos this viewer may be served. A platform may pass a view over its shared catalogue that checks
    # eligibility per look-up: with `region_videos` set the pipeline only looks candidates up, never iterates it.
    videos: Mapping[str, VideoInfo]
    seen: frozenset[str] = frozenset()  # watched: behavioural history, not consulted by the non-personalised feed
    following: frozenset[str] = frozenset()
    # Served earlier in this scroll session (a platform-side alternative to passing the cursor on); every mode
    # honours it, since it only keeps one scroll from repeating itself.
    served: frozenset[str] = frozenset()
    # The viewer's recent positive actions, newest last; also include those videos in `videos`.
    recent_engagements: tuple[Engagement, ...] = ()
    # The viewer's recent swipe-aways, newest last (personalised mode only): topics they keep skipping wait.
    recent_skips: tuple[Skip, ...] = ()
    # Explicit viewer controls: honoured in every mode, including the non-personalised one.
    not_interested_videos: frozenset[str] = frozenset()
    not_interested_creators: frozenset[str] = frozenset()
    not_interested_hashtags: frozenset[str] = frozenset()
    hidden_creators: frozenset[str] = frozenset()
    keyword_filters: tuple[str, ...] = ()
    # Region-wide, non-personal aggregates.
    # Trending buckets; a live state passes `trending.LiveBuckets`, whose trending order a request reads as is.
    region_engagement: Sequence[EngagementBucket] = ()
    exposure: Mapping[str, ExposureStats] = field(default_factory=dict)
    # Item-to-item co-engagement from recent sessions: video id -> {neighbour id: weight}.
    co_engagement: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # The region's whole servable catalogue (a superset of `videos`), the same object for every request over one
    # snapshot: region-wide source work (trending, the traffic pools) is then done once per snapshot, not per viewer.
    region_videos: Mapping[str, VideoInfo] | None = None
    # Every servable video of each creator (public or not), shared like `region_videos`: the following source
    # looks up the followed creators' videos instead of walking the eligible set.
    region_by_creator: Mapping[str, Sequence[VideoInfo]] | None = None
    # The newest servable videos of each sound (a bounded list per sound), shared like `region_videos`: the sound
    # source looks up the sounds of the viewer's recent videos instead of walking the eligible set.
    region_by_sound: Mapping[str, Sequence[VideoInfo]] | None = None
    # Candidates carried from this scroll's previous page (`FeedPage.carry`). When given, the page is ranked from
    # them by the model as it is now, and the sources are not asked; when too few of them pass the filters to fill
    # the page, the sources are asked after all. The platform decides when a carry is still fresh enough.
    carried: Carried | None = None


TASKS: tuple[str, ...] = ("complete", "watch_time", "like", "share", "comment", "follow")
"""The actions a ranking model predicts; `watch_time` is duration-debiased (a quantile within its length bucket)."""


class Scorer(Protocol):
    """A learned model as the serving pipeline sees it (implemented by the trained/online model)."""

    # Names the model state: a logged score replays exactly only against the same version, and a new version
    # makes the serving index re-check the item vectors (so an online learner should move it as it updates).
    @property
    def version(self) -> str: ...

    def predict(self, user_id: str | None, videos: list[VideoInfo], now: float) -> dict[str, Any]:
        """Per task in TASKS, a numpy array of predictions aligned with `videos`."""
        # Each video's predictions must not depend on the others in the batch: an auditor replays one item alone.
        ...

    def user_vector(self, user_id: str | None) -> Any | None:
        """The user's retrieval vector (numpy float32), or None for an unknown user."""
        ...

    def item_vectors(self) -> tuple[list[str], Any]:
        """Ids and a float32 matrix of item retrieval vectors (for the ANN index)."""
        # Return the same two objects while nothing changed: the serving index then skips its comparison.
        ...
