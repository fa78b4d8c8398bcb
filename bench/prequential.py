"""Prequential (test-then-learn) replay of MovieLens-100k in time order: online learning vs a daily retrain.

    python bench/prequential.py     # writes bench/results/prequential.json and prequential.png

Every rating, in timestamp order, is first a test and then a lesson: the model recommends 10
movies to that user from those the user has not rated yet (at that moment); a hit is the rated
movie being among them (Recall@10 with one relevant item); then the model learns the rating
(a `complete` event, plus a `like` for 4-5 stars).

All variants start from the same `FeedModel`, fitted (ranker included) on the first
`--warm-frac` of the ratings. Then:

- daily: frozen during a day of data time; at each day boundary `refresh()` rebuilds counts,
  profiles, co-engagement matrices and embeddings from all ratings so far (the ranker weights
  stay: a daily retrain of everything that changes with data);
- online: `observe()` on every event (profile, counts, one Adagrad step on the touched
  embedding rows), never refreshed;
- online+daily: both (what the platform runs).

To keep one run under 10 minutes on 2 cores only every `--eval-every`-th rating is scored
(every rating is still learnt from); the JSON records the sampling.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from ml_data import Interactions, load_ml100k
from movielens import ML_DIR_ITEM, movie_facts, seed_everything
from sovereel.feed.model import Event, FeedModel, ModelConfig

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 2020
DAY_S = 86400
CONFIG = ModelConfig(neighbours=2000, folds=2, epochs=4, lr=1e-3, seed=SEED)
VARIANTS = ("daily", "online", "online+daily")


def rating_events(data: Interactions, row: int) -> list[Event]:
    """One rating as events: a completed watch, and a like for 4-5 stars."""
    user, item, ts = data.user_ids[data.user[row]], data.item_ids[data.item[row]], float(data.ts[row])
    out = [Event(user, item, ts, "complete")]
    if data.rating[row] >= 4:
        out.append(Event(user, item, ts, "like"))
    return out


def top10(model: FeedModel, users: list[str | None], nows: list[float], exclude: list[set[str]]) -> list[list[str]]:
    """Each user's 10 best unseen movies: co-engagement retrieval of `candidates`, then the ranker."""
    cand = model.retrieve(users, model.config.candidates, exclude)
    scores = model.score_lists(users, cand, np.asarray(nows, dtype=np.float64))[:, :, 0]
    order = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    ids = model.catalogue.ids
    return [[ids[c] for c in np.take_along_axis(cand, order, axis=1)[r]] for r in range(len(users))]


def replay(data: Interactions, warm_frac: float, eval_every: int, max_days: int | None) -> dict[str, Any]:
    """Run the replay; returns per-variant hits with their times, and timings."""
    order = np.argsort(data.ts, kind="stable")
    n_warm = int(len(order) * warm_frac)
    warm_rows, rest = order[:n_warm], order[n_warm:]
    days = (data.ts[rest] // DAY_S).astype(np.int64)
    if max_days is not None:
        keep = days < days[0] + max_days
        rest, days = rest[keep], days[keep]
    videos = movie_facts(data, ML_DIR_ITEM)
    log = [e for r in warm_rows.tolist() for e in rating_events(data, r)]
    seen: dict[str, set[str]] = {}
    for r in warm_rows.tolist():
        seen.setdefault(data.user_ids[data.user[r]], set()).add(data.item_ids[data.item[r]])
    start = time.perf_counter()
    base = FeedModel(CONFIG)
    base.fit(log, videos, progress=True)
    fit_s = time.perf_counter() - start
    models = {v: copy.deepcopy(base) for v in VARIANTS}
    hits: dict[str, list[int]] = {v: [] for v in VARIANTS}
    times: list[float] = []
    observe_s: list[float] = []
    refresh_s: list[float] = []
    pending: list[tuple[str, float, set[str], str]] = []  # the daily model's evaluations, batched per day

    def flush_daily() -> None:
        if pending:
            recs = top10(models["daily"], [p[0] for p in pending], [p[1] for p in pending], [p[2] for p in pending])
            hits["daily"].extend(int(p[3] in rec) for p, rec in zip(pending, recs, strict=True))
            pending.clear()

    bar = tqdm(total=len(rest), desc="prequential replay", unit="rating")
    for k, (row, day) in enumerate(zip(rest.tolist(), days.tolist(), strict=True)):
        if k > 0 and day != days[k - 1]:
            flush_daily()  # the day's evaluations used the frozen model, before the refresh
            t = time.perf_counter()
            models["daily"].refresh(log)
            refresh_s.append(time.perf_counter() - t)
            models["online+daily"] = copy.deepcopy(models["daily"])
        user, item, ts = data.user_ids[data.user[row]], data.item_ids[data.item[row]], float(data.ts[row])
        if k % eval_every == 0:
            exclude = set(seen.get(user, ()))
            times.append(ts)
            pending.append((user, ts, exclude, item))
            for v in ("online", "online+daily"):
                hits[v].append(int(item in top10(models[v], [user], [ts], [exclude])[0]))
        events = rating_events(data, row)
        for v in ("online", "online+daily"):
            t = time.perf_counter()
            models[v].observe(events)
            observe_s.append((time.perf_counter() - t) / len(events))
        log.extend(events)
        seen.setdefault(user, set()).add(item)
        bar.update()
    flush_daily()
    bar.close()
    lat = np.asarray(observe_s) * 1e3
    return {
        "hits": hits,
        "times": times,
        "warm_ratings": int(n_warm),
        "replayed_ratings": len(rest),
        "evaluated_ratings": len(times),
        "replay_days": len(np.unique(days)),
        "warm_fit_s": round(fit_s, 1),
        "refresh_s_mean": round(float(np.mean(refresh_s)), 3) if refresh_s else None,
        "observe_ms_per_event": {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99))},
    }


def rolling(x: npt.ArrayLike, window: int) -> npt.NDArray[np.float64]:
    """Trailing mean over `window` evaluations."""
    a = np.asarray(x, dtype=np.float64)
    c = np.cumsum(np.r_[0.0, a])
    n = np.minimum(np.arange(1, len(a) + 1), window)
    return np.asarray((c[1:] - c[np.maximum(np.arange(1, len(a) + 1) - window, 0)]) / n)


def plot(result: dict[str, Any], path: Path, window: int) -> None:
    """Rolling Recall@10 against data time, one line per variant."""
    import datetime as dt

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    when = [dt.datetime.fromtimestamp(t, tz=dt.UTC) for t in result["times"]]
    skip = min(window // 5, len(when) // 2)  # a trailing mean over a handful of evaluations is noise
    fig, ax = plt.subplots(figsize=(9, 4))
    for v in VARIANTS:
        overall = result["recall@10"][v]
        curve = rolling(result["hits"][v], window)
        ax.plot(when[skip:], curve[skip:], lw=1.2, label=f"{v} (overall {overall:.4f})")
    ax.set_ylabel(f"Recall@10, trailing {window} evaluations")
    ax.set_title("MovieLens-100k prequential replay (test, then learn)")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    """Replay, write bench/results/prequential.json and prequential.png."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warm-frac", type=float, default=0.5, help="share of ratings (oldest) for the warm start")
    parser.add_argument("--eval-every", type=int, default=10, help="score every n-th replayed rating")
    parser.add_argument("--max-days", type=int, default=None, help="replay at most this many days")
    parser.add_argument("--window", type=int, default=500, help="rolling window (evaluations) for the plot")
    args = parser.parse_args()
    seed_everything(SEED)
    started = time.perf_counter()
    data = load_ml100k()
    result = replay(data, args.warm_frac, args.eval_every, args.max_days)
    result["recall@10"] = {v: float(np.mean(result["hits"][v])) for v in VARIANTS}
    result.update(
        {
            "config": CONFIG.as_dict(),
            "args": vars(args),
            "seconds_total": round(time.perf_counter() - started, 1),
            "command": "python bench/prequential.py",
        }
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(result, RESULTS / "prequential.png", args.window)
    (RESULTS / "prequential.json").write_text(json.dumps(result))
    for v in VARIANTS:
        print(f"{v:13s} Recall@10 {result['recall@10'][v]:.4f}")
    print(f"observe per event: {result['observe_ms_per_event']}; total {result['seconds_total']} s")


if __name__ == "__main__":
    main()
