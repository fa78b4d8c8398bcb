"""The For You serving pipeline: sources -> merge -> filters -> score -> re-rank -> page, with a Reason per item.

`ForYouRecommender.recommend(request, world)` fills a page over any
`Scorer` (the learned model) and a versioned `Params`. It does no I/O: all it
knows arrives in the `CandidateWorld`. The same request, world, scorer version
and parameter version always give the same page and scores, because every
choice that looks random is drawn from a seed derived from the request.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np

from sovereel.feed.cursor import Cursor, served_digest
from sovereel.feed.explain import ExplainContext, explain
from sovereel.feed.filters import FilterContext, apply_filters
from sovereel.feed.indexes import ContentIndex, ItemIndex
from sovereel.feed.interface import (
    TASKS,
    CandidateWorld,
    Carried,
    FeedItem,
    FeedPage,
    FeedRequest,
    Reason,
    Scorer,
    SourceHit,
    VideoInfo,
)
from sovereel.feed.params import SOURCES, Params
from sovereel.feed.pools import exploration_candidates
from sovereel.feed.rerank import Placed, Scored, fatigued_topics, primary_topic, rerank_page, runners_up, spacing_memory
from sovereel.feed.sources import (
    RegionMemo,
    co_engagement_candidates,
    content_candidates,
    embedding_candidates,
    following_candidates,
    history_seeds,
    sound_candidates,
    tiebreak,
)
from sovereel.feed.text_embed import EmbedTexts
from sovereel.feed.trending import region_trending_scores, trending_candidates

MAX_PAGE = 100
SERVED_MEMORY = 200  # ids a cursor remembers; older pages rely on the seen set
OVERFETCH = 10  # at most this many times its quota is asked of a source, to make up for filtered hits
NON_PERSONALISED_MODEL = "none"  # the model version a non-personalised item records: no model ranked it


def _lookup(world: CandidateWorld) -> Callable[[str], VideoInfo | None]:
    """A video's public facts from the eligible set, else from the region's whole catalogue."""
    region = world.region_videos or {}
    return lambda vid: world.videos.get(vid) or region.get(vid)


def _refresh(scorer: Scorer, index: ItemIndex) -> None:
    """Bring the item index up to the scorer's vectors. A scorer that can tell which rows changed since the last
    refresh (`item_vectors_since`: online learning touches a few per event) costs that many rows, not a pass over
    the catalogue; any other scorer is compared whole (cheap while its vectors and version stay the same)."""
    since = getattr(scorer, "item_vectors_since", None)
    if since is None:
        index.sync(*scorer.item_vectors(), token=scorer.version)
        return
    state, whole, ids, vectors = since(index.source_state)
    if whole:
        index.sync(ids, vectors, token=state)
    elif ids:
        index.upsert(ids, vectors)
    index.source_state = state


def _no_stage(_stage: str) -> None:
    """The default `on_stage`: nobody is timing."""


def request_seed(request: FeedRequest) -> int:
    """The seed of a new scroll: from the request only, so the same request replays exactly."""
    # The non-personalised feed is not seeded by who is asking: it must not differ between viewers.
    who = request.user_id if request.personalised else ""
    key = f"{who}|{request.region}|{request.now!r}|{request.personalised}"
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


def _interleave(lists: Sequence[list[SourceHit]], cap: int) -> dict[str, dict[str, SourceHit]]:
    """Merge hits by video, keeping every source's tag; past `cap` videos, sources take turns by rank."""
    merged: dict[str, dict[str, SourceHit]] = {}
    for rank in range(max((len(hits) for hits in lists), default=0)):
        for hits in lists:
            if rank < len(hits):
                hit = hits[rank]
                if hit.video_id in merged:
                    merged[hit.video_id][hit.source] = hit
                elif len(merged) < cap:
                    merged[hit.video_id] = {hit.source: hit}
    return merged


@runtime_checkable
class RecordingScorer(Protocol):
    """A Scorer that also returns the feature rows its predictions came from (logged for exact replay)."""

    @property
    def version(self) -> str: ...

    def predict_recorded(self, user_id: str | None, videos: list[VideoInfo], now: float) -> tuple[dict[str, Any], Any]:
        """Predictions as `Scorer.predict`, each row computed on its own, and the feature matrix (videos x features)."""
        ...


def checked_predictions(scorer: Scorer | RecordingScorer, raw: Mapping[str, Any], n: int) -> dict[str, np.ndarray]:
    """A scorer's raw predictions, checked: one finite value per video for every task."""
    out: dict[str, np.ndarray] = {}
    for task in TASKS:
        if task not in raw:
            raise ValueError(f"scorer {scorer.version} returned no predictions for task {task!r}")
        values = np.asarray(raw[task], dtype=np.float64).reshape(-1)
        if values.shape[0] != n or not np.all(np.isfinite(values)):
            raise ValueError(f"scorer {scorer.version}: task {task!r} needs {n} finite predictions")
        out[task] = values
    return out


def predictions_for(scorer: Scorer, user_id: str | None, videos: list[VideoInfo], now: float) -> dict[str, np.ndarray]:
    """The scorer's predictions, checked: one finite value per video for every task."""
    raw = scorer.predict(user_id, videos, now) if videos else {t: np.zeros(0) for t in TASKS}
    return checked_predictions(scorer, raw, len(videos))


def score_terms(params: Params, predictions: dict[str, float]) -> tuple[float, dict[str, float]]:
    """The published weighted sum: each task's term (weight x prediction) and their total."""
    terms = {task: params.weights[task] * predictions[task] for task in TASKS}
    return sum(terms[task] for task in TASKS), terms  # fixed order: float sums depend on it


def video_record(video: VideoInfo) -> dict[str, Any]:
    """A video's facts as JSON-ready data (what replay rebuilds it from)."""
    record = dataclasses.asdict(video)
    record["hashtags"] = list(video.hashtags)
    return record


def replay(scorer: Scorer, params: Params, reason: Reason) -> tuple[float, dict[str, float]]:
    """Recompute a served item's score and terms from its Reason (the auditor's check)."""
    if reason.params_version != params.version:
        raise ValueError(f"reason was ranked with params {reason.params_version}, not {params.version}")
    inputs = reason.inputs
    if not reason.personalised:
        top = float(inputs["max_popularity"])
        popularity = float(inputs["popularity"]) / top if top > 0 else 0.0
        return popularity, {"popularity": popularity}
    if reason.model_version != scorer.version:
        raise ValueError(f"reason was scored by model {reason.model_version}, not {scorer.version}")
    record = dict(inputs["video"])
    record["hashtags"] = tuple(record["hashtags"])
    preds = predictions_for(scorer, inputs["user_id"], [VideoInfo(**record)], float(inputs["now"]))
    return score_terms(params, {task: float(preds[task][0]) for task in TASKS})


ItemScore = tuple[float, dict[str, float], dict[str, Any]]
"""A candidate's final score, its terms, and the scoring inputs its Reason records."""


class PageScores:
    """The filtered candidates' final scores, and each one's terms and Reason inputs built on demand.

    Only the items placed on the page need their terms and inputs: building them for every candidate cost more
    than the scores themselves."""

    def __init__(self, score: dict[str, float], detail: Callable[[str], tuple[dict[str, float], dict[str, Any]]]):
        self.score = score
        self._detail = detail

    def item(self, video_id: str) -> ItemScore:
        """The candidate's score, terms and inputs."""
        terms, extra = self._detail(video_id)
        return self.score[video_id], terms, extra


def weighted_scores(params: Params, preds: Mapping[str, np.ndarray]) -> tuple[list[float], dict[str, list[float]]]:
    """`score_terms` for a whole batch: per item its total and per task its terms, the very same floats."""
    # Each term is one float64 product and the total adds them from 0 in TASKS order, as score_terms does
    # item by item: elementwise float64 arithmetic in the same order rounds exactly the same.
    terms = {task: params.weights[task] * np.asarray(preds[task], dtype=np.float64) for task in TASKS}
    total = np.zeros(len(next(iter(terms.values()))) if terms else 0, dtype=np.float64)
    for task in TASKS:
        total = total + terms[task]
    return total.tolist(), {task: terms[task].tolist() for task in TASKS}


def _score(
    scorer: Scorer,
    params: Params,
    request: FeedRequest,
    world: CandidateWorld,
    videos: list[VideoInfo],
    memo: RegionMemo,
) -> PageScores:
    """Score the filtered candidates: the model's weighted sum, or region popularity when not personalised."""
    if request.personalised:
        features: Any = None
        # Asked of the class: an isinstance check on the runtime protocol reads every member, `version` included,
        # and the serving scorer's `version` takes the model's lock (requests queued behind the learner for it).
        if callable(getattr(type(scorer), "predict_recorded", None)):
            recording = cast(RecordingScorer, scorer)
            # Row-invariant predictions plus the feature rows behind them: the overseer replays an item from these.
            recorded, features = recording.predict_recorded(request.user_id, videos, request.now)
            preds = checked_predictions(scorer, recorded, len(videos))
        else:
            preds = predictions_for(scorer, request.user_id, videos, request.now)
        totals, terms = weighted_scores(params, preds)
        values = {task: preds[task].tolist() for task in TASKS}
        row = {video.id: i for i, video in enumerate(videos)}

        def detail(video_id: str) -> tuple[dict[str, float], dict[str, Any]]:
            i = row[video_id]
            extra: dict[str, Any] = {
                "predictions": {task: values[task][i] for task in TASKS},
                "weights": dict(params.weights),
            }
            if features is not None:
                extra["features"] = features[i].tolist()  # float32 values as Python floats: exact in JSON
            return {task: terms[task][i] for task in TASKS}, extra

        return PageScores({video.id: totals[i] for i, video in enumerate(videos)}, detail)
    # Content-neutral: region popularity only, no model and nothing about the viewer.
    popularity = region_trending_scores(world, params.trending, request.now, videos, memo)
    top = max((popularity.get(v.id, 0.0) for v in videos), default=0.0)
    scores = {v.id: popularity.get(v.id, 0.0) / top if top > 0 else 0.0 for v in videos}

    def neutral(video_id: str) -> tuple[dict[str, float], dict[str, Any]]:
        return {"popularity": scores[video_id]}, {"popularity": popularity.get(video_id, 0.0), "max_popularity": top}

    return PageScores(scores, neutral)


class ForYouRecommender:
    """The For You recommender: candidate sources, filters, the learned Scorer, re-ranking and reasons."""

    name = "for_you"

    def __init__(
        self, scorer: Scorer, params: Params, embed_texts: EmbedTexts | None = None, *, embed_on_request: bool = True
    ) -> None:
        self.params = params
        # A server keeps the text index current in the background (index_texts) and passes False, so that no
        # request ever waits for captions to be embedded; small embedded uses may embed lazily per request.
        self.embed_on_request = embed_on_request
        self._content = ContentIndex(embed_texts, params.index) if embed_texts is not None else None
        self._region_memo = RegionMemo()
        self._serving = self._prepare(scorer)

    @property
    def scorer(self) -> Scorer:
        """The model now serving."""
        return self._serving[0]

    @scorer.setter
    def scorer(self, scorer: Scorer) -> None:
        # Swapping models builds the new model's item index first and then replaces model and index in one
        # assignment: requests in flight finish on the old pair, later ones get the new, none waits for a build.
        self._serving = self._prepare(scorer)

    def index_texts(self, videos: Mapping[str, VideoInfo], cancelled: Callable[[], bool] | None = None) -> None:
        """Embed videos' captions and hashtags ahead of requests (at start-up, and as videos are published);
        `cancelled` stops it between batches."""
        # Requests embed only what is new since; a cold start would otherwise embed the whole catalogue in one request.
        if self._content is not None:
            self._content.sync(videos, cancelled, remember=False)  # passed once: not held afterwards

    def index_changes(self, upsert: Sequence[VideoInfo] = (), remove: Iterable[str] = ()) -> None:
        """Keep the text index current for a few videos (published, edited or removed) without a catalogue pass."""
        if self._content is not None:
            self._content.update(upsert, remove)

    def _prepare(self, scorer: Scorer) -> tuple[Scorer, ItemIndex]:
        index = ItemIndex(self.params.index)
        _refresh(scorer, index)
        return scorer, index

    def recommend(
        self, request: FeedRequest, world: CandidateWorld, on_stage: Callable[[str], None] | None = None
    ) -> FeedPage:
        """One page of the For You feed for this request; `on_stage(name)` is told as each stage ends (the
        I/O shell times the stages with it: this module keeps no clock)."""
        lap = on_stage or _no_stage
        limit = max(1, min(request.limit, MAX_PAGE))
        if world.carried:
            page = self._page(request, world, lap, limit, world.carried)
            if len(page.items) >= limit:
                return page
            # Too few of the carried candidates are still eligible (watched, marked, blocked meanwhile): the
            # sources are asked after all, so a carry never shortens a page.
        return self._page(request, world, lap, limit, None)

    def _page(
        self,
        request: FeedRequest,
        world: CandidateWorld,
        lap: Callable[[str], None],
        limit: int,
        carried: Carried | None,
    ) -> FeedPage:
        (scorer, index), params = self._serving, self.params
        cursor = Cursor.decode(request.cursor) if request.cursor else Cursor(request_seed(request), 0)
        personalised = request.personalised
        user_vector = scorer.user_vector(request.user_id) if personalised and request.user_id else None
        merged: Carried
        if carried is None:
            hits = self._sources(request, world, params, cursor, scorer, index, user_vector)
            merged = _interleave(hits, params.max_candidates)
        else:
            merged = carried  # only read
        lap("sources")

        served_ids = set(cursor.served)
        served = [vid for vid in merged if vid in world.served or served_digest(vid) in served_ids]
        ctx = FilterContext.from_world(world, request.user_id, use_history=personalised, served=served)
        kept, _dropped = apply_filters(sorted(merged), world.videos, ctx)
        videos = [world.videos[vid] for vid in kept]
        lap("filters")

        per_item = _score(scorer, params, request, world, videos, self._region_memo)
        lap("ranking")

        tired = (
            fatigued_topics(world.recent_skips, world.recent_engagements, _lookup(world), params.rerank.skip_fatigue)
            if personalised
            else frozenset()
        )
        # Equal scores (a model that knows nothing yet of a new viewer) go to the videos more sources agree on,
        # then in a per-scroll shuffled order rather than by id (ids sort by age).
        topics = [primary_topic(v) for v in videos]
        ranked = [
            Scored(
                v.id,
                v.creator_id,
                topic,
                per_item.score[v.id],
                "exploration" in merged[v.id],
                tiebreak=-len(merged[v.id]) * 2**64 + tiebreak(cursor.seed, v.id),
                fatigued=topic in tired,  # never "": a video without a hashtag tires no topic
                sound=v.sound_id or "",
            )
            for v, topic in zip(videos, topics, strict=True)
        ]
        history = [
            (world.videos[t].creator_id, primary_topic(world.videos[t]), world.videos[t].sound_id or "")
            for t in cursor.tail
            if t in world.videos
        ]
        placed, more = rerank_page(
            ranked,
            params.rerank,
            exploration_share=params.exploration.share,
            limit=limit,
            start=cursor.offset,
            seed=cursor.seed,
            history=history,
        )
        # A carried page saw only the runners-up of an earlier ranking: the sources may well have more.
        more = more or carried is not None
        base: dict[str, Any] = {
            "mode": "personalised" if personalised else "non_personalised",
            "user_id": request.user_id if personalised else None,
            "region": request.region,
            "now": request.now,
            "seed": f"{cursor.seed:016x}",  # hex: JSON readers that hold numbers as doubles would round it
            "cold_start": personalised and user_vector is None,
        }
        if carried is not None:
            base["carried"] = True  # the candidates came from the scroll's previous page, not from the sources
        model_version = scorer.version if personalised else NON_PERSONALISED_MODEL
        items = [self._item(p, merged, per_item, world, base, model_version, params) for p in placed]

        next_cursor = None
        carry: Carried = {}
        if more and placed:
            keep = spacing_memory(params.rerank)
            new_ids = [p.item.video_id for p in placed]
            next_cursor = Cursor(
                seed=cursor.seed,
                offset=cursor.offset + len(placed),
                served=(cursor.served + tuple(served_digest(v) for v in new_ids))[-SERVED_MEMORY:],
                tail=(cursor.tail + tuple(new_ids))[-keep:] if keep else (),
            ).encode()
            if personalised and request.user_id:
                carry = runners_up(ranked, placed, limit, merged)
        lap("reranking")  # with the reasons and the next cursor
        return FeedPage(items=items, next_cursor=next_cursor, carry=carry, from_carry=carried is not None)

    def _sources(
        self,
        request: FeedRequest,
        world: CandidateWorld,
        params: Params,
        cursor: Cursor,
        scorer: Scorer,
        index: ItemIndex,
        user_vector: Any | None,
    ) -> list[list[SourceHit]]:
        """Every source's hits, in SOURCES order; history-based sources only for the personalised feed."""
        q, now = params.quotas, request.now
        seen = world.seen if request.personalised else frozenset()
        served = set(cursor.served)

        def unseen(video_id: str) -> bool:
            return video_id not in seen and video_id not in world.served and served_digest(video_id) not in served

        def fresh(hits: list[SourceHit], quota: int) -> list[SourceHit]:
            # Sources are asked for more than their quota so that what this viewer has already watched, or was
            # served earlier in this scroll, does not use it up and end the feed early.
            return [h for h in hits if unseen(h.video_id)][:quota]

        def ask(quota: int) -> int:
            return min(quota + len(seen) + len(served) + len(world.served), OVERFETCH * quota)

        hits: dict[str, list[SourceHit]] = {}
        if request.personalised:
            if user_vector is not None and q["embedding"] > 0:
                _refresh(scorer, index)  # the rows online learning changed since the last request, if any
                hits["embedding"] = embedding_candidates(
                    index, user_vector, ask(q["embedding"]), lambda v: unseen(v) and v in world.videos, q["embedding"]
                )
            hits["following"] = fresh(
                following_candidates(world, params.following, now, ask(q["following"]), self._region_memo),
                q["following"],
            )
            seeds = history_seeds(world, params.history, now)
            co = co_engagement_candidates(world, seeds, ask(q["co_engagement"]))
            hits["co_engagement"] = fresh(co, q["co_engagement"])
            if self._content is not None and seeds and q["content"] > 0:
                if self.embed_on_request:
                    self._content.sync(world.videos)
                texts = self._content.index
                hits["content"] = content_candidates(texts, seeds, ask(q["content"]), unseen, q["content"])
            if seeds and q["sound"] > 0:
                hits["sound"] = fresh(sound_candidates(world, seeds, ask(q["sound"])), q["sound"])
        hits["trending"] = trending_candidates(
            world, params.trending, now, ask(q["trending"]), self._region_memo, unseen, q["trending"]
        )
        exploring = exploration_candidates(
            world, params.exploration, now, ask(q["exploration"]), cursor.seed, self._region_memo
        )
        hits["exploration"] = fresh(exploring, q["exploration"])
        return [hits[s] for s in SOURCES if s in hits]

    def _item(
        self,
        placed: Placed,
        merged: Carried,
        per_item: PageScores,
        world: CandidateWorld,
        base: dict[str, Any],
        model_version: str,
        params: Params,
    ) -> FeedItem:
        vid = placed.item.video_id
        video = world.videos[vid]
        by_source = merged[vid]
        score, terms, extra = per_item.item(vid)
        via = {s: h.via for s, h in by_source.items() if h.via}
        inputs = {
            **base,
            "video": video_record(video),
            "source_scores": {s: by_source[s].score for s in SOURCES if s in by_source},
            "via": via,
            "position": placed.position,
            "slot": placed.slot,
            **extra,
        }
        reason = Reason(
            sources=[s for s in SOURCES if s in by_source],
            model_version=model_version,
            params_version=params.version,
            score=score,
            terms=terms,
            inputs=inputs,
            personalised=base["mode"] == "personalised",
        )
        ctx = ExplainContext(
            video=video,
            world=world,
            via=via,
            slot=placed.slot,
            cold_start=bool(base["cold_start"]),
            signed_in=base["user_id"] is not None,
        )
        reason.explanation = explain(reason, ctx)
        return FeedItem(video_id=vid, reason=reason)
