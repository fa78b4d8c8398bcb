"""The served For You model: retrieval embeddings, co-engagement state and a multi-task ranker.

`FeedModel` implements the `Scorer` protocol. Its parts:

- two Monolith-style `EmbeddingTable`s (users, videos) keyed by raw id: the retrieval vectors
  the serving ANN index is built from, fitted by PureSVD and moved online by one Adagrad step
  per event (BPR for engagements, logistic for skips);
- co-engagement state: each user's engaged videos (the profile), the videos they swiped away
  (negative feedback, per hashtag and creator), and item-to-item matrices learnt in batch
  (cooccurrence.py: EASE over histories and over sessions, cosine, RP3beta, over short bursts of
  engagement and over what was engaged with next to what, in time order);
- item facts: engagement count, how many viewers it was shown to, a per-day engagement histogram
  (trending), first-seen and creation time, duration, creator and hashtags;
- a `RankerNet` (ranker_net.py) over the named features of (user, video, now) (features.py) with one
  head per task in `TASKS`, trained by cross-fitting (train.py, with ranker_fit.py): on what viewers did
  with the videos they were shown where the log records impressions, listwise over retrieved candidates
  where it does not.

This module holds the model's state and its serving and online-learning steps; batch training lives in
train.py, persistence in model_io.py. What changes the model: `observe(events)`, the online step (a like or a
completed watch is in the user's profile and vectors before it returns, so the next prediction reflects it);
`fit`/`refresh`, which rebuild it from the event log; `forget_user`, `expire` and `describe`; and `predict`,
which adds a video it has not seen to the catalogue. `retrieve`, `features` and `score_lists` only read (features
fill the catalogue's memo of its hashtag and creator matrices).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

from sovereel.events.kinds import ENGAGEMENT_KINDS, MODEL_KINDS
from sovereel.feed.catalogue import Catalogue
from sovereel.feed.embedding_table import EmbeddingTable, stable_seed
from sovereel.feed.features import FEATURES, profile_matrix, ranker_features, users_per_batch
from sovereel.feed.interface import TASKS, VideoInfo
from sovereel.feed.once import OncePerDay
from sovereel.feed.ranker_net import LOGIT_CLIP, RankerNet, prior_logits
from sovereel.feed.viewer_stats import ViewerStats

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
DAY_S = 86400.0

EVENT_KINDS = MODEL_KINDS
# Actions that are engagement whatever was watched. A play is not: every video in a feed autoplays. A partial
# watch (progress, or a skip after watching) is engagement from half the video on; a skip before that is a
# rejection, which pushes the user's and the video's vectors apart.
ENGAGED_KINDS: frozenset[str] = frozenset(ENGAGEMENT_KINDS)
ENGAGED_WATCH_SHARE = 0.5
MAX_REJECTIONS = 1000  # a viewer's most recent swipe-aways kept in the model's state


@dataclass(frozen=True)
class Event:
    """One viewer action on one video, as the feed learns from it.

    user_id / video_id: raw ids; ts: event time (epoch seconds, data time);
    kind: impression (shown), play, progress (partial watch), complete (watched to the end),
    skip (swiped away early), like, share, comment, follow (the video's creator);
    watched_s: seconds watched so far (play/progress/complete/skip); duration_s: the video's length.
    """

    user_id: str
    video_id: str
    ts: float
    kind: str
    watched_s: float = 0.0
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")


def is_engaged(e: Event) -> bool:
    """Whether an event says the viewer wanted this video (see ENGAGED_KINDS)."""
    if e.kind in ENGAGED_KINDS:
        return True
    return e.kind in ("progress", "skip") and e.duration_s > 0 and e.watched_s >= ENGAGED_WATCH_SHARE * e.duration_s


def is_rejection(e: Event) -> bool:
    """A swipe away before half the video was watched."""
    return e.kind == "skip" and not is_engaged(e)


# Learning steps one viewer's events on one video may take in a UTC day. The page reports progress every 5 s of
# playback, loops included, plus play, complete, like, share: 256 is over 20 minutes of one video in a day, so an
# honest viewer never reaches it (64 cut long loops short and lost 0.02 of simulated watch ratio), while a flood
# of one account's events past it teaches the shared item vectors nothing more (see OncePerDay).
MAX_STEPS_PER_VIEWER_VIDEO_DAY = 256


@dataclass(frozen=True)
class ModelConfig:
    """Every setting of the model; saved in the manifest and digested into the version id."""

    dim: int = 32  # retrieval embedding size
    min_count: int = 1  # sightings before an id gets an embedding row (Monolith admission)
    expire_days: float = 0.0  # rows unseen this long are expired by `expire`; 0 = never
    online_lr: float = 0.05  # Adagrad rate of the per-event step
    online_reg: float = 1e-3
    ease_lambda: float = 400.0
    session_lambda: float = 100.0
    session_gap_s: float = 600.0
    rp3_beta: float = 0.6
    # Off by default (0): "burst", EASE over runs of engagements less than burst_gap_s apart, and "order_near/
    # order/order_far", what was engaged with at most this many positions before or after. They help where the
    # order of engagement carries taste (MovieLens, rated in long sittings); on small logs they
    # are more inputs than the lists can teach. Off, their features are zero.
    burst_gap_s: float = 0.0
    burst_lambda: float = 50.0
    order_windows: tuple[int, int, int] = (0, 0, 0)
    # GF-CF (Shen et al., 2021): a graph filter over the normalised history matrix plus an ideal low-pass filter
    # of its top `gfcf_k` singular vectors weighted by `gfcf_alpha`, as one more co-engagement matrix. Off (0) by
    # default: it costs a dense items x items matrix and an SVD per fit, like EASE.
    gfcf_k: int = 0
    gfcf_alpha: float = 0.3
    neighbours: int = 400  # co-engagement neighbours kept per item
    candidates: int = 100  # co-engagement retrieval depth used for ranker training lists
    trend_days: float = 30.0  # half-width of the trending window around `now`
    slices: int = 8  # cross-fitting: each user's engagements are cut into this many slices
    folds: int = 4  # ... and the ranker learns from this many of them, one held out at a time
    # What the ranker learns from: "impressions" (what each viewer did with what they were shown, skips
    # included), "retrieval" (which retrieved candidates were engaged with: for logs without impressions, such
    # as ratings), or "auto" (impressions where the log has enough of them).
    ranker_lists: str = "auto"
    rounds: int = 1  # cross-fitting repeated with this many different slicings (more, more varied lists)
    min_steps: int = 300  # the ranker trains for at least this many optimiser steps (more epochs on small logs)
    hidden: int = 64
    dropout: float = 0.1
    epochs: int = 6
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_lists: int = 64
    ensemble: int = 1  # ranker nets with different seeds, logits averaged
    duration_edges: tuple[float, ...] = (7.0, 15.0, 30.0, 60.0, 180.0, 600.0)  # D2Q duration buckets (s)
    kind_weights: tuple[tuple[str, float], ...] = tuple(  # engagement strength in profiles and co-engagement
        {
            "play": 0.5,
            "progress": 0.75,
            "complete": 1.0,
            "like": 1.5,
            "comment": 1.5,
            "share": 2.0,
            "follow": 2.0,
        }.items()
    )
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ModelConfig:
        """Settings from `as_dict` output."""
        data = dict(data)
        data["duration_edges"] = tuple(data["duration_edges"])
        if "order_windows" in data:
            data["order_windows"] = tuple(int(w) for w in data["order_windows"])
        data["kind_weights"] = tuple((str(k), float(w)) for k, w in data["kind_weights"])
        return ModelConfig(**data)


def digest_events(events: list[Event]) -> str:
    """A SHA-256 over the events in order: the manifest's record of exactly what was learnt from."""
    h = hashlib.sha256()
    for e in events:
        h.update(
            f"{e.user_id}\x1f{e.video_id}\x1f{e.ts!r}\x1f{e.kind}\x1f{e.watched_s!r}\x1f{e.duration_s!r}\n".encode()
        )
    return h.hexdigest()


class FeedModel:
    """The learned For You model (implements `Scorer`): see the module docstring."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config or ModelConfig()
        cfg = self.config
        expire = cfg.expire_days * DAY_S if cfg.expire_days > 0 else math.inf
        table_args: dict[str, Any] = {"min_count": cfg.min_count, "expire_s": expire, "lr": cfg.online_lr}
        self.users = EmbeddingTable(cfg.dim, seed=cfg.seed, **table_args)
        self.items = EmbeddingTable(cfg.dim, seed=cfg.seed + 1, **table_args)
        self.catalogue = Catalogue()
        self.history: dict[str, dict[int, float]] = {}  # user -> {item column: engagement weight}, oldest first
        self.rejections: dict[str, dict[int, float]] = {}  # user -> {item column: time swiped away}, oldest first
        self.co: dict[str, sp.csr_matrix] = {}  # item x item matrices over the first `co_items` columns
        self.co_items = 0
        self.neighbour_matrix: sp.csr_matrix | None = None  # fit-time binary profiles, for user-user neighbours
        self.neighbour_norms = np.zeros(0, dtype=np.float32)
        self.neighbour_rows: dict[str, int] = {}
        self.ranker = RankerNet(len(FEATURES), cfg.hidden, cfg.dropout, cfg.ensemble, cfg.seed)
        self.ranker.eval()
        self.quantiles = np.zeros((len(cfg.duration_edges) + 1, 101), dtype=np.float32)
        self.base_version = "untrained"
        self.online_events = 0
        # A viewer's impressions of a video count once per UTC day (like the public counters), and their events on
        # it take at most MAX_STEPS_PER_VIEWER_VIDEO_DAY learning steps: one account's flood moves shown counts and
        # item vectors about as much as one honest viewer.
        self._once = OncePerDay()
        self.manifest: dict[str, Any] = {}
        self._weights = dict(cfg.kind_weights)
        self._item_cache: tuple[str, tuple[list[str], FloatArray]] | None = None
        self.viewer_stats = ViewerStats()  # serving's per-viewer co-signal scale (feed.viewer_stats)

    # -- the Scorer protocol ---------------------------------------------------------
    @property
    def version(self) -> str:
        """The fitted version plus the number of online events applied since (deterministic replay key)."""
        return self.base_version if self.online_events == 0 else f"{self.base_version}+{self.online_events}"

    def predict(self, user_id: str | None, videos: list[VideoInfo], now: float) -> dict[str, Any]:
        """Per task, a float32 array of scores in (0, 1) aligned with `videos` (each independent of the others)."""
        if not videos:
            return {t: np.zeros(0, dtype=np.float32) for t in TASKS}
        cols = np.array([self._column(v) for v in videos], dtype=np.int64)[None, :]
        out = self.score_lists([user_id], cols, np.array([now], dtype=np.float64))[0]
        return {t: out[:, k] for k, t in enumerate(TASKS)}

    def user_vector(self, user_id: str | None) -> FloatArray | None:
        """The user's retrieval vector, or None for a signed-out or unknown user."""
        return None if user_id is None else self.users.get(user_id)

    def item_vectors_since(self, state: object) -> tuple[object, bool, list[str], FloatArray]:
        """(new state, whole, ids, vectors): the item rows changed since `state` (what an earlier call returned), or
        every row (`whole`) when that cannot be told: no earlier state, another fitted version, expired items."""
        table = self.items
        now = (self.base_version, id(table), table.version, table.expiries)
        if isinstance(state, tuple) and state[:2] == now[:2] and state[3] == now[3] and state[2] <= now[2]:
            keys = table.touched_since(state[2])
            return now, False, [str(k) for k in keys], table.lookup(keys)[0]
        ids, vectors = self.item_vectors()
        return now, True, ids, vectors

    def item_vectors(self) -> tuple[list[str], FloatArray]:
        """Item ids and retrieval vectors; the same objects are returned until the table changes."""
        key = f"{self.version}:{self.items.version}"
        if self._item_cache is None or self._item_cache[0] != key:
            ids, mat = self.items.matrix()
            self._item_cache = (key, ([str(i) for i in ids], mat))
        return self._item_cache[1]

    # -- features and scoring --------------------------------------------------------
    def _column(self, video: VideoInfo) -> int:
        c = self.catalogue.col.get(video.id)
        if c is None or np.isnan(self.catalogue.created_at[c]):
            c = self.catalogue.describe(video)
        return c

    def describe(self, videos: list[VideoInfo]) -> None:
        """Record the public facts (creator, hashtags, duration, creation time) of videos."""
        for v in videos:
            self.catalogue.describe(v)

    def features(
        self, user_ids: list[str | None], cols: IntArray, now: npt.NDArray[np.float64], keep_scale: bool = False
    ) -> FloatArray:
        """The ranker's inputs (users x candidates x len(FEATURES)) for candidate item columns per user;
        `keep_scale` keeps a single viewer's catalogue-wide co-signal scale for their next page (serving)."""
        return ranker_features(self, user_ids, cols, now, self.viewer_stats if keep_scale else None)

    def score_lists(self, user_ids: list[str | None], cols: IntArray, now: npt.NDArray[np.float64]) -> FloatArray:
        """Ranker scores in (0, 1), users x candidates x tasks, for candidate item columns."""
        feats = torch.from_numpy(self.features(user_ids, cols, now))
        with torch.no_grad():
            logits = self.ranker(feats) if self.base_version != "untrained" else prior_logits(feats)
            return torch.sigmoid(logits.clamp(-LOGIT_CLIP, LOGIT_CLIP)).numpy().astype(np.float32)

    def retrieve(self, user_ids: list[str | None], n: int, exclude: list[set[str]] | None = None) -> IntArray:
        """Per user, the n item columns with the highest EASE co-engagement (popularity for cold users)."""
        step = users_per_batch(len(self.catalogue.ids))
        parts = [
            self._retrieve(user_ids[a : a + step], n, exclude[a : a + step] if exclude else None)
            for a in range(0, len(user_ids), step)
        ]
        # As many columns as _retrieve gives (never more than the catalogue), also for no users.
        return np.concatenate(parts) if parts else np.zeros((0, min(n, len(self.catalogue.ids))), dtype=np.int64)

    def _retrieve(self, user_ids: list[str | None], n: int, exclude: list[set[str]] | None) -> IntArray:
        cat = self.catalogue
        n_items = len(cat.ids)
        pop = np.log1p(cat.engagements[:n_items]) * 1e-6  # breaks ties (and ranks cold users) by popularity
        scores = np.tile(pop, (len(user_ids), 1))
        if "ease" in self.co:
            hist = profile_matrix(self.history, user_ids, n_items)[:, : self.co_items]
            scores[:, : self.co_items] += np.asarray((hist @ self.co["ease"]).todense())
        for r, u in enumerate(user_ids):
            seen = list(self.history.get(u, {})) if u is not None else []
            seen += [cat.col[v] for v in (exclude[r] if exclude else ()) if v in cat.col]
            scores[r, seen] = -np.inf
        n = min(n, n_items)
        part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        return np.asarray(np.take_along_axis(part, order, axis=1), dtype=np.int64)

    # -- online learning -------------------------------------------------------------
    def observe(self, events: list[Event], learn: bool = True) -> None:
        """The online step: apply each event to counts, the user's profile and the touched embedding rows.

        `learn=False` keeps the counts and profiles but takes no gradient step: a serving replica does that and
        receives the embedding rows from the region's learner, which took the steps (`foryou.replica`)."""
        cat = self.catalogue
        for e in events:
            c = cat.ensure(e.video_id)
            if e.duration_s > 0 and np.isnan(cat.duration[c]):
                cat.duration[c] = e.duration_s
            self.users.observe(e.user_id, e.ts)
            self.items.observe(e.video_id, e.ts)
            within = self._once.count(e.user_id, e.video_id, "step", e.ts) <= MAX_STEPS_PER_VIEWER_VIDEO_DAY
            step = learn and within
            if e.kind == "impression" and self._once.first(e.user_id, e.video_id, "impression", e.ts):
                cat.shown[c] += 1.0
            if is_engaged(e):
                hist = self.history.setdefault(e.user_id, {})
                if c not in hist:
                    cat.count(np.array([c]), np.array([e.ts]))
                # Re-inserting keeps the profile ordered by last engagement (oldest first).
                hist[c] = max(hist.pop(c, 0.0), self._weights.get(e.kind, 1.0))
                self.rejections.get(e.user_id, {}).pop(c, None)  # came back to it: no longer a swipe-away
                if step:
                    self._step(e, positive=True)
            elif is_rejection(e):
                if c not in self.history.get(e.user_id, {}):
                    rej = self.rejections.setdefault(e.user_id, {})
                    rej[c] = e.ts
                    while len(rej) > MAX_REJECTIONS:
                        rej.pop(next(iter(rej)))
                if step:
                    self._step(e, positive=False)
            self.online_events += 1

    def _step(self, e: Event, positive: bool) -> None:
        u, v = self.users.get(e.user_id), self.items.get(e.video_id)
        if u is None or v is None:
            return
        reg = self.config.online_reg
        if not positive:
            # Logistic step towards "not for this user": push u.v down.
            g = 1.0 / (1.0 + math.exp(-float(u @ v)))
            self.users.apply_gradients([e.user_id], g * v + reg * u, e.ts)
            self.items.apply_gradients([e.video_id], g * u + reg * v, e.ts)
            return
        # BPR against one sampled video, chosen by a hash of the event so replays are identical.
        ids = self.catalogue.ids
        neg_id = ids[stable_seed(f"{e.user_id}|{e.video_id}|{e.ts!r}", self.config.seed) % len(ids)]
        vn = self.items.get(neg_id)
        if vn is None or neg_id == e.video_id:
            vn, neg_id = np.zeros_like(v), ""
        g = 1.0 / (1.0 + math.exp(float(u @ (v - vn))))
        self.users.apply_gradients([e.user_id], -g * (v - vn) + reg * u, e.ts)
        keys: list[str | int] = [e.video_id, neg_id] if neg_id else [e.video_id]
        grads = [-g * u + reg * v, g * u + reg * vn] if neg_id else [-g * u + reg * v]
        self.items.apply_gradients(keys, np.stack(grads), e.ts)

    def expire(self, now: float) -> list[str | int]:
        """Expire embedding rows unseen for `expire_days` (Monolith); returns the expired ids."""
        return [*self.users.expire(now), *self.items.expire(now)]

    def forget_user(self, user_id: str) -> None:
        """Erase a user's profile and vector (right to erasure / "Refresh For You")."""
        self.history.pop(user_id, None)
        self.rejections.pop(user_id, None)
        if user_id in self.users:
            self.users.assign([user_id], np.zeros((1, self.config.dim)), 0.0)

    # -- batch training and persistence (implemented in train.py) ----------------------
    def fit(
        self,
        events: list[Event],
        videos: list[VideoInfo] | None = None,
        epochs: int | None = None,
        progress: bool = False,
        device: str = "cpu",
    ) -> None:
        """Full training from the event log: co-engagement, embeddings, and the cross-fitted ranker."""
        from sovereel.feed.train import train_from_events

        if epochs is not None:
            self.config = replace(self.config, epochs=epochs)
        train_from_events(self, events, videos or [], progress=progress, device=device)

    def refresh(self, events: list[Event], videos: list[VideoInfo] | None = None) -> None:
        """A cheap retrain: rebuild counts, profiles, co-engagement and embeddings from the log; keep the ranker."""
        from sovereel.feed.train import refresh_state

        refresh_state(self, events, videos or [])

    def save(self, directory: str | Path) -> Path:
        """Write model.safetensors and manifest.json into `directory`; returns the manifest's path."""
        from sovereel.feed.model_io import save_model

        return save_model(self, Path(directory))

    @staticmethod
    def load(directory: str | Path) -> FeedModel:
        """Read a model written by `save`."""
        from sovereel.feed.model_io import load_model

        return load_model(Path(directory))
