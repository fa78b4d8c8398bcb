"""The two vector indexes the retrieval sources search: item vectors (`ItemIndex`) and video texts (`ContentIndex`).

They are not sources: they hold state across requests (kept in step with the model's vectors and the catalogue by
`sync`), while the sources in sources.py are functions of one request's world that search them. Each takes
its own lock around syncs, updates and searches, so a sync and the searches of request threads do not interleave.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import faiss
import numpy as np

from sovereel.feed.interface import VideoInfo
from sovereel.feed.params import IndexParams


class ItemIndex:
    """Inner-product ANN index over item vectors: IndexFlatIP while small, IndexHNSWFlat above a threshold.

    Updates are incremental: a changed or removed item is tombstoned and a changed
    one re-added, and the faiss index is rebuilt only when a quarter of it is dead
    or it crosses the size threshold. `sync` is cheap when handed the same arrays
    and token again, so a model should return the same objects while its vectors are unchanged.
    """

    def __init__(self, params: IndexParams) -> None:
        self._params = params
        self._lock = threading.Lock()
        self._index: Any = None
        self._hnsw = False
        self._dim = 0
        self._ids: list[str] = []  # faiss position -> id
        self._alive = np.zeros(0, dtype=bool)
        self._pos: dict[str, int] = {}  # live id -> faiss position
        # The last sync's ids, matrix, token and faiss positions of those ids.
        self._last: tuple[Sequence[str], Any, object, np.ndarray] | None = None
        self.source_state: object = None  # where its source stood at the last refresh (`pipeline._refresh`)

    def __len__(self) -> int:
        return len(self._pos)

    def __contains__(self, video_id: object) -> bool:
        return video_id in self._pos

    @property
    def uses_hnsw(self) -> bool:
        """Whether searches are approximate (HNSW) rather than exact."""
        return self._hnsw

    def vector(self, video_id: str) -> np.ndarray | None:
        """The stored vector of a live item, or None."""
        with self._lock:
            pos = self._pos.get(video_id)
            return None if pos is None else self._stored()[pos].copy()

    def sync(self, ids: Sequence[str], vectors: Any, token: object = None) -> None:
        """Make the index hold exactly these items (rows of `vectors`), changing only what changed.

        The same `ids` and `vectors` objects with the same `token` (e.g. the model version) are taken as unchanged
        without looking; a new token makes it compare every row, which also catches vectors updated in place.
        """
        with self._lock:
            last = self._last
            if last is not None and last[0] is ids and last[1] is vectors and last[2] == token:
                return
            if len(ids) == 0:
                self._kill(list(self._pos.values()))
                self._pos.clear()
                self._last = (ids, vectors, token, np.zeros(0, dtype=np.int64))
                return
            matrix = _as_matrix(vectors, len(ids))
            if self._index is None or matrix.shape[1] != self._dim:
                self._rebuild(list(ids), matrix)
            else:
                if last is not None and (last[0] is ids or list(last[0]) == list(ids)):
                    positions = last[3]  # same ids in the same order: no dictionary walk needed
                else:
                    positions = np.fromiter((self._pos.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
                    if len(set(ids)) != len(ids):
                        raise ValueError("duplicate ids in item vectors")
                    gone = set(self._pos).difference(ids)
                    self._kill([self._pos.pop(i) for i in gone])
                known = positions >= 0
                stale = ~known
                stale[known] = np.any(self._stored()[positions[known]] != matrix[known], axis=1)
                rows = np.flatnonzero(stale)
                self._kill([int(p) for p in positions[rows] if p >= 0])
                self._append([ids[int(r)] for r in rows], matrix[rows])
                self._maybe_compact()
            positions = np.fromiter((self._pos[i] for i in ids), dtype=np.int64, count=len(ids))
            self._last = (ids, vectors, token, positions)

    def upsert(self, ids: Sequence[str], vectors: Any) -> None:
        """Add or replace some items, keeping the others."""
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in item vectors")
        with self._lock:
            matrix = _as_matrix(vectors, len(ids))
            if self._index is None:
                self._rebuild(list(ids), matrix)
            else:
                if matrix.shape[1] != self._dim:
                    raise ValueError("vector dimension differs from the index")
                self._kill([self._pos.pop(i) for i in ids if i in self._pos])
                self._append(list(ids), matrix)
                self._maybe_compact()
            self._last = None

    def remove(self, ids: Iterable[str]) -> None:
        """Forget some items."""
        with self._lock:
            self._kill([self._pos.pop(i) for i in ids if i in self._pos])
            self._last = None

    def search(self, query: Any, k: int) -> list[tuple[str, float]]:
        """The k live items with the largest inner product with `query`, best first."""
        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        with self._lock:
            if self._index is None or not self._pos or k <= 0 or q.shape[1] != self._dim:
                return []
            if not np.all(np.isfinite(q)):
                return []
            dead = len(self._ids) - len(self._pos)
            # Over-fetch by the dead share so tombstones do not starve the answer.
            fetch = min(len(self._ids), k + math.ceil(k * dead / len(self._pos)) + (8 if dead else 0))
            if self._hnsw:
                self._index.hnsw.efSearch = max(self._params.ef_search, fetch)
            # One query is searched on this thread alone: an OpenMP team spin-waits while one thread works, which
            # cost ~30x the search's own CPU (10k items: 8 ms against 0.3 ms). The setting is the calling thread's
            # (OpenMP's per-thread ICV), so rebuilds elsewhere keep their threads; the results are the same.
            faiss.omp_set_num_threads(1)
            dist, pos = self._index.search(q, fetch)
            hits = [(self._ids[p], float(d)) for d, p in zip(dist[0], pos[0], strict=True) if p >= 0 and self._alive[p]]
            return hits[:k]

    def _rebuild(self, ids: list[str], matrix: np.ndarray) -> None:
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in item vectors")
        dim = matrix.shape[1]
        self._hnsw = len(ids) > self._params.hnsw_threshold
        if self._hnsw:
            self._index = faiss.IndexHNSWFlat(dim, self._params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self._index.hnsw.efConstruction = self._params.ef_construction
        else:
            self._index = faiss.IndexFlatIP(dim)
        self._dim = dim
        self._ids, self._pos, self._alive = [], {}, np.zeros(max(len(ids), 16), dtype=bool)
        self._append(ids, matrix)

    def _stored(self) -> np.ndarray:
        """The vectors by faiss position: a view of the index's own storage, not a copy (at 100,000 videos the
        caption vectors alone are 150 MB a process). Valid until the next add, which may move the storage: callers
        hold the lock and keep no view past it."""
        flat: Any = self._index if isinstance(self._index, faiss.IndexFlat) else self._index.storage
        flat = faiss.downcast_index(flat)  # HNSWFlat keeps its vectors in an IndexFlat of its own
        n = self._index.ntotal
        if n == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        view: np.ndarray = faiss.rev_swig_ptr(flat.get_xb(), n * self._dim).reshape(n, self._dim)
        return view

    def _append(self, ids: list[str], matrix: np.ndarray) -> None:
        if not ids:
            return
        start, end = len(self._ids), len(self._ids) + len(ids)
        if end > self._alive.shape[0]:  # grow by doubling so frequent small syncs stay cheap
            alive = np.zeros(max(end, 2 * self._alive.shape[0]), dtype=bool)
            alive[:start] = self._alive[:start]
            self._alive = alive
        self._alive[start:end] = True
        self._ids.extend(ids)
        self._pos.update({vid: start + i for i, vid in enumerate(ids)})
        self._index.add(np.ascontiguousarray(matrix))

    def _kill(self, positions: list[int]) -> None:
        if positions:
            self._alive[positions] = False

    def _maybe_compact(self) -> None:
        live, total = len(self._pos), len(self._ids)
        want_hnsw = live > self._params.hnsw_threshold
        # Hysteresis: an HNSW index shrinks back to exact search only well below the threshold.
        switch = want_hnsw != self._hnsw and (want_hnsw or live < self._params.hnsw_threshold // 2)
        if switch or total - live > total // 4:
            order = sorted(self._pos.items(), key=lambda kv: kv[1])
            # A copy (fancy indexing) of the live rows: the rebuild replaces the storage the view points into.
            self._rebuild([vid for vid, _ in order], self._stored()[[p for _, p in order]])


def _as_matrix(vectors: Any, n: int) -> np.ndarray:
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if matrix.ndim != 2 or matrix.shape[0] != n:
        raise ValueError(f"expected a 2-d matrix with {n} rows, got shape {matrix.shape}")
    return matrix


def video_text(video: VideoInfo) -> str:
    """The text that stands for a video in content similarity: caption and hashtags."""
    return " ".join([video.caption, *(f"#{tag}" for tag in video.hashtags)]).strip()


class ContentIndex:
    """Text vectors of every video's caption and hashtags, embedded once per text, searchable by ItemIndex."""

    def __init__(self, embed_texts: Callable[[list[str]], Any], params: IndexParams, batch_size: int = 256) -> None:
        self.index = ItemIndex(params)
        self._embed = embed_texts
        self._texts: dict[str, tuple[str, tuple[str, ...]]] = {}  # id -> the caption and hashtags embedded
        self._batch = batch_size
        self._lock = threading.Lock()
        self._last: Mapping[str, VideoInfo] | None = None

    def sync(
        self, videos: Mapping[str, VideoInfo], cancelled: Callable[[], bool] | None = None, *, remember: bool = True
    ) -> None:
        """Embed new or edited videos' texts and forget removed videos; `cancelled` is asked between batches (a
        shutdown), and a sync it stops leaves the rest for the next one. With `remember`, a later sync of the
        same mapping object returns at once; without, the mapping is not held (a catalogue passed once, at start,
        would otherwise stay in memory beside the serving snapshot's for the life of the process)."""
        with self._lock:
            if videos is self._last:
                return
            gone = self._texts.keys() - videos.keys()
            if gone:
                self.index.remove(gone)
                for vid in gone:
                    del self._texts[vid]
            stale = []
            for vid, v in videos.items():
                known = self._texts.get(vid)
                # Comparing the fields, not a rebuilt string: this runs over every video on every sync.
                if known is None or known[0] != v.caption or known[1] != v.hashtags:
                    stale.append(v)
            for start in range(0, len(stale), self._batch):
                if cancelled is not None and cancelled():
                    return
                chunk = stale[start : start + self._batch]
                self.index.upsert([v.id for v in chunk], self._embed([video_text(v) for v in chunk]))
                self._texts.update((v.id, (v.caption, v.hashtags)) for v in chunk)
            self._last = videos if remember else None

    def update(self, upsert: Sequence[VideoInfo] = (), remove: Iterable[str] = ()) -> None:
        """Embed these videos' texts where new or edited and forget `remove`: one video's change (a `video.ready`,
        a moderation decision) without a pass over the whole catalogue, which `sync` makes."""
        with self._lock:
            gone = [vid for vid in remove if vid in self._texts]
            if gone:
                self.index.remove(gone)
                for vid in gone:
                    del self._texts[vid]
            stale = [v for v in upsert if self._texts.get(v.id) != (v.caption, v.hashtags)]
            if stale:
                self.index.upsert([v.id for v in stale], self._embed([video_text(v) for v in stale]))
                self._texts.update((v.id, (v.caption, v.hashtags)) for v in stale)
            self._last = None  # the next `sync` compares its mapping again
