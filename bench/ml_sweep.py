"""Choosing sovereel's ranker settings for MovieLens-100k on the valid split (RecBole's protocol).

    python bench/ml_sweep.py [--device cuda] [--candidates 100 150] [--quick]   # writes bench/results/ml_sweep_*.json

The expensive part of a fit (cross-fitted training lists, co-engagement state, candidate features)
depends only on the retrieval settings, so it is computed once per retrieval setting and every
ranker setting is trained on it, evaluated on valid after each epoch. Test NDCG@10 is recorded next
to each point but the choice is made on valid alone; `movielens.py` then reports the chosen config.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ml_data import load_ml100k, recbole_split
from movielens import (
    ML_DIR_ITEM,
    RESULTS,
    SEED,
    SOVEREEL_CONFIG,
    Bench,
    movie_facts,
    seed_everything,
    served_scores,
    test_exclusions,
    train_events,
)
from sovereel.feed.features import FEATURES
from sovereel.feed.metrics import evaluate_full_ranking
from sovereel.feed.model import FeedModel, ModelConfig
from sovereel.feed.ranker_fit import fit_ranker
from sovereel.feed.ranker_net import RankerNet
from sovereel.feed.train import cross_fit_lists, fit_state, fold_events


def prepared(b: Bench, config: ModelConfig) -> tuple[FeedModel, Any, dict[str, Any]]:
    """State and training lists for one retrieval setting, plus the valid/test candidates' features."""
    model = FeedModel(config)
    model.describe(movie_facts(b.data, ML_DIR_ITEM))
    data = fold_events(model, train_events(b.data, b.split.train))
    lists = cross_fit_lists(model, data, progress=True)
    fit_state(model, data, np.ones(len(data.users), dtype=bool))
    model.ranker = RankerNet(len(FEATURES), 8, 0.0, 1, SEED)
    _, _, valid_cand, valid_feats = served_scores(b, model, config.candidates, None)
    _, _, test_cand, test_feats = served_scores(b, model, config.candidates, test_exclusions(b))
    return model, lists, {"valid": (valid_cand, valid_feats), "test": (test_cand, test_feats)}


def evaluate(b: Bench, model: FeedModel, config: ModelConfig, feats: dict[str, Any]) -> dict[str, float]:
    """Valid and test NDCG@10 of the model's current ranker (candidates and features computed once)."""
    valid, _, _, _ = served_scores(b, model, config.candidates, None, feats["valid"])
    test, _, _, _ = served_scores(b, model, config.candidates, None, feats["test"])
    return {
        "valid": evaluate_full_ranking(valid, b.train, b.valid)["ndcg@10"],
        "test": evaluate_full_ranking(test, b.train_valid, b.test)["ndcg@10"],
    }


def trace_ranker(
    b: Bench, model: FeedModel, cfg: ModelConfig, lists: Any, feats: dict[str, Any], epochs: int, device: str
) -> list[dict[str, float]]:
    """Train one ranker setting; valid and test NDCG@10 after every epoch."""
    net = RankerNet(len(FEATURES), cfg.hidden, cfg.dropout, cfg.ensemble, cfg.seed)
    net.standardise_on(lists.features)
    torch.manual_seed(cfg.seed)
    curve: list[dict[str, float]] = []

    def after_epoch(epoch: int, loss: float) -> None:
        model.ranker = net.to("cpu").eval()
        curve.append({"epoch": epoch + 1, "loss": loss, **evaluate(b, model, cfg, feats)})
        net.to(device).train()

    fit_ranker(
        net, lists, epochs=epochs, lr=cfg.lr, weight_decay=cfg.weight_decay,
        batch_lists=cfg.batch_lists, seed=cfg.seed, on_epoch=after_epoch, device=device,
    )  # fmt: skip
    return curve


def main() -> None:
    """Sweep retrieval x ranker settings, write bench/results/ml_sweep.json, print the best on valid."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="two ranker settings, three epochs (smoke test)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--candidates", type=int, nargs="+", default=[100], help="retrieval sizes to sweep")
    parser.add_argument("--rounds", type=int, default=1, help="cross-fitting rounds (ModelConfig.rounds)")
    parser.add_argument("--epochs", type=int, default=16, help="epochs per ranker (valid scored after each)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--ensemble", type=int, nargs="+", default=[3, 8])
    parser.add_argument("--dropout", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-3, 3e-3])
    args = parser.parse_args()
    seed_everything(SEED)
    torch.set_num_threads(args.threads)
    data = load_ml100k()
    b = Bench(data, recbole_split(data, seed=SEED))
    sizes: list[int] = args.candidates
    retrievals = [{"candidates": c, "rounds": args.rounds} for c in sizes]
    grid: dict[str, list[Any]] = {k: getattr(args, k) for k in ("hidden", "ensemble", "dropout", "lr")}
    if args.quick:
        grid = {"hidden": [32], "ensemble": [1, 2], "dropout": [0.1], "lr": [1e-3]}
    max_epochs = 3 if args.quick else args.epochs
    points: list[dict[str, Any]] = []
    started = time.perf_counter()
    for retrieval in retrievals:
        base = replace(SOVEREEL_CONFIG, **retrieval)
        model, lists, feats = prepared(b, base)
        combos = list(itertools.product(*grid.values()))
        for combo in tqdm(combos, desc=f"rankers @ {retrieval}"):
            setting = dict(zip(grid, combo, strict=True))
            cfg = replace(base, **setting)
            clock = time.perf_counter()
            curve = trace_ranker(b, model, cfg, lists, feats, max_epochs, args.device)
            best = max(curve, key=lambda c: c["valid"])
            seconds = time.perf_counter() - clock
            points.append({**retrieval, **setting, "best": best, "curve": curve, "seconds": seconds})
            print(json.dumps({**retrieval, **setting, "best": best}))
    chosen = max(points, key=lambda p: p["best"]["valid"])
    result = {
        "chosen_on_valid": {k: v for k, v in chosen.items() if k != "curve"},
        "points": points,
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "seconds_total": round(time.perf_counter() - started, 1),
        "command": f"python bench/ml_sweep.py --candidates {' '.join(map(str, sizes))} --rounds {args.rounds}",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "quick" if args.quick else "_".join(str(c) for c in sizes) + f"_r{args.rounds}"
    (RESULTS / f"ml_sweep_{name}.json").write_text(json.dumps(result, indent=2))
    print("chosen on valid:", json.dumps(result["chosen_on_valid"]))


if __name__ == "__main__":
    main()
