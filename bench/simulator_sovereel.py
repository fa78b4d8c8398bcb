"""sovereel's For You pipeline as a policy of the short-video SIMULATOR (bench/simulator.py).

The adapter plays the platform's part: it keeps what the platform would know (each user's seen set, follows
and recent engagements; the region's hourly engagement buckets, exposure counts for the traffic pools and
item-to-item co-engagement) and hands it to `ForYouRecommender.recommend` as a `CandidateWorld`, one request
per page. Feedback goes back as the platform's engagement kinds and, when a learned model is present, to its
online update. Content similarity uses the deterministic `HashingTextEmbedder` over the videos' tags (KuaiRand
tags are numbers with no text), so no model files are needed.

Policies:
- `sovereel`: the pipeline with the learned model of `sovereel.feed.model` (PolicyUnavailable until it exists);
- `sovereel-sources`: the same pipeline with a scorer that knows nothing (every prediction 0, no vectors):
  what candidate sources, filters and re-ranking alone achieve, and a check that the adapter works.
"""

from __future__ import annotations

import importlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench.simulator import Feedback, World
from sovereel.feed.interface import (
    TASKS,
    CandidateWorld,
    Engagement,
    EngagementBucket,
    ExposureStats,
    FeedRequest,
    Scorer,
    VideoInfo,
)
from sovereel.feed.params import default_params
from sovereel.feed.pipeline import ForYouRecommender
from sovereel.feed.sources import build_co_engagement
from sovereel.feed.text_embed import HashingTextEmbedder

REGION = "sim"
BUCKET_S = 3600.0
RECENT_ENGAGEMENTS = 50  # per user, newest kept: what the platform passes as recent activity
CO_ENGAGEMENT_EVERY = 100  # pages between rebuilds of the co-engagement neighbours (quadratic in session length)


class PolicyUnavailable(RuntimeError):
    """The policy cannot be built yet; the message says what is missing."""


class ColdScorer:
    """A scorer that knows nothing: equal predictions for every video, no user or item vectors."""

    version = "cold-0"

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._vectors = np.zeros((0, 8), dtype=np.float32)

    def predict(self, user_id: str | None, videos: list[VideoInfo], now: float) -> dict[str, Any]:
        return {task: np.zeros(len(videos)) for task in TASKS}

    def user_vector(self, user_id: str | None) -> Any | None:
        return None

    def item_vectors(self) -> tuple[list[str], Any]:
        return self._ids, self._vectors


def video_infos(world: World) -> dict[str, VideoInfo]:
    """The simulated catalogue as the platform describes it to recommenders."""
    v = world.videos
    return {
        vid: VideoInfo(
            id=vid,
            creator_id=world.creators[j],
            created_at=float(world.created_at[j]),
            duration_s=float(v.duration_s[j]),
            hashtags=tuple(f"tag{t}" for t in v.tags[j]),
        )
        for j, vid in enumerate(world.ids)
    }


class SovereelPolicy:
    """Serves pages from a `ForYouRecommender`, keeping the platform state its CandidateWorld needs."""

    def __init__(
        self,
        name: str,
        world: World,
        recommender: ForYouRecommender,
        learn: Callable[[Sequence[Feedback]], None] | None = None,
    ) -> None:
        self.name = name
        self._recommender = recommender
        self._learn = learn
        self._videos = video_infos(world)
        self._seen: dict[str, set[str]] = {}
        self._following: dict[str, set[str]] = {}
        self._recent: dict[str, deque[Engagement]] = {}
        self._engaged: dict[str, list[str]] = {}  # per user, videos completed/liked/shared: co-engagement sessions
        self._buckets: dict[tuple[str, str, float], int] = {}
        self._bucket_rows: tuple[EngagementBucket, ...] = ()
        self._exposure: dict[str, ExposureStats] = {}
        self._co: dict[str, dict[str, float]] = {}
        self._pages = 0

    def recommend(self, user_id: str, k: int, now: float) -> list[str]:
        world = CandidateWorld(
            videos=self._videos,
            seen=frozenset(self._seen.get(user_id, ())),
            following=frozenset(self._following.get(user_id, ())),
            recent_engagements=tuple(self._recent.get(user_id, ())),
            region_engagement=self._bucket_rows,
            exposure=self._exposure,
            co_engagement=self._co,
        )
        page = self._recommender.recommend(FeedRequest(user_id=user_id, region=REGION, limit=k, now=now), world)
        return [item.video_id for item in page.items]

    def observe(self, events: Sequence[Feedback]) -> None:
        for e in events:
            self._seen.setdefault(e.user_id, set()).add(e.video_id)
            kinds = [kind for kind, did in (("complete", e.completed), ("like", e.liked), ("share", e.shared),
                                            ("follow", e.followed)) if did]  # fmt: skip
            old = self._exposure.get(e.video_id, ExposureStats())
            self._exposure[e.video_id] = ExposureStats(
                old.impressions + 1, old.completes + e.completed, old.engagements + len(kinds) - e.completed
            )
            if e.followed:
                self._following.setdefault(e.user_id, set()).add(e.creator_id)
            recent = self._recent.setdefault(e.user_id, deque(maxlen=RECENT_ENGAGEMENTS))
            hour = e.at // BUCKET_S * BUCKET_S
            for kind in kinds:
                recent.append(Engagement(e.video_id, kind, e.at))
                self._buckets[(e.video_id, kind, hour)] = self._buckets.get((e.video_id, kind, hour), 0) + 1
            if kinds and kinds != ["follow"]:
                self._engaged.setdefault(e.user_id, []).append(e.video_id)
        self._bucket_rows = tuple(EngagementBucket(v, kind, at, n) for (v, kind, at), n in self._buckets.items())
        self._pages += 1
        if self._pages % CO_ENGAGEMENT_EVERY == 0:
            self._co = build_co_engagement(self._engaged.values(), max_session_len=30)
        if self._learn is not None:
            self._learn(events)


def _pipeline(scorer: Scorer) -> ForYouRecommender:
    return ForYouRecommender(scorer, default_params(), HashingTextEmbedder())


def make_policy(name: str, world: World, seed: int) -> SovereelPolicy:
    """`sovereel` (learned model) or `sovereel-sources` (pipeline without a model)."""
    if name == "sovereel-sources":
        return SovereelPolicy(name, world, _pipeline(ColdScorer()))
    if name != "sovereel":
        raise ValueError(f"unknown sovereel policy {name!r}")
    try:
        model = importlib.import_module("sovereel.feed.model")
    except ModuleNotFoundError as exc:
        raise PolicyUnavailable("sovereel.feed.model does not exist yet (the learned Scorer with observe())") from exc
    raise PolicyUnavailable(f"no adapter yet for {model.__name__}: its API was not known when this was written")
