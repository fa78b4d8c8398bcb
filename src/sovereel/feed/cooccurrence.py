"""Item-to-item co-engagement kernels learnt in batch from the event log, and the PureSVD factors.

EASE (Steck, 2019) over user histories, sessions or bursts; GF-CF (Shen et al., 2021); cosine neighbours;
RP3beta (Paudel et al., 2017); engagement-order neighbours (what was engaged with a few positions before or
after); and a seeded randomised SVD for the retrieval embeddings. Each matrix is pruned to the `k` strongest
neighbours per item so serving stays sparse.

Every function here is pure: arrays in, new arrays out; none changes its arguments or any model. The only
randomness is `randomized_svd`'s, drawn from a generator seeded by its `seed` argument.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
Sparse: TypeAlias = Any  # scipy.sparse.csr_matrix (scipy ships no type hints)

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
