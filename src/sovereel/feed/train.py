"""Batch training of the For You model from the event log: the orchestration.

What runs on a schedule (or on `sovereel train`) rather than per event:

- the event log folded into engaged (and shown-but-not-engaged) pairs with per-task labels (`fold_events`);
- the model's state rebuilt from those pairs (`fit_state`): counts, profiles, swipe-aways, the co-engagement
  matrices (cooccurrence.py) and the retrieval embeddings (PureSVD);
- the ranker's training lists, made by cross-fitting (`cross_fit_lists`): a slice of every user's log is held
  out and the co-engagement state is rebuilt from the rest. Where the log records what was shown
  (impressions, skips), the ranker learns from the held-out *impressions*: per task, a binary
  cross-entropy of what the viewer did with each video they were shown, so it predicts
  P(action | shown), skips included, and never learns "what the feed used to show" as taste.
  Where it does not (ratings, as in MovieLens), it learns which of the retrieved candidates
  were the held-out engagements (softmax cross-entropy per task over the candidate list, with
  the task's labels as the target distribution);
- the ranker's fit on those lists (ranker_fit.py), and the new version id and manifest.

Not pure. These change the `FeedModel` they are given, in place: `fold_events` (its watch-time quantile table,
and the catalogue columns and durations of videos it meets), `fit_state` (counts, profiles, rejections,
co-engagement matrices, neighbours and both embedding tables), `train_from_events` (all of that plus a new
ranker, version and manifest) and `refresh_state` (all but the ranker). `cross_fit_lists` fits throwaway copies
and leaves the model as it was, `impression_lists` only reads the copy it is given, and `holdout_slices`,
`uses_impression_lists` and `digest_config` are pure. Random draws come from generators seeded by the config's
`seed`, and torch's global generator is reseeded before the ranker is built and trained, so the same log and
config give the same model (on the same library versions), as replay and the model's lineage check rely on.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch
from tqdm import tqdm

from sovereel.events import kinds
from sovereel.feed.catalogue import quantile_table, watch_quantile
from sovereel.feed.cooccurrence import (
    DENSE_EASE_MAX_ITEMS,
    cosine_matrix,
    ease_matrix,
    gfcf_matrix,
    history_matrix,
    randomized_svd,
    rp3_matrix,
    sequence_matrix,
    session_ids,
)
from sovereel.feed.embedding_table import EmbeddingTable
from sovereel.feed.features import FEATURES
from sovereel.feed.interface import TASKS, VideoInfo
from sovereel.feed.model import MAX_REJECTIONS, Event, FeedModel, ModelConfig, digest_events, is_engaged
from sovereel.feed.ranker_fit import RankerLists, calibrate_heads, fit_ranker, ranker_epochs
from sovereel.feed.ranker_net import RankerNet

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Events that say a video was on the viewer's screen. A log with at least MIN_SHOWN_NEGATIVES shown-but-not-engaged
# pairs trains the ranker on impression lists (see the module docstring); a log without them (ratings) cannot.
SHOWN_KINDS = kinds.SHOWN_KINDS
MIN_SHOWN_NEGATIVES = 200
COLD_EVERY = 4  # one impression list in this many is also learnt with the viewer's profile left out
IMPRESSION_LIST = 32  # shown videos per impression list (a user's held-out impressions, in time order)


def holdout_slices(users: IntArray, n_slices: int, seed: int) -> IntArray:
    """Assign each row to one of n_slices so every user's rows spread evenly over the slices."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(users), dtype=np.int64)
    order = np.argsort(users, kind="stable")
    u = users[order]
    starts = np.r_[0, np.nonzero(np.diff(u))[0] + 1, len(u)]
    for a, b in itertools.pairwise(starts.tolist()):
        out[order[a:b]] = (rng.permutation(b - a) + rng.integers(n_slices)) % n_slices
    return out


# -- fitting a FeedModel from the event log ---------------------------------------------


@dataclass
class Engagements:
    """The event log folded to one row per engaged (user, video) pair."""

    user_ids: list[str]
    users: IntArray
    cols: IntArray
    weights: FloatArray
    ts: npt.NDArray[np.float64]  # the pair's first engagement time
    labels: FloatArray  # pairs x tasks: complete, watch_time (D2Q quantile), like, share, comment, follow
    # Shown but not engaged with (an impression, a skip, a short watch) by a user who engaged with something:
    # the negatives of impression lists. Same layout; labels hold the watch-time quantile, the rest 0.
    shown_users: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    shown_cols: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    shown_ts: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    shown_labels: FloatArray = field(default_factory=lambda: np.zeros((0, len(TASKS)), dtype=np.float32))


def fold_events(model: FeedModel, events: Sequence[Event]) -> Engagements:
    """Aggregate events into engaged pairs with per-task labels; fits the model's D2Q watch-time table."""
    cfg, cat = model.config, model.catalogue
    weights = dict(cfg.kind_weights)
    plays = [(e.duration_s, e.watched_s) for e in events if e.watched_s > 0 and e.duration_s > 0]
    model.quantiles = quantile_table([p[0] for p in plays], [p[1] for p in plays], cfg.duration_edges)
    task = {"like": 2, "share": 3, "comment": 4, "follow": 5}
    pairs: dict[tuple[str, int], list[float]] = {}
    shown: dict[tuple[str, int], list[float]] = {}  # (user, col) -> [first time shown, best watch quantile]
    for e in events:
        c = cat.ensure(e.video_id)
        if e.duration_s > 0 and np.isnan(cat.duration[c]):
            cat.duration[c] = e.duration_s
        if e.kind in SHOWN_KINDS:
            seen = shown.setdefault((e.user_id, c), [e.ts, 0.0])
            seen[0] = min(seen[0], e.ts)
            if e.watched_s > 0 and e.duration_s > 0:
                q = watch_quantile(model.quantiles, cfg.duration_edges, e.duration_s, e.watched_s)
                seen[1] = max(seen[1], q)
        if not is_engaged(e):
            continue
        row = pairs.setdefault((e.user_id, c), [0.0, e.ts, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        row[0] = max(row[0], weights.get(e.kind, 1.0))
        row[1] = min(row[1], e.ts)
        done = e.kind == "complete" or (e.duration_s > 0 and e.watched_s >= 0.95 * e.duration_s)
        row[2] = max(row[2], float(done))
        if e.watched_s > 0 and e.duration_s > 0:
            row[3] = max(row[3], watch_quantile(model.quantiles, cfg.duration_edges, e.duration_s, e.watched_s))
        elif e.kind == "complete":
            row[3] = 1.0  # a completion without a recorded watch time counts as a full watch
        if e.kind in task:
            row[2 + task[e.kind]] = 1.0
    user_ids = list(dict.fromkeys(u for u, _ in pairs))
    uidx = {u: n for n, u in enumerate(user_ids)}
    vals = np.array(list(pairs.values()), dtype=np.float64).reshape(len(pairs), 8)
    negatives = [(u, c, t, q) for (u, c), (t, q) in shown.items() if u in uidx and (u, c) not in pairs]
    shown_labels = np.zeros((len(negatives), vals.shape[1] - 2), dtype=np.float32)
    shown_labels[:, 1] = [q for *_, q in negatives]
    return Engagements(
        user_ids=user_ids,
        users=np.array([uidx[u] for u, _ in pairs], dtype=np.int64),
        cols=np.array([c for _, c in pairs], dtype=np.int64),
        weights=vals[:, 0].astype(np.float32),
        ts=vals[:, 1],
        labels=vals[:, 2:].astype(np.float32),
        shown_users=np.array([uidx[u] for u, *_ in negatives], dtype=np.int64),
        shown_cols=np.array([c for _, c, *_ in negatives], dtype=np.int64),
        shown_ts=np.array([t for *_, t, _ in negatives], dtype=np.float64),
        shown_labels=shown_labels,
    )


def fit_state(
    model: FeedModel,
    data: Engagements,
    keep: npt.NDArray[np.bool_],
    keep_shown: npt.NDArray[np.bool_] | None = None,
) -> None:
    """Rebuild counts, profiles, co-engagement matrices and embeddings from the kept pairs (and the viewers'
    swipe-aways from the kept shown-but-not-engaged pairs; all of them where `keep_shown` is None)."""
    cfg, cat = model.config, model.catalogue
    users, cols, w, ts = data.users[keep], data.cols[keep], data.weights[keep], data.ts[keep]
    n_items = len(cat.ids)
    cat.reset_counts()
    cat.count(cols, ts)
    order = np.argsort(ts, kind="stable")
    model.history = {}
    for u, c, wt in zip(users[order].tolist(), cols[order].tolist(), w[order].tolist(), strict=True):
        model.history.setdefault(data.user_ids[u], {})[c] = wt
    shown = np.ones(len(data.shown_users), dtype=bool) if keep_shown is None else keep_shown
    r_users, r_cols, r_ts = data.shown_users[shown], data.shown_cols[shown], data.shown_ts[shown]
    rejections: dict[str, dict[int, float]] = {}
    for n in np.argsort(r_ts, kind="stable").tolist():  # oldest first, as `observe` keeps them
        rejections.setdefault(data.user_ids[int(r_users[n])], {})[int(r_cols[n])] = float(r_ts[n])
    model.rejections = {u: dict(list(rej.items())[-MAX_REJECTIONS:]) for u, rej in rejections.items()}
    np.add.at(cat.shown, cols, 1.0)  # an engaged viewer was shown the video; so was one who swiped it away
    np.add.at(cat.shown, r_cols, 1.0)
    x = history_matrix(users, cols, w, (len(data.user_ids), n_items))
    sessions = session_ids(users, ts, cfg.session_gap_s)
    s = history_matrix(sessions, cols, w, (int(sessions.max(initial=-1)) + 1, n_items))
    model.co = {
        "ease": ease_matrix(x, cfg.ease_lambda, cfg.neighbours),
        "session": ease_matrix(s, cfg.session_lambda, cfg.neighbours),
        "cosine": cosine_matrix(x, cfg.neighbours),
        "rp3": rp3_matrix(x, cfg.rp3_beta, cfg.neighbours),
    }
    if cfg.burst_gap_s > 0:
        bursts = session_ids(users, ts, cfg.burst_gap_s)
        burst = history_matrix(bursts, cols, np.ones(len(cols)), (int(bursts.max(initial=-1)) + 1, n_items))
        model.co["burst"] = ease_matrix(burst, cfg.burst_lambda, cfg.neighbours)
    if cfg.gfcf_k > 0 and n_items <= DENSE_EASE_MAX_ITEMS:
        model.co["gfcf"] = gfcf_matrix(x, cfg.gfcf_k, cfg.gfcf_alpha, cfg.neighbours, cfg.seed)
    for name, window in zip(("order_near", "order", "order_far"), cfg.order_windows, strict=True):
        if window > 0:
            model.co[name] = sequence_matrix(users, cols, ts, n_items, window, cfg.neighbours)
    model.co_items = n_items
    people = sp.csr_matrix(x, copy=True)
    people.data[:] = 1.0
    model.neighbour_matrix = people
    model.neighbour_norms = np.sqrt(np.asarray(people.sum(axis=1)).ravel()).astype(np.float32)
    model.neighbour_rows = {u: n for n, u in enumerate(data.user_ids)}
    factors, sing = randomized_svd(x, cfg.dim, cfg.seed)
    user_vecs = np.asarray(x @ factors) / np.maximum(sing, 1e-6)  # fold-in: u.v_i reproduces PureSVD
    last = float(ts.max(initial=0.0))
    args: dict[str, Any] = {"min_count": model.users.min_count, "expire_s": model.users.expire_s, "lr": cfg.online_lr}
    model.users = EmbeddingTable(cfg.dim, seed=cfg.seed, **args)
    model.items = EmbeddingTable(cfg.dim, seed=cfg.seed + 1, **args)
    engaged = np.unique(cols)
    model.items.assign([cat.ids[c] for c in engaged], _pad(factors[engaged], cfg.dim), last)
    active = np.unique(users)
    model.users.assign([data.user_ids[u] for u in active], _pad(user_vecs[active], cfg.dim), last)


def _pad(mat: npt.NDArray[np.floating], dim: int) -> FloatArray:
    out = np.zeros((mat.shape[0], dim), dtype=np.float32)
    out[:, : mat.shape[1]] = mat
    return out


def _mean_time(data: Engagements, keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    # A user's "now" when their held-out engagements happened: the mean time of the rest.
    total = np.bincount(data.users[keep], weights=data.ts[keep], minlength=len(data.user_ids))
    count = np.bincount(data.users[keep], minlength=len(data.user_ids))
    overall = float(data.ts.mean()) if len(data.ts) else 0.0
    return np.where(count > 0, total / np.maximum(count, 1), overall)


def cross_fit_lists(model: FeedModel, data: Engagements, progress: bool = False) -> RankerLists:
    """Ranker training lists: per fold, rebuild state without one slice and label that slice's impressions
    (where the log has them; see `impression_lists`) or the retrieved candidates (where it does not)."""
    cfg = model.config
    parts = []
    n_folds = min(cfg.folds, cfg.slices)
    plan = [(r, fold) for r in range(max(1, cfg.rounds)) for fold in range(n_folds)]
    slicings = {r: holdout_slices(data.users, cfg.slices, cfg.seed + 7919 * r) for r in range(max(1, cfg.rounds))}
    impressions = uses_impression_lists(cfg, data)
    shown_slicings = {
        r: holdout_slices(data.shown_users, cfg.slices, cfg.seed + 7919 * r + 1) for r in range(max(1, cfg.rounds))
    }
    for r, fold in tqdm(plan, desc="cross-fit folds", leave=False, disable=not progress):
        keep = slicings[r] != fold
        trial = FeedModel(cfg)
        trial.catalogue = model.catalogue.copy_facts()
        fit_state(trial, data, keep, shown_slicings[r] != fold)
        if impressions:
            parts.append(impression_lists(trial, data, ~keep, shown_slicings[r] == fold))
            continue
        held = np.unique(data.users[~keep])
        ids: list[str | None] = [data.user_ids[u] for u in held]
        cand = trial.retrieve(ids, cfg.candidates)
        feats = trial.features(ids, cand, _mean_time(data, keep)[held])
        targets = np.zeros((len(held), cand.shape[1], data.labels.shape[1]), dtype=np.float32)
        row_of = {int(u): r for r, u in enumerate(held)}
        pos = [{int(c): k for k, c in enumerate(row)} for row in cand]
        for i in np.nonzero(~keep)[0]:
            r = row_of[int(data.users[i])]
            k = pos[r].get(int(data.cols[i]))
            if k is not None:
                targets[r, k] = data.labels[i]
        parts.append(RankerLists(feats, targets))
    return RankerLists.concat(parts)


def uses_impression_lists(cfg: ModelConfig, data: Engagements) -> bool:
    """Whether the ranker learns from impressions: `cfg.ranker_lists`, where "auto" asks the log."""
    if cfg.ranker_lists == "auto":
        return len(data.shown_users) >= MIN_SHOWN_NEGATIVES
    return cfg.ranker_lists == "impressions"


def impression_lists(
    trial: FeedModel, data: Engagements, held: npt.NDArray[np.bool_], held_shown: npt.NDArray[np.bool_]
) -> RankerLists:
    """The held-out impressions, engaged with or not, as lists of up to IMPRESSION_LIST videos per user in time
    order, with features from `trial` (fitted without them) at the time they were shown."""
    users = np.r_[data.users[held], data.shown_users[held_shown]]
    cols = np.r_[data.cols[held], data.shown_cols[held_shown]]
    ts = np.r_[data.ts[held], data.shown_ts[held_shown]]
    labels = np.concatenate([data.labels[held], data.shown_labels[held_shown]])
    order = np.lexsort((ts, users))
    users, cols, ts, labels = users[order], cols[order], ts[order], labels[order]
    chunks: list[tuple[int, int]] = []
    bounds = np.r_[0, np.nonzero(np.diff(users))[0] + 1, len(users)]
    for a, b in itertools.pairwise(bounds.tolist()):
        chunks.extend((s, min(s + IMPRESSION_LIST, b)) for s in range(a, b, IMPRESSION_LIST))
    cand = np.zeros((len(chunks), IMPRESSION_LIST), dtype=np.int64)
    mask = np.zeros(cand.shape, dtype=bool)
    targets = np.zeros((*cand.shape, labels.shape[1]), dtype=np.float32)
    now = np.zeros(len(chunks), dtype=np.float64)
    for i, (a, b) in enumerate(chunks):
        cand[i, : b - a], mask[i, : b - a], targets[i, : b - a] = cols[a:b], True, labels[a:b]
        now[i] = ts[a:b].mean()
    ids: list[str | None] = [data.user_ids[int(users[a])] for a, _ in chunks]
    lists = RankerLists(trial.features(ids, cand, now), targets, mask)
    # Every COLD_EVERY-th list again as a stranger would have seen it (no profile, no vector): what a new viewer's
    # first videos are scored on is then something the ranker has learnt, not an extrapolation.
    cold = np.arange(COLD_EVERY - 1, len(chunks), COLD_EVERY)
    if len(cold) == 0:
        return lists
    strangers: list[str | None] = [None] * len(cold)
    return RankerLists.concat(
        [lists, RankerLists(trial.features(strangers, cand[cold], now[cold]), targets[cold], mask[cold])]
    )


def train_from_events(
    model: FeedModel,
    events: Sequence[Event],
    videos: Sequence[VideoInfo],
    progress: bool = False,
    device: str = "cpu",
) -> None:
    """Fit `model` in place from the event log (and the videos' public facts); sets a new version."""
    cfg = model.config
    parent = model.base_version
    model.describe(list(videos))
    data = fold_events(model, events)
    clock = time.perf_counter()
    lists = cross_fit_lists(model, data, progress)
    cross_fit_s = time.perf_counter() - clock
    clock = time.perf_counter()
    fit_state(model, data, np.ones(len(data.users), dtype=bool))
    state_s = time.perf_counter() - clock
    net = RankerNet(len(FEATURES), cfg.hidden, cfg.dropout, cfg.ensemble, cfg.seed)
    net.standardise_on(lists.features)
    torch.manual_seed(cfg.seed)
    epochs = ranker_epochs(cfg, lists)
    bar = tqdm(total=epochs, desc="ranker epochs", leave=False, disable=not progress)

    def tick(_epoch: int, loss: float) -> None:
        bar.set_postfix(loss=f"{loss:.4f}")
        bar.update()

    clock = time.perf_counter()
    losses = fit_ranker(
        net,
        lists,
        epochs=epochs,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        batch_lists=cfg.batch_lists,
        seed=cfg.seed,
        on_epoch=tick,
        device=device,
    )
    bar.close()
    calibrate_heads(net, lists)
    ranker_s = time.perf_counter() - clock
    model.ranker = net
    model.online_events = 0
    digest = digest_events(list(events))
    model.base_version = "fm-" + digest_config(cfg, digest)[:12]
    model.manifest = {
        "version": model.base_version,
        "parent_version": parent,
        "code_version": _code_version(),
        "config": cfg.as_dict(),
        "events": len(events),
        "events_sha256": digest,
        "data_range": [float(data.ts.min(initial=np.inf)), float(data.ts.max(initial=-np.inf))] if len(data.ts) else [],
        "users": len(data.user_ids),
        "items": len(model.catalogue.ids),
        "ranker_lists": len(lists.features),
        "ranker_lists_kind": "impressions" if lists.mask is not None else "retrieval",
        "ranker_loss": losses,
        "ranker_rows": int(lists.features.shape[0] * lists.features.shape[1] * epochs),
        "ranker_epochs": epochs,
        "seconds": {"cross_fit": cross_fit_s, "state": state_s, "ranker": ranker_s},
        "ranker_device": device,
        "trained_at": time.time(),
        "metrics": {},
    }


def refresh_state(model: FeedModel, events: Sequence[Event], videos: Sequence[VideoInfo]) -> None:
    """Rebuild everything but the ranker from the event log (a daily retrain); sets a new version."""
    parent = model.version
    model.describe(list(videos))
    data = fold_events(model, events)
    fit_state(model, data, np.ones(len(data.users), dtype=bool))
    model.online_events = 0
    digest = digest_events(list(events))
    model.base_version = "fr-" + digest_config(model.config, digest + parent)[:12]
    model.manifest = {
        **model.manifest,
        "version": model.base_version,
        "parent_version": parent,
        "events": len(events),
        "events_sha256": digest,
        "refreshed_at": time.time(),
    }


def digest_config(cfg: Any, events_digest: str) -> str:
    """SHA-256 of the config and the events' digest: a version id that names exactly what was trained."""
    body = json.dumps(cfg.as_dict(), sort_keys=True) + events_digest
    return hashlib.sha256(body.encode()).hexdigest()


def _code_version() -> str:
    try:
        return metadata.version("sovereel")
    except metadata.PackageNotFoundError:
        return "unknown"
