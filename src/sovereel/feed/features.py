"""The ranker's inputs: the named features of (viewer, candidate video, now), computed from a `FeedModel`'s state.

`FEATURES` names every column, in order; `ranker_features` fills them for a batch of viewers and their candidate
item columns. The co-engagement signals (`CO_SIGNALS`) each give a raw score and scale-free versions of it
(against the viewer's own scores over the whole catalogue, never the other candidates, so a video's features do
not depend on the batch it is scored in); then come embedding, popularity, age, hashtag/creator affinity and
rejection, per-matrix aggregates of the links from the viewer's history, and the video's sound against the
viewer's history (`sound_features`, last: appended after the rest so the earlier columns keep their places).

Pure in effect: every function here reads the model's state and returns new arrays. None changes the model; the
only write is the catalogue's memo of its hashtag and creator matrices (`Catalogue.tag_matrix`, `creator_matrix`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from sovereel.feed.viewer_stats import (
    TOP_K_STATS,
    SignalScale,
    ViewerStats,
    entries_at,
    ranks_of,
    scale_of,
    scores_at,
)

if TYPE_CHECKING:
    from sovereel.feed.catalogue import Catalogue
    from sovereel.feed.model import FeedModel

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
YEAR_S = 365.25 * 86400.0

CO_MATRICES: tuple[str, ...] = (
    *("ease", "session", "cosine", "rp3", "burst", "order_near", "order", "order_far", "gfcf"),
)
# Scored with the profile's 0/1 pattern, not its engagement weights.
BINARY_PROFILE: frozenset[str] = frozenset({"burst", "order_near", "order", "order_far", "gfcf"})
# Matrices whose links to the viewer's history are also aggregated one by one, not only summed: the strongest
# link, the mean of the three strongest, and how many history videos link to the candidate at all.
AGG_MATRICES: tuple[str, ...] = ("ease", "burst", "order_near", "order", "order_far")
CO_SIGNALS: tuple[str, ...] = (*CO_MATRICES, "userknn")  # userknn: what the most similar viewers engaged with
USER_NEIGHBOURS = 50
SOUND_FEATURES: tuple[str, ...] = ("sound_share", "sound_rejection", "sound_log_uses")
FEATURES: tuple[str, ...] = (
    *(f"co_{m}{s}" for m in CO_SIGNALS for s in ("", "_rel", "_z", "_rank")),
    *("max_cosine", "emb_dot", "emb_cos", "log_engagements", "log_trending", "age_y", "first_seen_age_y"),
    *("created_gap_y", "user_content_age_y", "hashtag_affinity", "creator_share", "log_duration"),
    *("duration_unknown", "user_log_activity", "user_mean_log_engagements"),
    # Negative feedback: how often the viewer swiped away videos with the candidate's hashtags / by its creator,
    # against how often they engaged with them, and how much they have swiped away at all.
    *("hashtag_rejection", "creator_rejection", "user_log_rejections"),
    # What everyone else did when shown the candidate: its engagement rate per viewer shown it, and how many.
    *("item_engage_rate", "item_log_shown"),
    *(f"agg_{m}_{stat}" for m in AGG_MATRICES for stat in ("max", "top3", "npos")),
    # The candidate's sound: the share of the viewer's engaged videos that use it, the viewer's swipe-away rate on
    # it, and how many catalogue videos use it (a sound taking off). All 0 for a video without a sound.
    *SOUND_FEATURES,
)


def users_per_batch(n_items: int) -> int:
    """Users per batch so that one dense users x items score matrix stays near 16 MB."""
    return max(1, 4_000_000 // max(1, n_items))


def profile_matrix(profiles: dict[str, dict[int, float]], user_ids: list[str | None], n_cols: int) -> sp.csr_matrix:
    """Users x items CSR of the given users' profiles ({item column: value}); a row of zeros for None or unknown."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, u in enumerate(user_ids):
        hist = profiles.get(u, {}) if u is not None else {}
        rows.extend([r] * len(hist))
        cols.extend(hist.keys())
        vals.extend(hist.values())
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(user_ids), n_cols), dtype=np.float32)


def ranker_features(
    model: FeedModel,
    user_ids: list[str | None],
    cols: IntArray,
    now: npt.NDArray[np.float64],
    stats: ViewerStats | None = None,
) -> FloatArray:
    """The ranker's inputs (users x candidates x len(FEATURES)) for candidate item columns per user; with `stats`,
    one viewer's whole-catalogue co-signal scale is kept there between calls (serving: see viewer_stats)."""
    step = users_per_batch(len(model.catalogue.ids))
    parts = [
        _features(model, user_ids[a : a + step], cols[a : a + step], now[a : a + step], stats)
        for a in range(0, len(user_ids), step)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, cols.shape[1], len(FEATURES)), dtype=np.float32)


def _features(
    model: FeedModel,
    user_ids: list[str | None],
    cols: IntArray,
    now: npt.NDArray[np.float64],
    stats: ViewerStats | None,
) -> FloatArray:
    cat, n_users, n_cand = model.catalogue, cols.shape[0], cols.shape[1]
    out = np.zeros((n_users, n_cand, len(FEATURES)), dtype=np.float32)
    hist = profile_matrix(model.history, user_ids, len(cat.ids))
    binary = sp.csr_matrix(hist, copy=True)
    binary.data[:] = 1.0
    n_hist = np.asarray(binary.sum(axis=1)).ravel()
    rows = np.arange(n_users)[:, None]
    known = cols < model.co_items
    safe = np.where(known, cols, 0)
    h_co = hist[:, : model.co_items]
    f = 0
    if stats is not None and n_users == 1:
        # One viewer (a served page): the catalogue-wide scale comes from the viewer's kept summary.
        _one_viewer_co(out, *_viewer_scales(model, h_co, user_ids[0], stats, safe[0]), known, safe)
        f += 4 * len(CO_SIGNALS)
    for name in CO_SIGNALS if f == 0 else ():
        scores = _co_scores(model, name, h_co, user_ids)
        if scores is None:
            f += 4
            continue
        raw = np.where(known, scores[rows, safe], 0.0)
        top = np.maximum(scores.max(axis=1, initial=0.0), 1e-6)[:, None]
        # Scale-free versions, against the user's own scores over the whole catalogue (never against
        # the other candidates, so an item's score does not depend on the batch it is scored in).
        # The best k in ascending order: their mean and spread then round the same however they were found
        # (viewer_stats finds them from the sorted non-zero scores alone).
        k = min(TOP_K_STATS, scores.shape[1])
        best = np.sort(np.partition(scores, scores.shape[1] - k, axis=1)[:, -k:], axis=1)
        z = (raw - best.mean(axis=1, keepdims=True)) / (best.std(axis=1, keepdims=True) + 1e-6)
        ranks = _ranks_of(scores, raw)
        out[:, :, f], out[:, :, f + 1], out[:, :, f + 2] = raw, raw / top, z
        out[:, :, f + 3] = np.where(known, np.log1p(ranks), np.log1p(scores.shape[1]))
        f += 4
    if "cosine" in model.co:
        cos = model.co["cosine"].tocsr()
        for r in range(n_users):
            h = h_co[r].indices
            if len(h):
                out[r, :, f] = np.where(known[r], cos[h][:, safe[r]].max(axis=0).toarray().ravel(), 0.0)
    f += 1
    uvec = np.stack([_user_vec(model, u) for u in user_ids])
    ivec, _ = model.items.lookup([cat.ids[c] for c in cols.ravel()])
    ivec = ivec.reshape(n_users, n_cand, -1)
    dot = np.einsum("ud,ucd->uc", uvec, ivec)
    norms = np.linalg.norm(uvec, axis=1)[:, None] * np.linalg.norm(ivec, axis=2) + 1e-6
    out[:, :, f], out[:, :, f + 1] = dot, dot / norms
    f += 2
    # Elementwise over the candidates' and the history's columns only (the same floats as over the catalogue).
    out[:, :, f] = np.log1p(cat.engagements[cols])
    out[:, :, f + 1] = np.log1p(cat.trending(cols, now, model.config.trend_days))
    first = np.where(np.isnan(cat.first_seen[cols]), now[:, None], cat.first_seen[cols])
    created = np.where(np.isnan(cat.created_at[cols]), first, cat.created_at[cols])
    mean_created = np.where(
        n_hist > 0, _history_sum(binary, lambda c: _created_or_first(cat, c)) / np.maximum(n_hist, 1), now
    )[:, None]
    out[:, :, f + 2] = np.clip((now[:, None] - created) / YEAR_S, -1, 80)
    out[:, :, f + 3] = np.clip((now[:, None] - first) / YEAR_S, -1, 80)
    out[:, :, f + 4] = np.clip(np.abs(created - mean_created) / YEAR_S, 0, 80)
    out[:, :, f + 5] = np.clip((now[:, None] - mean_created) / YEAR_S, -1, 80)
    f += 6
    # Per hashtag and per creator: how many of the viewer's engaged and swiped-away videos have it.
    tags, creators = cat.tag_matrix(), cat.creator_matrix()
    rejected = profile_matrix(model.rejections, user_ids, len(cat.ids))
    rejected.data[:] = 1.0
    eng_tags, eng_creators = np.asarray((binary @ tags).todense()), np.asarray((binary @ creators).todense())
    rej_tags, rej_creators = np.asarray((rejected @ tags).todense()), np.asarray((rejected @ creators).todense())
    share = 1.0 / np.maximum(n_hist, 1)[:, None]
    out[:, :, f] = _group_mean(tags, eng_tags * share, cols)  # share of the history with the video's hashtags
    out[:, :, f + 1] = _group_mean(creators, eng_creators * share, cols)  # ... and by its creator
    dur = cat.duration[cols]
    out[:, :, f + 2] = np.where(np.isnan(dur), 0.0, np.log1p(np.nan_to_num(dur)))
    out[:, :, f + 3] = np.isnan(dur)
    out[:, :, f + 4] = np.log1p(n_hist)[:, None]
    out[:, :, f + 5] = (_history_sum(binary, lambda c: np.log1p(cat.engagements[c])) / np.maximum(n_hist, 1))[:, None]
    f += 6
    # Swipe-away rates with one engagement's worth of doubt: rejected / (rejected + engaged + 1).
    out[:, :, f] = _group_mean(tags, rej_tags / (rej_tags + eng_tags + 1.0), cols)
    out[:, :, f + 1] = _group_mean(creators, rej_creators / (rej_creators + eng_creators + 1.0), cols)
    out[:, :, f + 2] = np.log1p(np.asarray(rejected.sum(axis=1)).ravel())[:, None]
    out[:, :, f + 3] = cat.engage_rate(cols)
    out[:, :, f + 4] = np.log1p(cat.viewers(cols))
    f += 5
    out[:, :, f : f + 3 * len(AGG_MATRICES)] = _aggregates(model, user_ids, cols, known)
    out[:, :, len(FEATURES) - len(SOUND_FEATURES) :] = sound_features(model, user_ids, cols)
    return out


def sound_features(model: FeedModel, user_ids: list[str | None], cols: IntArray) -> FloatArray:
    """The SOUND_FEATURES columns (users x candidates x 3): the candidate's sound against the viewer's engaged and
    swiped-away videos, as `hashtag_affinity` and `hashtag_rejection` read hashtags, and the sound's catalogue uses."""
    cat = model.catalogue
    out = np.zeros((*cols.shape, len(SOUND_FEATURES)), dtype=np.float32)
    sound = cat.sound[cols]  # users x candidates; -1 where the video has no sound
    if not cat.sound_ids or not np.any(sound >= 0):
        return out
    sounds = cat.sound_matrix()
    engaged = profile_matrix(model.history, user_ids, len(cat.ids))
    engaged.data[:] = 1.0
    rejected = profile_matrix(model.rejections, user_ids, len(cat.ids))
    rejected.data[:] = 1.0
    n_hist = np.maximum(np.asarray(engaged.sum(axis=1)).ravel(), 1.0)
    eng = (engaged @ sounds).tocsr()
    rej = (rejected @ sounds).tocsr()
    has = sound >= 0
    rows = np.broadcast_to(np.arange(cols.shape[0])[:, None], cols.shape)[has]
    picked = sound[has]
    # Only the (viewer, candidate's sound) cells are read: never a dense viewers x sounds matrix.
    e = np.asarray(eng[rows, picked]).ravel()
    r = np.asarray(rej[rows, picked]).ravel()
    uses = np.asarray(sounds.sum(axis=0)).ravel()
    out[has, 0] = e / n_hist[rows]
    out[has, 1] = r / (r + e + 1.0)
    out[has, 2] = np.log1p(uses[picked])
    return out


def _created_or_first(cat: Catalogue, cols: IntArray) -> npt.NDArray[np.float64]:
    # When each item was made: its creation time, else when it was first seen, else 0.
    created = np.where(np.isnan(cat.created_at[cols]), cat.first_seen[cols], cat.created_at[cols])
    return np.where(np.isnan(created), 0.0, created)


def _history_sum(
    profiles: sp.csr_matrix, values_at: Callable[[IntArray], npt.NDArray[np.float64]]
) -> npt.NDArray[np.float64]:
    """`profiles @ values` with the values computed at the profiles' columns only (not over the catalogue)."""
    # The same entries in the same order against the same values: the sums round as in the whole product.
    compact = sp.csr_matrix(
        (profiles.data, np.arange(len(profiles.indices)), profiles.indptr),
        shape=(profiles.shape[0], len(profiles.indices)),
    )
    return np.asarray(compact @ values_at(profiles.indices))


def _one_viewer_co(
    out: FloatArray,
    scales: dict[str, SignalScale | None],
    fresh: dict[str, FloatArray],
    known: npt.NDArray[np.bool_],
    safe: IntArray,
) -> None:
    # The co signals' four features for one viewer's candidates, from the viewer's kept scale: the same
    # operations as the batch loop in _features, on the candidates' scores instead of the whole row.
    for s, name in enumerate(CO_SIGNALS):
        scale, f = scales[name], 4 * s
        if scale is None:
            continue
        at = fresh[name] if name in fresh else scores_at(scale, safe[0])
        raw = np.where(known, at[None, :], 0.0)
        z = (raw - scale.mean) / (scale.std + 1e-6)
        out[:, :, f], out[:, :, f + 1], out[:, :, f + 2] = raw, raw / scale.top, z
        out[:, :, f + 3] = np.where(known, np.log1p(ranks_of(scale, raw[0])[None, :]), np.log1p(scale.n_cols))


def _viewer_scales(
    model: FeedModel, h_co: sp.csr_matrix, user_id: str | None, stats: ViewerStats, cols: IntArray
) -> tuple[dict[str, SignalScale | None], dict[str, FloatArray]]:
    # Keyed by the viewer's co-range profile (columns and values, in order) and, by identity, the model objects
    # the scores come from: any change to either is a new key, so a kept scale is always the current one.
    held = (*model.co.values(), model.neighbour_matrix, model.neighbour_norms, model.neighbour_rows)
    key = (user_id, model.co_items, tuple(model.co), h_co.indices.tobytes(), h_co.data.tobytes())
    scales = stats.get(key, held)
    fresh: dict[str, FloatArray] = {}  # the scores at the candidates, where just computed: read, not recomputed
    if scales is None:
        scales = {}
        for name in CO_SIGNALS:
            operands = _co_operands(model, name, h_co, [user_id])
            if operands is None:
                scales[name] = None
                continue
            weights, matrix = operands
            # Sparse: the product has entries only where the profile's rows do, so neither it nor the scale made
            # from it walks the catalogue; its entries are those of the dense product, bit for bit.
            product = sp.csr_matrix(weights @ matrix, dtype=np.float32)
            fresh[name] = entries_at(product, cols)
            scales[name] = scale_of(weights, matrix, product)
        stats.put(key, held, scales)
    return scales, fresh


def _aggregates(
    model: FeedModel, user_ids: list[str | None], cols: IntArray, known: npt.NDArray[np.bool_]
) -> FloatArray:
    # users x candidates x (3 per AGG_MATRICES): max, mean of the top 3 and log1p(count of positive) links
    # from the viewer's history videos to each candidate; zero where a matrix is not fitted.
    out = np.zeros((*cols.shape, 3 * len(AGG_MATRICES)), dtype=np.float32)
    mats = [(j, model.co[m]) for j, m in enumerate(AGG_MATRICES) if m in model.co]
    if not mats:
        return out
    for r, u in enumerate(user_ids):
        h = [c for c in model.history.get(u, {}) if c < model.co_items] if u is not None else []
        if not h:
            continue
        safe = np.where(known[r], cols[r], 0)
        top = min(3, len(h))
        for j, mat in mats:
            sub = mat[h][:, safe].toarray()
            sub[:, ~known[r]] = 0.0
            # A candidate no history video links to gets 0 in all three, as `out` already holds: the partition
            # (history x candidates, so it grows as the viewer scrolls) runs over the linked columns only. Each
            # column is partitioned and summed on its own, so the values are those of the whole array.
            linked = np.flatnonzero(sub.any(axis=0))
            sub = sub[:, linked]
            out[r, linked, 3 * j] = sub.max(axis=0)
            out[r, linked, 3 * j + 1] = np.partition(sub, len(h) - top, axis=0)[-top:].mean(axis=0)
            out[r, linked, 3 * j + 2] = np.log1p((sub > 0).sum(axis=0))
    return out


def _co_scores(model: FeedModel, name: str, h_co: sp.csr_matrix, user_ids: list[str | None]) -> FloatArray | None:
    # users x co_items scores of one co-engagement signal for these users' profiles.
    operands = _co_operands(model, name, h_co, user_ids)
    if operands is None:
        return None
    weights, matrix = operands
    return np.asarray((weights @ matrix).todense(), dtype=np.float32)


def _co_operands(
    model: FeedModel, name: str, h_co: sp.csr_matrix, user_ids: list[str | None]
) -> tuple[sp.csr_matrix, sp.csr_matrix] | None:
    # A co signal's scores are weights (users x K) @ matrix (K x co_items): the profiles and an item x item
    # matrix, or for userknn the similarities to the most similar viewers at fit and those viewers' profiles.
    if model.co_items == 0:
        return None
    if name in model.co:
        if name in BINARY_PROFILE:
            h_co = sp.csr_matrix(h_co, copy=True)
            h_co.data[:] = 1.0
        return h_co, model.co[name]
    if name != "userknn" or model.neighbour_matrix is None:
        return None
    people = model.neighbour_matrix  # users at fit x co_items, binary
    mine = sp.csr_matrix(h_co, copy=True)
    mine.data[:] = 1.0
    overlap = np.asarray((mine @ people.T).todense(), dtype=np.float32)
    sims = overlap / (np.sqrt(np.asarray(mine.sum(axis=1))) * model.neighbour_norms[None, :] + 1e-6)
    for r, u in enumerate(user_ids):
        own = model.neighbour_rows.get(u) if u is not None else None
        if own is not None:
            sims[r, own] = 0.0  # a viewer is not their own neighbour
    k = min(USER_NEIGHBOURS, sims.shape[1])
    if k < sims.shape[1]:
        cut = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k][:, None]
        sims = np.where(sims >= cut, sims, 0.0)
    return sp.csr_matrix(sims), people


def _user_vec(model: FeedModel, user_id: str | None) -> FloatArray:
    vec = model.users.get(user_id) if user_id is not None else None
    return vec if vec is not None else np.zeros(model.config.dim, dtype=np.float32)


def _ranks_of(scores: FloatArray, raw: npt.NDArray[np.floating]) -> FloatArray:
    # Per row, how many catalogue items score strictly higher than each candidate. Scores from sparse
    # profiles are mostly zero, so only the non-zero ones are sorted.
    out = np.zeros(raw.shape, dtype=np.float32)
    for r in range(scores.shape[0]):
        nz = np.sort(scores[r][scores[r] != 0])
        above = len(nz) - np.searchsorted(nz, raw[r], side="right")
        zeros = scores.shape[1] - len(nz)
        out[r] = above + np.where(raw[r] < 0, zeros, 0)
    return out


def _group_mean(groups: sp.csr_matrix, per_group: npt.NDArray[np.floating], cols: IntArray) -> FloatArray:
    # Per row r and candidate, the mean of per_group[r] over the candidate's groups (items x groups, 0/1); 0 when
    # it has none (a video without hashtags, or without a known creator).
    out = np.zeros(cols.shape, dtype=np.float32)
    for r in range(cols.shape[0]):
        rows = groups[cols[r]]
        # Group counts of the candidates' rows only (whole numbers: exact in any order, the same as over all items).
        out[r] = (rows @ per_group[r]) / np.maximum(np.asarray(rows.sum(axis=1)).ravel(), 1)
    return out
