"""The short-video SIMULATOR over several seeds (each seed a different simulated world and model initialisation).

    python -m bench.simulator_seeds [--seeds 7,11,13] [--policies popular,sovereel,sovereel-sources]

One seed's run (bench/simulator.py) moves by a few points with the ranker's initialisation alone; the mean over
seeds is what a comparison between policies should rest on. Writes bench/results/simulator_seeds.json and prints
a markdown table of the per-seed figures and their means.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.simulator import RESULTS
from bench.simulator import main as run_simulator

COLUMNS = (
    ("watch ratio / impression", lambda p: p["mean_watch_ratio"]),
    ("new users' watch ratio", lambda p: p["new_user_mean_watch_ratio"]),
    ("new users on-taste", lambda p: p["new_user_on_taste_share"]),
    ("matched within 60", lambda p: p["swipes_to_match"]["threshold_0.5"]["matched_share"]),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seeds", default="7,11,13")
    ap.add_argument("--policies", default="popular,sovereel,sovereel-sources")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    per_seed: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in tqdm(seeds, desc="seeds"):
            with contextlib.redirect_stdout(io.StringIO()):
                run_simulator(["--no-progress", "--seed", str(seed), "--policies", args.policies, "--out", tmp])
            doc = json.loads((Path(tmp) / "simulator.json").read_text())
            per_seed[seed] = {
                name: {label: get(p) for label, get in COLUMNS} for name, p in doc["policies"].items()
            } | {"_code": doc["sovereel_feed_code_sha256"]}
    policies = args.policies.split(",")
    means = {
        name: {label: sum(per_seed[s][name][label] for s in seeds) / len(seeds) for label, _ in COLUMNS}
        for name in policies
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = {"command": "python -m bench.simulator_seeds " + " ".join(argv or []), "seeds": per_seed, "mean": means}
    (args.out / "simulator_seeds.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print("| policy | " + " | ".join(f"{label} (mean; per seed)" for label, _ in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name in policies:
        cells = [
            f"{means[name][label]:.3f} ({', '.join(f'{per_seed[s][name][label]:.3f}' for s in seeds)})"
            for label, _ in COLUMNS
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
