"""Metrics, markdown table and plots of the short-video SIMULATOR (bench/simulator.py): simulated users, not logs.

Swipes-to-match of a new user: the smallest n >= window such that, after swipe n and after every later swipe up
to the horizon, at least `threshold` of the last `window` impressions were on-taste. Its minimum is `window`
(no full window exists before); a user who never gets there within the horizon is censored, and a quantile
that lands on censored users is reported as "> horizon" (None in the JSON).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from bench.simulator import SimConfig, SimUser, Trace, World

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SENSITIVITY = (0.5, 0.6)  # thresholds always reported besides the configured one
BANNER = "SIMULATOR calibrated on KuaiRand-Pure feature tables (real videos and users), not real interaction logs"


def swipes_to_match(on_taste: Sequence[bool], window: int, threshold: float) -> int | None:
    """Smallest n >= window such that every `window` ending at swipe n or later is >= threshold on-taste; else None."""
    x = np.asarray(on_taste, dtype=np.float64)
    if len(x) < window:
        return None
    share = np.convolve(x, np.ones(window), "valid") / window  # share[i]: the window ending at swipe i + window
    bad = np.flatnonzero(share < threshold - 1e-9)
    if len(bad) == 0:
        return window
    return None if bad[-1] == len(share) - 1 else int(bad[-1]) + 1 + window


def censored_quantile(values: Sequence[int | None], q: float) -> int | None:
    """A quantile of swipe counts where None (never matched) sorts last; None when the quantile is censored."""
    arr = np.array([math.inf if v is None else v for v in values], dtype=np.float64)
    if len(arr) == 0:
        return None
    x = float(np.quantile(arr, q, method="inverted_cdf"))  # an observed value: no interpolation with infinity
    return None if math.isinf(x) else int(x)


def bootstrap_mean(user: IntArray, values: FloatArray, seed: int, n: int = 1000) -> tuple[float, float, float]:
    """Mean per impression and its 95 % interval, resampling users (impressions of one user are not independent)."""
    sums, counts = np.bincount(user, weights=values), np.bincount(user).astype(np.float64)
    keep = counts > 0
    sums, counts = sums[keep], counts[keep]
    draws = np.random.default_rng([seed, 3]).integers(0, len(sums), (n, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(sums.sum() / counts.sum()), float(lo), float(hi)


def summarise(trace: Trace, users: list[SimUser], cfg: SimConfig) -> dict[str, Any]:
    """The report's numbers for one policy's run."""
    user = np.array(trace.user, dtype=np.int64)
    ratio = np.array(trace.ratio)
    on_taste = np.array(trace.on_taste)
    swipe = np.array(trace.swipe, dtype=np.int64)
    new = np.array([users[i].new for i in trace.user], dtype=bool)
    mean, lo, hi = bootstrap_mean(user, ratio, cfg.seed)
    by_user: dict[int, list[bool]] = {}
    for i, hit in zip(user[new].tolist(), on_taste[new].tolist(), strict=True):
        by_user.setdefault(i, []).append(hit)
    new_ids = [i for i, u in enumerate(users) if u.new]
    thresholds = sorted({cfg.threshold, *SENSITIVITY})
    stm = {th: [swipes_to_match(by_user.get(i, []), cfg.window, th) for i in new_ids] for th in thresholds}

    def curve(values: FloatArray) -> list[float]:
        # Mean over new users at each swipe index of the horizon.
        s = np.bincount(swipe[new], weights=values[new], minlength=cfg.horizon)[: cfg.horizon]
        c = np.bincount(swipe[new], minlength=cfg.horizon)[: cfg.horizon]
        return [round(float(a / b), 4) if b else math.nan for a, b in zip(s, c, strict=True)]

    return {
        "impressions": len(ratio),
        "mean_watch_ratio": round(mean, 4),
        "mean_watch_ratio_ci95": [round(lo, 4), round(hi, 4)],
        "new_user_mean_watch_ratio": round(float(ratio[new].mean()), 4) if new.any() else None,
        "completion_rate": round(float(np.mean(trace.completed)), 4),
        "like_rate": round(float(np.mean(trace.liked)), 4),
        "on_taste_share": round(float(on_taste.mean()), 4),
        "new_user_on_taste_share": round(float(on_taste[new].mean()), 4) if new.any() else None,
        "swipes_to_match": {
            f"threshold_{th}": {
                "median": censored_quantile(v, 0.5),
                "p90": censored_quantile(v, 0.9),
                "matched_share": round(sum(x is not None for x in v) / max(len(v), 1), 4),
                "per_new_user": v,
            }
            for th, v in stm.items()
        },
        "new_user_on_taste_by_swipe": curve(on_taste.astype(np.float64)),
        "new_user_watch_ratio_by_swipe": curve(ratio),
    }


def world_facts(world: World, users: list[SimUser]) -> dict[str, Any]:
    """What the simulated world was drawn from, for the report."""
    dur = world.videos.duration_s
    per_creator = np.array([len(v) for v in world.creator_videos.values()])
    degrees: dict[str, int] = {}
    for u in users:
        degrees[u.degree] = degrees.get(u.degree, 0) + 1
    return {
        "videos": len(world.ids),
        "creators": len(per_creator),
        "videos_per_creator_max": int(per_creator.max()),
        "creators_with_several_videos": int((per_creator > 1).sum()),
        "tags": len(world.tags),
        "top_tag_share": round(float(world.tag_popularity.max() / len(world.ids)), 4),
        "duration_s_p10_p50_p90": [round(float(x), 1) for x in np.percentile(dur, [10, 50, 90])],
        "users": len(users),
        "new_users": sum(u.new for u in users),
        "background_swipes_median": float(np.median([u.swipes for u in users if not u.new] or [0])),
        "activity_degrees": dict(sorted(degrees.items())),
    }


def _swipes(value: int | None, horizon: int) -> str:
    return f"> {horizon}" if value is None else str(value)


def markdown_table(results: dict[str, dict[str, Any]], cfg: SimConfig) -> str:
    """The report's table: one row per policy."""
    key = f"threshold_{cfg.threshold}"
    other = max(th for th in SENSITIVITY if th != cfg.threshold)
    lines = [
        f"_{BANNER}._",
        "",
        f"| policy | watch ratio / impression (95% CI) | new users' watch ratio | completion | new users on-taste "
        f"| swipes to match: median | p90 | matched within {cfg.horizon} | matched at {other:.0%} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        s = r["swipes_to_match"][key]
        lo, hi = r["mean_watch_ratio_ci95"]
        lines.append(
            f"| {name} | {r['mean_watch_ratio']:.3f} ({lo:.3f}-{hi:.3f}) | {r['new_user_mean_watch_ratio']:.3f} "
            f"| {r['completion_rate']:.3f} | {r['new_user_on_taste_share']:.3f} | {_swipes(s['median'], cfg.horizon)} "
            f"| {_swipes(s['p90'], cfg.horizon)} | {s['matched_share']:.0%} "
            f"| {r['swipes_to_match'][f'threshold_{other}']['matched_share']:.0%} |"
        )
    lines.append("")
    lines.append(
        f"Swipes to match: first swipe n after which >= {cfg.threshold:.0%} of the last {cfg.window} impressions "
        f"stay on-taste up to swipe {cfg.horizon} (minimum {cfg.window})."
    )
    return "\n".join(lines)


def plot(results: dict[str, dict[str, Any]], cfg: SimConfig, out: Path, prefix: str = "simulator") -> list[Path]:
    """<prefix>_watch_ratio.png and <prefix>_swipes_to_match.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    swipes = np.arange(1, cfg.horizon + 1)
    paths = [out / f"{prefix}_watch_ratio.png", out / f"{prefix}_swipes_to_match.png"]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    means = [results[n]["mean_watch_ratio"] for n in names]
    err = np.array([[m - results[n]["mean_watch_ratio_ci95"][0], results[n]["mean_watch_ratio_ci95"][1] - m]
                    for n, m in zip(names, means, strict=True)]).T  # fmt: skip
    ax1.bar(names, means, yerr=err, capsize=4, color=[f"C{i}" for i in range(len(names))])
    ax1.tick_params(axis="x", labelrotation=15)
    ax1.set_ylabel("mean watch ratio per impression")
    ax1.set_title("All impressions (95% CI over users)")
    for i, n in enumerate(names):
        ax2.plot(swipes, _smooth(results[n]["new_user_watch_ratio_by_swipe"]), label=n, color=f"C{i}")
    ax2.set_xlabel("new user's swipe")
    ax2.set_ylabel("watch ratio (mean over new users, 5-swipe mean)")
    ax2.set_title("New users")
    ax2.legend()
    fig.suptitle(BANNER, fontsize=9)
    fig.tight_layout()
    fig.savefig(paths[0], dpi=120)
    plt.close(fig)

    key = f"threshold_{cfg.threshold}"
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, n in enumerate(names):
        ax1.plot(swipes, _smooth(results[n]["new_user_on_taste_by_swipe"]), label=n, color=f"C{i}")
        values = results[n]["swipes_to_match"][key]["per_new_user"]
        found = np.sort([v for v in values if v is not None])
        share = np.arange(len(found) + 1) / max(len(values), 1)
        ax2.step([0, *found, cfg.horizon], [*share, share[-1]], where="post", label=n, color=f"C{i}")
    ax1.axhline(cfg.threshold, color="grey", lw=0.8, ls="--")
    ax1.set_xlabel("new user's swipe")
    ax1.set_ylabel("on-taste share (mean over new users, 5-swipe mean)")
    ax1.set_title("How fast the feed finds a new user's taste")
    ax2.set_xlim(0, cfg.horizon)
    ax2.set_xlabel("swipes to match")
    ax2.set_ylabel("share of new users matched")
    ax2.set_title(f">= {cfg.threshold:.0%} of last {cfg.window} on-taste, until swipe {cfg.horizon}")
    ax2.legend()
    fig.suptitle(BANNER, fontsize=9)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=120)
    plt.close(fig)
    return paths


def _smooth(values: Sequence[float], width: int = 5) -> FloatArray:
    # A trailing mean: single swipes of 100 users are noisy.
    x = np.asarray(values, dtype=np.float64)
    return np.array([np.nanmean(x[max(0, i - width + 1) : i + 1]) for i in range(len(x))])
