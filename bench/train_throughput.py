"""Ranker training throughput (candidate rows per second) on the CPU and, where present, a GPU.

    python bench/train_throughput.py [--device cuda] [--lists 20000]
    # writes bench/results/train_throughput_<device>.json

The ranker is trained on cross-fitted lists (lists x candidates x features, with per-task labels);
this times `fit_ranker`, the served model's training loop, on synthetic lists of the served shape
(100 candidates, the served feature count, sparse labels) so CPU and GPU figures are comparable.
The rest of a fit (co-engagement state, cross-fitting) is sparse CPU work: `speed.py` times it.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sovereel.feed.features import FEATURES
from sovereel.feed.interface import TASKS
from sovereel.feed.ranker_fit import RankerLists, fit_ranker
from sovereel.feed.ranker_net import RankerNet

RESULTS = Path(__file__).resolve().parent / "results"


def synthetic_lists(n_lists: int, candidates: int, seed: int) -> RankerLists:
    """Random features with a few positive labels per list (the served shapes)."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((n_lists, candidates, len(FEATURES)), dtype=np.float32)
    targets = np.zeros((n_lists, candidates, len(TASKS)), dtype=np.float32)
    hits = rng.integers(candidates, size=(n_lists, 3))
    targets[np.arange(n_lists)[:, None], hits, 0] = 1.0
    return RankerLists(feats, targets)


def measure(lists: RankerLists, device: str, hidden: int, ensemble: int, batch: int, epochs: int) -> dict[str, Any]:
    """Train for `epochs` after one warm-up epoch; rows/s over the timed epochs."""
    net = RankerNet(len(FEATURES), hidden, 0.1, ensemble, 7)
    fit_ranker(net, lists, epochs=1, lr=1e-3, weight_decay=1e-4, batch_lists=batch, seed=7, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    fit_ranker(net, lists, epochs=epochs, lr=1e-3, weight_decay=1e-4, batch_lists=batch, seed=7, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    rows = lists.features.shape[0] * lists.features.shape[1] * epochs
    return {"hidden": hidden, "ensemble": ensemble, "batch_lists": batch, "rows_per_s": rows / seconds, "s": seconds}


def main() -> None:
    """Time the served ranker settings and a larger batch; write the results JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lists", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lists = synthetic_lists(args.lists, 100, 7)
    shapes = ((64, 3, 64), (64, 3, 1024), (256, 8, 1024))  # served (hidden, ensemble, batch), larger batch, larger net
    runs = [measure(lists, args.device, h, e, b, args.epochs) for h, e, b in shapes]
    for r in runs:
        print(json.dumps(r))
    name = args.device.split(":")[0]
    result = {
        "lists": args.lists,
        "candidates": 100,
        "features": len(FEATURES),
        "runs": runs,
        "device": torch.cuda.get_device_name() if name == "cuda" else f"cpu ({args.threads} torch threads)",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "command": f"python bench/train_throughput.py --device {args.device} --lists {args.lists}",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"train_throughput_{name}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
