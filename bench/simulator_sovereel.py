"""sovereel's For You pipeline as a policy of the short-video SIMULATOR (bench/simulator.py).

The adapter plays the platform's part. Each simulated impression becomes the events the web client's
WatchTracker sends (web/static/watch.js): impression, play, a progress report per 5 s watched (PROGRESS_MS),
then complete or skip with the seconds watched; likes, shares and follows follow. As in the platform's learner
(`sovereel.foryou.learner`), those events feed the live state (`sovereel.foryou.live_state.RegionFeedState`: trending
buckets, exposure of fresh videos, co-engagement, recent actions) and the model's online step
(`FeedModel.observe`, through `sovereel.foryou.event_rows.model_events`). Every page is one
`ForYouRecommender.recommend` call over a `CandidateWorld` built from that state, the user's seen set and
follows. A trainer refits the model from the whole event log on a schedule of simulated time (`FeedModel.fit`,
see FIRST_FIT_S); until the first fit the ranker is untrained. Content similarity uses the deterministic
`HashingTextEmbedder` over the videos' tags (KuaiRand tags are numbers with no text, so MiniLM would add nothing).

Policies:
- `sovereel`: the pipeline with the learned `sovereel.feed.model.FeedModel`;
- `sovereel-sources`: the same pipeline and live state with a scorer that knows nothing (every prediction 0,
  no vectors): what candidate sources, filters and re-ranking achieve without the model;
- `sovereel-outcomes` (not in the default run): the learned model fed without the play and progress events, which
  it counts as engagements although every video in a feed autoplays; an ablation of the client event stream;
- `sovereel-carried` (not in the default run): `sovereel` with each user's pages chained as a served scroll's are
  (`sovereel.foryou.carry`): a page may be ranked from the candidates the user's page before did not place, under
  the platform's rules except its age limit, since simulated time between one user's pages (every user's pages
  take turns, 2 s per impression) is far longer than a real scroll's. Every page that may come from a carry does:
  the most a carry can cost in quality.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.simulator import Feedback, World
from sovereel.feed.interface import TASKS, CandidateWorld, FeedRequest, Scorer, VideoInfo
from sovereel.feed.params import default_params
from sovereel.feed.pipeline import ForYouRecommender
from sovereel.feed.text_embed import HashingTextEmbedder
from sovereel.foryou.carry import Carry, carry_after
from sovereel.foryou.event_rows import model_events
from sovereel.foryou.live_state import RegionFeedState, Signal

REGION = "sim"
PROGRESS_S = 5.0  # the web client reports progress every 5 s of playback (feed.js PROGRESS_MS)
# Pages between snapshots of the region's aggregates (exposure, trending buckets, co-engagement): copying them
# for every page cost more than the rest of the adapter; 10 pages is about 160 s of simulated time.
SNAPSHOT_EVERY = 10
# The scheduled trainer: a first full fit after an hour of simulated time, then every 3 hours (a full fit costs
# about 20 s here, dominated by EASE's dense inverse; a full run has 2, --quick 1).
FIRST_FIT_S = 3600.0
REFIT_EVERY_S = 3 * 3600.0


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


def client_signals(e: Feedback) -> list[Signal]:
    """The events the web client sends for one impression, in order (ts spaced 1 ms apart to keep that order)."""
    kinds: list[tuple[str, float | None]] = [("impression", None), ("play", 0.0)]
    watched = e.watch_s
    kinds += [("progress", t) for t in np.arange(PROGRESS_S, watched, PROGRESS_S).tolist()]
    kinds.append(("complete" if e.completed else "skip", round(watched, 2)))
    kinds += [(k, None) for k, did in (("like", e.liked), ("share", e.shared), ("follow", e.followed)) if did]
    return [Signal(e.user_id, e.video_id, kind, e.at + 0.001 * n, w) for n, (kind, w) in enumerate(kinds)]


class SovereelPolicy:
    """Serves pages from a `ForYouRecommender`, keeping the platform state its CandidateWorld needs."""

    def __init__(
        self,
        name: str,
        world: World,
        scorer: Scorer,
        model: Any | None = None,
        first_fit_s: float = FIRST_FIT_S,
        refit_every_s: float = REFIT_EVERY_S,
        unlearned: frozenset[str] = frozenset(),
        carry: bool = False,
    ) -> None:
        self.name = name
        self._carries: dict[str, Carry] | None = {} if carry else None  # each user's carry for their next page
        self.carried_pages = 0
        self._first_fit_s, self._refit_every_s = first_fit_s, refit_every_s
        self._unlearned = unlearned  # event kinds the model is not given (an ablation)
        self._videos = video_infos(world)
        self._recommender = ForYouRecommender(scorer, default_params(), HashingTextEmbedder())
        self._recommender.index_texts(self._videos)  # as the platform's learner does at start-up
        self._durations = {vid: v.duration_s for vid, v in self._videos.items()}
        self._model = model  # a FeedModel to update online and refit on schedule, or None
        self._state = RegionFeedState()  # read live: what a page sees depends on the simulated events alone
        self._seen: dict[str, set[str]] = {}
        self._following: dict[str, set[str]] = {}
        self._aggregates: dict[str, Any] = {"region_engagement": (), "exposure": {}, "co_engagement": {}}
        self._pages = 0
        self._log: list[Any] = []  # the model's event log, for the scheduled refits
        self._next_fit: float | None = None
        self.fits = 0

    def recommend(self, user_id: str, k: int, now: float) -> list[str]:
        if self._model is not None:
            self._maybe_refit(now)
        recent, following = self._state.recent(user_id), frozenset(self._following.get(user_id, ()))
        carry = self._carries.pop(user_id, None) if self._carries is not None else None
        if carry is not None and not carry.fresh(carry.made_at, recent, following):  # its age is not held against it
            carry = None
        world = CandidateWorld(
            videos=self._videos,
            seen=frozenset(self._seen.get(user_id, ())),
            following=following,
            recent_engagements=recent,
            recent_skips=self._state.recent_skips(user_id),
            carried=carry.hits if carry is not None else None,
            **self._aggregates,
        )
        page = self._recommender.recommend(FeedRequest(user_id=user_id, region=REGION, limit=k, now=now), world)
        self.carried_pages += page.from_carry
        if self._carries is not None and page.carry and len(page.items) >= k:
            self._carries[user_id] = carry_after(page, carry, now, recent, following)
        return [item.video_id for item in page.items]

    def observe(self, events: Sequence[Feedback]) -> None:
        signals = [s for e in events for s in client_signals(e)]
        for e in events:
            self._seen.setdefault(e.user_id, set()).add(e.video_id)
            if e.followed:
                self._following.setdefault(e.user_id, set()).add(e.creator_id)
        self._state.apply(signals)
        self._pages += 1
        if self._pages % SNAPSHOT_EVERY == 1:
            self._aggregates = {
                "region_engagement": self._state.region_engagement(events[-1].at),
                "exposure": self._state.exposure(),
                "co_engagement": self._state.co_engagement(),
            }
        if self._model is not None:
            kept = [sig for sig in signals if sig.kind not in self._unlearned]
            learned = model_events(kept, self._durations)  # the platform learner's own conversion
            self._log.extend(learned)
            self._model.observe(learned)

    def _maybe_refit(self, now: float) -> None:
        if self._next_fit is None:
            self._next_fit = now + self._first_fit_s
        if now < self._next_fit or not self._log:
            return
        assert self._model is not None
        self._model.fit(self._log, list(self._videos.values()))
        self._recommender.scorer = self._model  # a new version: the serving index is rebuilt for it
        self._next_fit = now + self._refit_every_s
        self.fits += 1


def code_digest() -> str:
    """SHA-256 (12 hex digits) of the sovereel feed code a run used: its models are still being written."""
    import hashlib
    from pathlib import Path

    import sovereel.feed

    h = hashlib.sha256()
    root = Path(sovereel.feed.__file__).parent
    platform = [root.parent / "foryou" / "live_state.py", root.parent / "foryou" / "event_rows.py"]
    for path in sorted([*root.glob("*.py"), *root.glob("params/*.json"), *platform]):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def make_policy(name: str, world: World, seed: int, **schedule: float) -> SovereelPolicy:
    """`sovereel`, `sovereel-outcomes`, `sovereel-carried` or `sovereel-sources` (see the module docstring);
    `schedule` sets refits."""
    if name == "sovereel-sources":
        return SovereelPolicy(name, world, ColdScorer())
    if name not in ("sovereel", "sovereel-outcomes", "sovereel-carried"):
        raise ValueError(f"unknown sovereel policy {name!r}")
    try:
        from sovereel.feed.model import FeedModel, ModelConfig
    except ImportError as exc:
        raise PolicyUnavailable(f"sovereel.feed.model is not usable: {exc}") from exc
    model = FeedModel(ModelConfig(seed=seed))
    model.describe(list(video_infos(world).values()))
    unlearned = frozenset({"play", "progress"}) if name == "sovereel-outcomes" else frozenset()
    carry = name == "sovereel-carried"
    return SovereelPolicy(name, world, model, model, unlearned=unlearned, carry=carry, **schedule)
