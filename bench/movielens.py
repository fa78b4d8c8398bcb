"""MovieLens-100k under RecBole 1.2.1's default protocol: baselines and sovereel's served model, in one run.

    python bench/movielens.py            # writes bench/results/movielens.json and movielens_ndcg.png

Protocol (see ml_data.py): RecBole's seeded random 8:1:1 split per user, full ranking over all
items, every rating a positive, K = 10. Hyper-parameters are chosen on the valid split only;
the table reports test. Every model sees the train split only (valid items are masked at test
time, as RecBole does, but never used as input).

sovereel's row is `sovereel.feed.model.FeedModel`, the model the platform serves, fitted with
`FeedModel.fit` on the train interactions: co-engagement retrieval (its EASE matrix) of 100
candidates per user, ranked by the ranker's `complete` head. Each rating is a `complete` event;
a rating of 4 or 5 is also a `like` (engagement strength). A user's `now` is the mean time of
their train interactions (the protocol hides when the held-out ratings happened).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its siblings, run as a script or with -m bench.movielens
from ml_data import (
    ML_DIR,
    Interactions,
    Split,
    concat_items,
    interaction_matrix,
    load_ml100k,
    recbole_split,
    user_items,
)
from sovereel.feed.interface import VideoInfo
from sovereel.feed.metrics import evaluate_full_ranking
from sovereel.feed.model import Event, FeedModel, ModelConfig

RESULTS = Path(__file__).resolve().parent / "results"
ML_DIR_ITEM = ML_DIR / "ml-100k.item"
SEED = 2020
# RecBole 1.2.1, seed 2020, this protocol (from the issue / shared data README).
YARDSTICKS = {"Pop": 0.1005, "ItemKNN": 0.2834, "BPR": 0.2928, "EASE": 0.3295}
SOVEREEL_CONFIG = ModelConfig(
    neighbours=2000,  # ml-100k has 1,682 items: keep the co-engagement matrices whole
    burst_gap_s=60.0,  # co-engagement in rating order: chosen on valid NDCG@10 (BENCHMARKS.md)
    burst_lambda=50.0,
    order_windows=(3, 10, 30),
    gfcf_k=64,  # GF-CF as one more co-engagement matrix: k and alpha chosen on valid (BENCHMARKS.md)
    gfcf_alpha=0.3,
    slices=8,
    folds=8,  # every slice held out once: 8 x 943 training lists
    hidden=64,
    dropout=0.1,
    lr=1e-3,
    batch_lists=64,
    epochs=9,  # chosen on valid NDCG@10 (see the module docstring)
    ensemble=3,
    seed=SEED,
)
Scores = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.floating]]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch; pin threads for a 2-core box."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")


class Bench:
    """The split, the masks and the evaluation shared by every model."""

    def __init__(self, data: Interactions, split: Split) -> None:
        self.data, self.split = data, split
        self.train = user_items(data, split.train)
        self.valid = user_items(data, split.valid)
        self.test = user_items(data, split.test)
        self.train_valid = concat_items(self.train, self.valid)
        self.x = interaction_matrix(data, split.train)
        self.xd = self.x.toarray().astype(np.float64)

    def valid_ndcg(self, score: Scores) -> float:
        """NDCG@10 on valid (train items masked): the only number used for tuning."""
        return evaluate_full_ranking(score, self.train, self.valid)["ndcg@10"]

    def report(self, score: Scores) -> dict[str, dict[str, float]]:
        """All metrics @10 on valid and on test (train+valid items masked)."""
        return {
            "valid": evaluate_full_ranking(score, self.train, self.valid),
            "test": evaluate_full_ranking(score, self.train_valid, self.test),
        }


def dense_scores(matrix: npt.NDArray[np.floating]) -> Scores:
    """A score function over a precomputed users x items matrix."""
    return lambda users: matrix[users]


def pop_model(b: Bench) -> tuple[Scores, dict[str, Any]]:
    """Most popular: train interaction counts."""
    counts = b.xd.sum(axis=0)
    return (lambda users: np.tile(counts, (len(users), 1))), {}


def itemknn_scores(b: Bench, k: int) -> npt.NDArray[np.float64]:
    """RecBole's ItemKNN: cosine similarity, each item keeps its k most similar items, shrink 0."""
    gram = b.xd.T @ b.xd
    norms = np.sqrt(np.diag(gram))
    sim = gram / (np.outer(norms, norms) + 1e-6)
    np.fill_diagonal(sim, 0.0)
    drop = np.argpartition(-sim, k, axis=0)[k:]
    np.put_along_axis(sim, drop, 0.0, axis=0)
    return np.asarray(b.xd @ sim)


def ease_scores(b: Bench, lam: float) -> npt.NDArray[np.float64]:
    """EASE (Steck 2019), closed form, as RecBole's EASE."""
    gram = b.xd.T @ b.xd
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    weights = p / (-np.diag(p))
    np.fill_diagonal(weights, 0.0)
    return np.asarray(b.xd @ weights)


def als_scores(b: Bench, **params: Any) -> npt.NDArray[np.float64]:
    """ALS from the `implicit` package (CPU, 2 threads, seeded)."""
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(**params, random_state=SEED, num_threads=2)
    model.fit(sp.csr_matrix(b.x), show_progress=False)
    return np.asarray(model.user_factors @ model.item_factors.T, dtype=np.float64)


def bpr_scores(b: Bench, dim: int = 64, lr: float = 1e-3, batch: int = 2048, patience: int = 10) -> Any:
    """BPR as RecBole 1.2.1 trains it: 64-d xavier-normal embeddings, Adam 1e-3, batches of 2048 with one
    uniform negative each, early stopping on valid MRR@10 (patience 10, at most 300 epochs)."""
    from sovereel.feed.ranker_fit import Adam

    gen = torch.Generator().manual_seed(SEED)
    users = torch.from_numpy(b.data.user[b.split.train])
    items = torch.from_numpy(b.data.item[b.split.train])
    user_emb = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(b.data.n_users, dim), generator=gen))
    item_emb = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(b.data.n_items, dim), generator=gen))
    opt = Adam([user_emb, item_emb], lr=lr, weight_decay=0.0)
    seen = torch.from_numpy(b.xd > 0)
    best: tuple[float, npt.NDArray[np.float64], int] = (-1.0, np.zeros(0), 0)
    for epoch in range(300):
        perm = torch.randperm(len(users), generator=gen)
        for start in range(0, len(users), batch):
            idx = perm[start : start + batch]
            u, pos = users[idx], items[idx]
            neg = torch.randint(0, b.data.n_items, (len(idx),), generator=gen)
            clash = seen[u, neg]
            while bool(clash.any()):  # resample negatives the user has interacted with, as RecBole's sampler
                neg[clash] = torch.randint(0, b.data.n_items, (int(clash.sum()),), generator=gen)
                clash = seen[u, neg]
            diff = (user_emb[u] * (item_emb[pos] - item_emb[neg])).sum(dim=1)
            loss = -torch.nn.functional.logsigmoid(diff).mean()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        with torch.no_grad():
            scores = (user_emb @ item_emb.T).double().numpy()
        mrr = evaluate_full_ranking(dense_scores(scores), b.train, b.valid)["mrr@10"]
        if mrr > best[0]:
            best = (mrr, scores, epoch)
        elif epoch - best[2] >= patience:
            break
    return best[1]


def tune(b: Bench, name: str, grid: list[dict[str, Any]], build: Callable[..., npt.NDArray[np.float64]]) -> Any:
    """Pick the grid point with the best valid NDCG@10; returns (scores, chosen params, valid curve)."""
    best: tuple[float, dict[str, Any], npt.NDArray[np.float64]] | None = None
    curve = []
    for params in tqdm(grid, desc=f"tune {name}", leave=False):
        scores = build(b, **params)
        ndcg = b.valid_ndcg(dense_scores(scores))
        curve.append({**params, "valid_ndcg@10": ndcg})
        if best is None or ndcg > best[0]:
            best = (ndcg, params, scores)
    assert best is not None
    return dense_scores(best[2]), {"chosen": best[1], "grid": curve}


def movie_facts(data: Interactions, item_file: Path) -> list[VideoInfo]:
    """ml-100k.item as public video facts: release year -> created_at, genres -> hashtags, no creator/duration."""
    facts: dict[str, VideoInfo] = {}
    for line in item_file.read_text(encoding="latin-1").splitlines()[1:]:
        item, _title, year, genres = [*line.split("\t"), "", "", ""][:4]
        created = dt.datetime(int(year), 7, 1, tzinfo=dt.UTC).timestamp() if year.strip().isdigit() else 0.0
        facts[item] = VideoInfo(
            id=item, creator_id="", created_at=created, duration_s=0.0, hashtags=tuple(genres.split())
        )
    return [facts.get(i, VideoInfo(id=i, creator_id="", created_at=0.0, duration_s=0.0)) for i in data.item_ids]


def train_events(data: Interactions, rows: npt.NDArray[np.int64]) -> list[Event]:
    """Each rating is a completed watch; a rating of 4-5 is also a like. In time order."""
    events = []
    for r in rows.tolist():
        user, item, ts = data.user_ids[data.user[r]], data.item_ids[data.item[r]], float(data.ts[r])
        events.append(Event(user, item, ts, "complete"))
        if data.rating[r] >= 4:
            events.append(Event(user, item, ts, "like"))
    events.sort(key=lambda e: e.ts)
    return events


def served_scores(
    b: Bench,
    model: FeedModel,
    candidates: int,
    exclude: list[set[str]] | None,
    known: tuple[IntArray, FloatArray] | None = None,
) -> tuple[Scores, Scores, IntArray, FloatArray]:
    """Full-catalogue scorers from the served path: retrieval, then the ranker's `complete` head.

    Returns the ranked scorer, the retrieval-order scorer, and the candidates and their features (so a
    sweep can re-score them with other rankers without recomputing them)."""
    data = b.data
    users: list[str | None] = list(data.user_ids)
    total = np.bincount(data.user[b.split.train], weights=data.ts[b.split.train], minlength=data.n_users)
    now = total / np.maximum(np.bincount(data.user[b.split.train], minlength=data.n_users), 1)
    col_item = np.array([data.item_ids.index(i) for i in model.catalogue.ids], dtype=np.int64)
    cand, feats = known if known is not None else (model.retrieve(users, candidates, exclude), None)
    if feats is None:
        feats = model.features(users, cand, now)
    with torch.no_grad():
        scores = torch.sigmoid(model.ranker(torch.from_numpy(feats))).numpy()[:, :, 0]  # the `complete` head
    full = np.full((data.n_users, data.n_items), -1e9)
    order = np.full((data.n_users, data.n_items), -1e9)
    rows = np.arange(data.n_users)[:, None]
    full[rows, col_item[cand]] = scores
    order[rows, col_item[cand]] = -np.arange(cand.shape[1])[None, :]
    return dense_scores(full), dense_scores(order), cand, feats


def test_exclusions(b: Bench) -> list[set[str]]:
    """Per user, the valid items (masked when ranking for test, as RecBole does)."""
    return [{b.data.item_ids[i] for i in items} for items in b.valid]


def sovereel_model(
    b: Bench, config: ModelConfig, device: str = "cpu"
) -> tuple[Scores, Scores, Scores, Scores, dict[str, Any]]:
    """Fit the served FeedModel; returns valid/test scorers for the ranked lists and for retrieval order alone."""
    data = b.data
    model = FeedModel(config)
    start = time.perf_counter()
    model.fit(train_events(data, b.split.train), movie_facts(data, ML_DIR_ITEM), progress=True, device=device)
    fit_s = time.perf_counter() - start
    valid_rank, valid_order, _, _ = served_scores(b, model, config.candidates, None)
    test_rank, test_order, _, _ = served_scores(b, model, config.candidates, test_exclusions(b))
    info = {"config": config.as_dict(), "version": model.version, "fit_s": fit_s, "manifest": model.manifest}
    return valid_rank, test_rank, valid_order, test_order, info


def metrics_row(valid: dict[str, float], test: dict[str, float]) -> dict[str, Any]:
    """The numbers kept per model: all @10 metrics on valid and test."""
    keep = ("recall@10", "ndcg@10", "hit@10", "mrr@10", "precision@10")
    return {"valid": {k: round(valid[k], 4) for k in keep}, "test": {k: round(test[k], 4) for k in keep}}


def run(fast: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Every model on the same split; returns the results document."""
    seed_everything(SEED)
    started = time.perf_counter()
    data = load_ml100k()
    split = recbole_split(data, seed=SEED)
    b = Bench(data, split)
    models: dict[str, dict[str, Any]] = {}

    def add(name: str, score: Scores, info: dict[str, Any], seconds: float) -> None:
        r = b.report(score)
        models[name] = {**metrics_row(r["valid"], r["test"]), **info, "seconds": round(seconds, 2)}

    steps = tqdm(total=6, desc="movielens", unit="model")
    t = time.perf_counter()
    score, info = pop_model(b)
    add("Pop", score, info, time.perf_counter() - t)
    steps.update()
    t = time.perf_counter()
    knn_grid = [{"k": k} for k in ((100,) if fast else (50, 100, 200, 400))]
    score, info = tune(b, "ItemKNN", knn_grid, itemknn_scores)
    add("ItemKNN", score, info, time.perf_counter() - t)
    steps.update()
    als = [
        {"factors": f, "regularization": r, "alpha": a, "iterations": 15}
        for f in (32, 64)
        for r in (0.1, 1.0, 10.0)
        for a in (1.0, 5.0, 10.0)
    ]
    t = time.perf_counter()
    score, info = tune(b, "ALS", als[:1] if fast else als, als_scores)
    add("ALS", score, info, time.perf_counter() - t)
    steps.update()
    t = time.perf_counter()
    score, info = tune(b, "BPR", [{"patience": 2 if fast else 10}], bpr_scores)
    info["note"] = "RecBole's BPR recipe in torch; implicit's BPR scored far lower on valid here"
    add("BPR", score, info, time.perf_counter() - t)
    steps.update()
    t = time.perf_counter()
    lams = (250.0,) if fast else (100.0, 200.0, 250.0, 400.0, 600.0, 1000.0)
    score, info = tune(b, "EASE", [{"lam": lam} for lam in lams], ease_scores)
    add("EASE", score, info, time.perf_counter() - t)
    models["EASE"]["recbole_default_lambda_250"] = metrics_row(*b.report(dense_scores(ease_scores(b, 250.0))).values())
    steps.update()
    t = time.perf_counter()
    config = SOVEREEL_CONFIG if not fast else ModelConfig(folds=1, epochs=1, seed=SEED)
    valid_rank, test_rank, valid_order, test_order, info = sovereel_model(b, config, device)
    ev = evaluate_full_ranking
    models["sovereel"] = {
        **metrics_row(ev(valid_rank, b.train, b.valid), ev(test_rank, b.train_valid, b.test)),
        **info,
        "seconds": round(time.perf_counter() - t, 2),
    }
    models["sovereel retrieval only"] = metrics_row(
        ev(valid_order, b.train, b.valid), ev(test_order, b.train_valid, b.test)
    )
    steps.update()
    steps.close()
    return {
        "dataset": "MovieLens-100k (recbole==1.2.1 wheel, recbole/dataset_example/ml-100k)",
        "protocol": "RecBole 1.2.1 default: seed 2020, RO shuffle, RS 8:1:1 per user, full ranking, ratings positive",
        "split_sizes": {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)},
        "users": data.n_users,
        "items": data.n_items,
        "recbole_yardsticks_test_ndcg@10": YARDSTICKS,
        "models": models,
        "seconds_total": round(time.perf_counter() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "command": "python bench/movielens.py",
    }


def table(results: dict[str, Any]) -> str:
    """A markdown table of test metrics (and valid NDCG@10) per model."""
    lines = [
        "| model | test Recall@10 | test NDCG@10 | test Hit@10 | test MRR@10 | valid NDCG@10 | RecBole NDCG@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results["models"].items():
        t, v = row["test"], row["valid"]
        ref = results["recbole_yardsticks_test_ndcg@10"].get(name, "")
        lines.append(
            f"| {name} | {t['recall@10']:.4f} | {t['ndcg@10']:.4f} | {t['hit@10']:.4f} | {t['mrr@10']:.4f} "
            f"| {v['ndcg@10']:.4f} | {ref} |"
        )
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    """Bar chart of test NDCG@10, RecBole's yardsticks as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["models"])
    values = [results["models"][n]["test"]["ndcg@10"] for n in names]
    fig, ax = plt.subplots(figsize=(8, 4))
    colors = ["#d62728" if n == "sovereel" else "#7f7f7f" if "retrieval" in n else "#1f77b4" for n in names]
    bars = ax.bar(names, values, color=colors)
    ax.bar_label(bars, fmt="%.4f", fontsize=8)
    refs = results["recbole_yardsticks_test_ndcg@10"]
    xs = [i for i, n in enumerate(names) if n in refs]
    ax.scatter(xs, [refs[names[i]] for i in xs], marker="_", s=600, color="black", zorder=3, label="RecBole 1.2.1")
    ax.axhline(0.345, ls="--", lw=1, color="#d62728", label="target 0.345")
    ax.set_ylabel("test NDCG@10")
    ax.set_title("MovieLens-100k, RecBole protocol (random 8:1:1, full ranking)")
    ax.legend(loc="upper left", fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    """Run, write bench/results/movielens.json and movielens_ndcg.png, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="one grid point per model, a 1-epoch ranker (smoke test)")
    parser.add_argument("--device", default="cpu", help="where sovereel's ranker trains (cpu, cuda)")
    args = parser.parse_args()
    results = run(fast=args.fast, device=args.device)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_fast" if args.fast else ""
    (RESULTS / f"movielens{suffix}.json").write_text(json.dumps(results, indent=2))
    plot(results, RESULTS / f"movielens_ndcg{suffix}.png")
    print(table(results))
    print(f"total {results['seconds_total']} s")


if __name__ == "__main__":
    main()
