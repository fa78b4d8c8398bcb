"""Batch training of the For You model: co-engagement matrices, embeddings and the ranker's fit.

What runs on a schedule (or on `sovereel train`) rather than per event:

- item-to-item co-engagement matrices learnt from the event log: EASE (Steck, 2019) over
  user histories, over sessions and over short bursts, engagement-order neighbours (what was
  engaged with a few positions before or after), cosine neighbours and RP3beta (Paudel et al.,
  2017), each pruned to the `k` strongest neighbours per item so serving stays sparse;
- retrieval embeddings from a seeded randomised SVD of the history matrix (PureSVD);
- the ranker's fit, on lists made by cross-fitting: a slice of every user's log is held out
  and the co-engagement state is rebuilt from the rest. Where the log records what was shown
  (impressions, skips), the ranker learns from the held-out *impressions*: per task, a binary
  cross-entropy of what the viewer did with each video they were shown, so it predicts
  P(action | shown), skips included, and never learns "what the feed used to show" as taste.
  Where it does not (ratings, as in MovieLens), it learns which of the retrieved candidates
  were the held-out engagements (softmax cross-entropy per task over the candidate list, with
  the task's labels as the target distribution).

All functions are pure: arrays in, arrays out.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch
from torch import nn
from tqdm import tqdm

from sovereel.feed.catalogue import quantile_table, watch_quantile
from sovereel.feed.interface import TASKS

if TYPE_CHECKING:
    from sovereel.feed.interface import VideoInfo
    from sovereel.feed.model import Event, FeedModel, ModelConfig, RankerNet

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
Sparse: TypeAlias = Any  # scipy.sparse.csr_matrix (scipy ships no type hints)

# Events that say a video was on the viewer's screen. A log with at least MIN_SHOWN_NEGATIVES shown-but-not-engaged
# pairs trains the ranker on impression lists (see the module docstring); a log without them (ratings) cannot.
SHOWN_KINDS = frozenset({"impression", "play", "progress", "skip", "complete"})
MIN_SHOWN_NEGATIVES = 200
COLD_EVERY = 4  # one impression list in this many is also learnt with the viewer's profile left out
IMPRESSION_LIST = 32  # shown videos per impression list (a user's held-out impressions, in time order)
DENSE_SVD_MAX_CELLS = 20_000_000  # GF-CF's exact SVD up to this many users x items; a randomised one above
DENSE_EASE_MAX_ITEMS = 8000  # above this, the exact EASE inverse (items^2 doubles) gives way to cosine neighbours


def history_matrix(rows: IntArray, cols: IntArray, weights: npt.ArrayLike, shape: tuple[int, int]) -> Sparse:
    """A users x items CSR matrix; repeated (user, item) pairs keep their largest weight."""
    w = np.asarray(weights, dtype=np.float32)
    if len(rows) == 0:
        return sp.csr_matrix(shape, dtype=np.float32)
    key = rows.astype(np.int64) * shape[1] + cols.astype(np.int64)
    order = np.lexsort((-w, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]
    return sp.csr_matrix((w[keep], (rows[keep], cols[keep])), shape=shape, dtype=np.float32)


def prune_columns(mat: npt.NDArray[np.floating], k: int) -> Sparse:
    """Keep the k entries of largest magnitude in every column of a dense item x item matrix (as CSR)."""
    n = mat.shape[0]
    if k >= n:
        return sp.csr_matrix(mat.astype(np.float32))
    # By magnitude: EASE's negative weights carry as much of its accuracy as the positive ones.
    top = np.argpartition(-np.abs(mat), k - 1, axis=0)[:k]
    cols = np.broadcast_to(np.arange(mat.shape[1]), top.shape)
    vals = np.take_along_axis(mat, top, axis=0)
    keep = vals != 0
    return sp.csr_matrix((vals[keep].astype(np.float32), (top[keep], cols[keep])), shape=mat.shape)


def ease_matrix(x: Sparse, lam: float, k: int) -> Sparse:
    """EASE item-item weights B = I - P diagMat(1/diag(P)), P = (X'X + lam I)^-1, top-k per item."""
    n = x.shape[1]
    if n > DENSE_EASE_MAX_ITEMS:
        return cosine_matrix(x, k)
    gram = (x.T @ x).toarray().astype(np.float64)
    gram[np.diag_indices(n)] += lam
    p = np.linalg.inv(gram)
    b = p / (-np.diag(p))
    np.fill_diagonal(b, 0.0)
    return prune_columns(b, k)


def gfcf_matrix(x: Sparse, k: int, alpha: float, neighbours: int, seed: int) -> Sparse:
    """GF-CF's item x item filter (Shen et al., 2021) over the 0/1 history: with R~ = Du^-1/2 R Di^-1/2,
    F = R~'R~ + alpha Di^-1/2 V_k'V_k Di^1/2 (V_k: R~'s top k right singular vectors), pruned like EASE."""
    r = sp.csr_matrix(x, dtype=np.float64, copy=True)
    r.data[:] = 1.0
    du = np.maximum(np.asarray(r.sum(axis=1)).ravel(), 1.0)
    di = np.maximum(np.asarray(r.sum(axis=0)).ravel(), 1.0)
    norm = sp.csr_matrix(sp.diags(1.0 / np.sqrt(du)) @ r @ sp.diags(1.0 / np.sqrt(di)))
    filt = np.asarray((norm.T @ norm).todense())
    if alpha > 0 and k > 0:
        if r.shape[0] * r.shape[1] <= DENSE_SVD_MAX_CELLS:
            v = np.linalg.svd(norm.toarray(), full_matrices=False)[2][:k]
        else:
            factors, sing = randomized_svd(norm, k, seed)
            v = (factors / np.sqrt(np.maximum(sing, 1e-12))).T.astype(np.float64)
        filt += alpha * (v.T @ v) * (1.0 / np.sqrt(di))[:, None] * np.sqrt(di)[None, :]
    return prune_columns(filt, neighbours)


def _sparse_topk_columns(mat: Sparse, k: int) -> Sparse:
    # Trim each column of a sparse matrix to its k entries of largest magnitude, column by column,
    # so the working set never exceeds one column (catalogues of 100k+ items).
    csc = sp.csc_matrix(mat, dtype=np.float32)
    csc.sort_indices()
    counts = np.diff(csc.indptr)
    if counts.max(initial=0) <= k:
        return sp.csr_matrix(csc)
    keep = np.ones(csc.nnz, dtype=bool)
    for col in np.nonzero(counts > k)[0]:
        a, b = csc.indptr[col], csc.indptr[col + 1]
        drop = np.argpartition(-np.abs(csc.data[a:b]), k - 1)[k:]
        keep[a + drop] = False
    cols = np.repeat(np.arange(csc.shape[1]), counts)
    return sp.csr_matrix((csc.data[keep], (csc.indices[keep], cols[keep])), shape=csc.shape)


def cosine_matrix(x: Sparse, k: int) -> Sparse:
    """Cosine similarity between item columns of X, zero diagonal, top-k neighbours per item."""
    gram = sp.csr_matrix(x.T @ x, dtype=np.float32)
    norms = np.sqrt(np.asarray(gram.diagonal(), dtype=np.float32)) + 1e-6
    inv = sp.diags(1.0 / norms)
    sim = sp.csr_matrix(inv @ gram @ inv)
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    return _sparse_topk_columns(sim, k)


def rp3_matrix(x: Sparse, beta: float, k: int) -> Sparse:
    """RP3beta: two-step random-walk item-item probabilities divided by popularity^beta, top-k per item."""
    x = sp.csr_matrix(x, dtype=np.float32)
    user_deg = np.asarray(x.sum(axis=1)).ravel()
    item_deg = np.asarray(x.sum(axis=0)).ravel()
    p_ui = sp.diags(1.0 / np.maximum(user_deg, 1.0)) @ x
    p_iu = sp.diags(1.0 / np.maximum(item_deg, 1.0)) @ x.T
    walk = sp.csr_matrix(p_iu @ p_ui) @ sp.diags(1.0 / np.maximum(item_deg, 1.0) ** beta)
    walk = sp.csr_matrix(walk)
    walk.setdiag(0.0)
    walk.eliminate_zeros()
    return _sparse_topk_columns(walk, k)


def sequence_matrix(
    users: IntArray, cols: IntArray, ts: npt.NDArray[np.float64], n_items: int, window: int, k: int
) -> Sparse:
    """Items engaged within `window` positions of each other in a viewer's time order (weight 1/distance),
    summed over viewers, divided by sqrt(popularity_i * popularity_j), top-k per item.

    Unlike a session (a time gap), this sees the order things were watched in: what other viewers took up
    right before or after a video, whatever their pace."""
    order = np.lexsort((ts, users))
    u, c = users[order], cols[order]
    rows: list[IntArray] = []
    others: list[IntArray] = []
    vals: list[FloatArray] = []
    for d in range(1, max(0, window) + 1):
        same = u[d:] == u[:-d]
        a, b = c[:-d][same], c[d:][same]
        rows += [a, b]
        others += [b, a]
        vals.append(np.full(2 * len(a), 1.0 / d, dtype=np.float32))
    if not rows or sum(len(r) for r in rows) == 0:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    pairs = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(others))), shape=(n_items, n_items)
    )  # repeated pairs are summed
    pairs.setdiag(0.0)
    pairs.eliminate_zeros()
    inv = sp.diags(1.0 / np.sqrt(np.bincount(cols, minlength=n_items) + 1.0))
    return _sparse_topk_columns(inv @ pairs @ inv, k)


def session_ids(users: IntArray, ts: npt.NDArray[np.float64], gap_s: float) -> IntArray:
    """Number sessions: a user's events more than `gap_s` apart (in time order) start a new session."""
    order = np.lexsort((ts, users))
    u, t = users[order], ts[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (u[1:] != u[:-1]) | (np.diff(t) > gap_s)
    sid = np.cumsum(new) - 1
    out = np.empty(len(order), dtype=np.int64)
    out[order] = sid
    return out


def randomized_svd(x: Sparse, dim: int, seed: int, power_iters: int = 4) -> tuple[FloatArray, FloatArray]:
    """Seeded randomised truncated SVD (Halko et al.): returns item factors V*sqrt(s) and s."""
    rng = np.random.default_rng(seed)
    n_items = x.shape[1]
    dim = max(1, min(dim, min(x.shape) - 1))
    omega = rng.standard_normal((n_items, dim + 8)).astype(np.float32)
    y = np.asarray(x @ omega)
    for _ in range(power_iters):
        y, _ = np.linalg.qr(y)
        y = np.asarray(x @ np.asarray(x.T @ y))
    q, _ = np.linalg.qr(y)
    small = np.asarray((x.T @ q).T)
    _, s, vt = np.linalg.svd(small, full_matrices=False)
    s, vt = s[:dim], vt[:dim]
    # Sign-fix each factor so the result does not depend on LAPACK's choice.
    signs = np.sign(vt[np.arange(dim), np.abs(vt).argmax(axis=1)])
    vt = vt * signs[:, None]
    return (vt.T * np.sqrt(s)).astype(np.float32), s.astype(np.float32)


@dataclass
class RankerLists:
    """Training lists for the ranker: features (lists x candidates x F) and per-task targets (lists x C x T).

    `mask` (lists x C), where given, marks the real entries of impression lists (the rest is padding); such
    lists are learnt pointwise (binary cross-entropy per shown video and task), the others listwise."""

    features: FloatArray
    targets: FloatArray
    mask: npt.NDArray[np.bool_] | None = None

    @staticmethod
    def concat(parts: Sequence[RankerLists]) -> RankerLists:
        """Stack several folds' lists (all of one kind)."""
        masks = [p.mask for p in parts]
        return RankerLists(
            features=np.concatenate([p.features for p in parts]).astype(np.float32),
            targets=np.concatenate([p.targets for p in parts]).astype(np.float32),
            mask=None if any(m is None for m in masks) else np.concatenate([m for m in masks if m is not None]),
        )

    def labelled(self) -> npt.NDArray[np.bool_]:
        """Lists the loss can learn from: any shown video (impression lists) or any positive label."""
        if self.mask is not None:
            return np.asarray(self.mask.any(axis=1))
        return np.asarray(self.targets.sum(axis=(1, 2)) > 0)


def listwise_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy per (list, task) with the normalised labels as target; lists without labels skipped."""
    # logits, targets: (lists, candidates, tasks)
    mass = targets.sum(dim=1)
    keep = mass > 0
    if not bool(keep.any()):
        return logits.sum() * 0.0
    logp = torch.log_softmax(logits, dim=1)
    per = -(logp * targets).sum(dim=1) / mass.clamp_min(1e-9)
    return per[keep].mean()


def pointwise_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy per shown video and task (soft targets allowed), averaged over the real entries."""
    # logits, targets: (lists, candidates, tasks); mask: (lists, candidates)
    per = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=2)
    m = mask.to(per.dtype)
    return (per * m).sum() / m.sum().clamp_min(1.0)


class Adam:
    """Adam with decoupled-free L2 (as torch.optim.Adam); hand-rolled because torch.optim's first use
    imports torch._dynamo, which costs seconds per process on a small CPU box."""

    def __init__(self, params: list[nn.Parameter], lr: float, weight_decay: float) -> None:
        self.params = params
        self.lr, self.wd, self.b1, self.b2, self.eps, self.t = lr, weight_decay, 0.9, 0.999, 1e-8, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def step(self) -> None:
        """Apply one update from the parameters' .grad, then clear them."""
        self.t += 1
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v, strict=True):
                if p.grad is None:
                    continue
                g = p.grad + self.wd * p
                m.mul_(self.b1).add_(g, alpha=1 - self.b1)
                v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
                m_hat = m / (1 - self.b1**self.t)
                v_hat = v / (1 - self.b2**self.t)
                p.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))
                p.grad = None


def fit_ranker(
    net: nn.Module,
    lists: RankerLists,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_lists: int,
    seed: int,
    on_epoch: Callable[[int, float], None] | None = None,
    device: str = "cpu",
) -> list[float]:
    """Train `net` (features -> per-task logits) with the listwise loss; returns the mean loss per epoch.

    On another `device` (e.g. "cuda") the lists and the net move there for training and the net comes back
    to the CPU, where serving runs."""
    gen = torch.Generator().manual_seed(seed)
    has = torch.from_numpy(lists.labelled())
    x = torch.from_numpy(lists.features)[has].to(device)
    y = torch.from_numpy(lists.targets)[has].to(device)
    mask = None if lists.mask is None else torch.from_numpy(lists.mask)[has].to(device)
    net.to(device)
    opt = Adam([p for p in net.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    losses: list[float] = []
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=gen).to(device)
        total, batches = 0.0, 0
        for start in range(0, len(x), batch_lists):
            idx = perm[start : start + batch_lists]
            if mask is None:
                loss = listwise_loss(net(x[idx]), y[idx])
            else:
                loss = pointwise_loss(net(x[idx]), y[idx], mask[idx])
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += float(loss.detach())
            batches += 1
        losses.append(total / max(batches, 1))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    net.eval()
    net.to("cpu")
    return losses


def ranker_epochs(cfg: ModelConfig, lists: RankerLists) -> int:
    """`cfg.epochs`, or more where the lists are few: at least `cfg.min_steps` optimiser steps in all.

    A young region has a handful of training lists; a few epochs of them would leave the ranker near its
    random initialisation."""
    labelled = int(lists.labelled().sum())
    per_epoch = max(1, -(-labelled // cfg.batch_lists))
    return max(cfg.epochs, -(-cfg.min_steps // per_epoch))


def calibrate_heads(net: RankerNet, lists: RankerLists, max_lists: int = 2000, seed: int = 0) -> FloatArray:
    """Set `net.offset` so each task's mean predicted probability over the candidates equals its label rate.

    For impression lists that is the rate per shown video (padding left out)."""
    pick = np.random.default_rng(seed).permutation(len(lists.features))[:max_lists]
    x = torch.from_numpy(lists.features[pick])
    real = np.ones(lists.targets[pick].shape[:2], dtype=bool) if lists.mask is None else lists.mask[pick]
    rates = lists.targets[pick][real].clip(0, 1).mean(axis=0)
    offset = net.offset
    offset.zero_()
    with torch.no_grad():
        logits = net(x)[torch.from_numpy(real)]
    for t in range(logits.shape[1]):
        target = float(np.clip(rates[t], 1e-4, 1 - 1e-4))
        lo, hi = -30.0, 30.0
        for _ in range(50):  # bisection: mean sigmoid is increasing in the offset
            mid = (lo + hi) / 2
            if float(torch.sigmoid(logits[:, t] + mid).mean()) < target:
                lo = mid
            else:
                hi = mid
        offset[t] = (lo + hi) / 2
    return np.asarray(offset.numpy(), dtype=np.float32).copy()


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
    from sovereel.feed.model import is_engaged

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
    from sovereel.feed.embedding_table import EmbeddingTable
    from sovereel.feed.model import MAX_REJECTIONS

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
    from sovereel.feed.model import FeedModel

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
    from sovereel.feed.model import FEATURES, RankerNet, digest_events

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
    from sovereel.feed.model import digest_events

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
