"""Short-video behaviour: a SIMULATOR calibrated on real KuaiRand-Pure feature tables, not real interaction logs.

Every number this module reports comes from simulated users. Their videos and activity levels are real
(bench/kuairand.py reads KuaiRand-Pure's feature tables); their tastes and how they watch are modelled here,
and the model, not Kuaishou's users, decides what a "good" feed is. It can tell a policy that learns tastes
from one that does not; it cannot say how much real people would watch.

The world (real, from the tables): a random subset of videos taken author by author, so that durations, tag
popularity and videos-per-author (creator skew) keep their real distributions; users sampled uniformly, so
activity degrees keep their real shares. Videos with no duration are dropped (bench/kuairand.py).

Modelling choices (ours, not the data's):
- Hidden taste: each user likes 1-3 "core" tags (count uniform), drawn without replacement with probability
  proportional to tag popularity (videos per tag), with weights from a Dirichlet(1, ..). A video's taste match
  m in [0, 1] is the weight of its best tag relative to the user's top tag. Favourite creators: 1 + floor(log10(
  1 + follow_user_num)) of them (1-4, from the real follow count), drawn in proportion to videos per creator.
- Each video has a hidden quality q ~ N(0, 0.5) shared by all users: what global popularity can learn.
- Watch model, per impression: completion probability sigmoid(z), z = -2 + 3 m + 1.5 [favourite creator]
  - 0.5 log2(duration / 60 s) + q + N(0, 0.5) noise: longer videos are completed less, as in short-video logs.
  A video not completed is left at a watch ratio ~ Beta with mean 0.15 + 0.35 m (concentration 3): users
  skip off-taste videos early. The watch ratio is 1 for a completion (loops are not modelled).
- Like, share and follow probabilities are small and grow with taste and watch ratio: 0.4 % + 6 % m' r,
  0.1 % + 1.2 % m' r and 0.05 % + 1 % m' r, where m' = max(m, favourite creator) and r the watch ratio.
- Outcomes are drawn once per (user, video) from the run seed: every policy meets the same users reacting the
  same way to the same video (common random numbers), so differences between policies are not draw noise.
- Sessions: a background cohort first (swipes per session from its activity degree, bench/kuairand.py), so the
  platform has history; then new users arrive, each swiping a fixed `horizon` so swipes-to-match compares alike.
  Pages of `page_size` items; a policy sees a page's feedback before that user's next page. The clock advances
  `clock_step_s` per impression platform-wide. Users arrive round-robin within a cohort.

Policies, all excluding what the user has already seen: `random`; `popular`, the highest watch ratio per
impression so far over all users (shrunk towards the global mean, so unseen videos get tried; PopularPolicy says
why not raw totals); `oracle`, which ranks by each user's true expected watch ratio (the ceiling); and the
sovereel pipeline, `sovereel` with its learned model and `sovereel-sources` without one (bench/simulator_sovereel.py).

Metrics (bench/simulator_report.py): mean watch ratio per impression (all impressions, and new users only),
with a 95 % bootstrap interval over users; and swipes-to-match of each new user: the smallest n >= window such
that, after swipe n and after every later swipe up to the horizon, at least `threshold` of the last `window`
impressions were on-taste (a tag with m >= 0.5 or a favourite creator). A user never matched within the horizon
counts as censored (> horizon). The threshold is 0.5, not higher, because sovereel's published re-rank rule
(topic_window 2) puts a one-tag user's tag at most in every other slot: above 0.5 the metric measures that
rule, not learning. 0.6 is reported as well.

    python -m bench.simulator [--quick] [--policies random,popular,sovereel,sovereel-sources,oracle] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from bench import kuairand as kr

RESULTS = Path(__file__).resolve().parent / "results"
START = 1_649_721_600.0  # 2022-04-12 00:00 UTC: the day after KuaiRand-Pure's newest upload
ON_TASTE_MATCH = 0.5
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SimConfig:
    """Sizes and metric settings of one run."""

    n_videos: int = 1500
    n_background: int = 150
    n_new: int = 100
    horizon: int = 60  # swipes each new user makes
    page_size: int = 10
    window: int = 10
    # Half the feed: sovereel's re-ranker keeps consecutive videos off the same primary tag (topic_window 2),
    # which caps a one-tag user near 0.5; 0.6 is reported too (bench/simulator_report.py SENSITIVITY).
    threshold: float = 0.5
    clock_step_s: float = 2.0
    seed: int = 7


QUICK = SimConfig(n_videos=800, n_background=40, n_new=30, horizon=40)


@dataclass(frozen=True)
class WatchModel:
    """Coefficients of the watch model (see the module docstring)."""

    base: float = -2.0
    taste: float = 3.0
    creator: float = 1.5
    per_doubling: float = 0.5
    ref_duration_s: float = 60.0
    quality_sd: float = 0.5
    noise_sd: float = 0.5
    partial_floor: float = 0.15
    partial_taste: float = 0.35
    partial_concentration: float = 3.0
    like: tuple[float, float] = (0.004, 0.06)
    share: tuple[float, float] = (0.001, 0.012)
    follow: tuple[float, float] = (0.0005, 0.01)


@dataclass
class World:
    """The simulated catalogue: real videos plus each one's hidden quality."""

    videos: kr.Videos
    ids: list[str]
    index: dict[str, int]
    creators: list[str]  # creator id of each video
    tags: list[int]  # the tag of each column of has_tag
    has_tag: BoolArray  # videos x tags
    tag_popularity: FloatArray  # videos per tag
    creator_videos: dict[str, list[int]]
    quality: FloatArray
    created_at: FloatArray
    model: WatchModel


@dataclass
class SimUser:
    """A simulated user: hidden taste and the outcome of every video, drawn once."""

    id: str
    degree: str
    swipes: int
    new: bool
    taste: FloatArray  # weight per world tag
    favourites: frozenset[str]
    match: FloatArray  # per video
    on_taste: BoolArray
    expected: FloatArray  # expected watch ratio
    ratio: FloatArray
    completed: BoolArray
    liked: BoolArray
    shared: BoolArray
    followed: BoolArray


@dataclass(frozen=True)
class Feedback:
    """What a user did with one impression."""

    user_id: str
    video_id: str
    creator_id: str
    at: float
    swipe: int  # 0-based index of this impression in the user's session
    duration_s: float
    watch_ratio: float
    completed: bool
    liked: bool
    shared: bool
    followed: bool

    @property
    def watch_s(self) -> float:
        """Seconds watched."""
        return self.watch_ratio * self.duration_s


class Policy(Protocol):
    """What the simulator asks of a feed policy."""

    name: str

    def recommend(self, user_id: str, k: int, now: float) -> list[str]: ...

    def observe(self, events: Sequence[Feedback]) -> None: ...


def sigmoid(x: FloatArray) -> FloatArray:
    """Logistic function."""
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def build_world(videos: kr.Videos, rng: np.random.Generator, model: WatchModel | None = None) -> World:
    """The catalogue from real videos; only the hidden quality and exact upload times are drawn."""
    model = model or WatchModel()
    ids = [f"v{v}" for v in videos.video_id.tolist()]
    creators = [f"c{a}" for a in videos.author_id.tolist()]
    counts = kr.tag_counts(videos)
    tags = sorted(counts)
    col = {t: i for i, t in enumerate(tags)}
    has_tag = np.zeros((len(videos), len(tags)), dtype=bool)
    for row, vt in enumerate(videos.tags):
        has_tag[row, [col[t] for t in vt]] = True
    creator_videos: dict[str, list[int]] = {}
    for row, c in enumerate(creators):
        creator_videos.setdefault(c, []).append(row)
    quality = rng.normal(0.0, model.quality_sd, len(videos))
    # Upload dates are real; the time of day is not in the table, so it is drawn.
    created = START - (videos.age_days + rng.uniform(0.0, 1.0, len(videos))) * 86400.0
    popularity = np.array([counts[t] for t in tags], dtype=np.float64)
    return World(videos, ids, {v: i for i, v in enumerate(ids)}, creators, tags, has_tag, popularity,
                 creator_videos, quality, created, model)  # fmt: skip


def draw_user(world: World, uid: str, degree: str, follow_count: int, new: bool, horizon: int, seed: int) -> SimUser:
    """A user's hidden taste and outcomes, from their own seeded stream (independent of the policy run)."""
    rng = np.random.default_rng([seed, int(uid.lstrip("u"))])
    m = world.model
    n_core = min(int(rng.integers(1, 4)), len(world.tags))
    core = rng.choice(len(world.tags), n_core, replace=False, p=world.tag_popularity / world.tag_popularity.sum())
    taste = np.zeros(len(world.tags))
    taste[core] = rng.dirichlet(np.ones(n_core))
    creators = sorted(world.creator_videos)
    weight = np.array([len(world.creator_videos[c]) for c in creators], dtype=np.float64)
    n_fav = min(1 + int(math.log10(1 + max(follow_count, 0))), 4, len(creators))
    favourites = frozenset(
        creators[i] for i in rng.choice(len(creators), n_fav, replace=False, p=weight / weight.sum())
    )
    match = (world.has_tag * taste).max(axis=1) / taste.max()
    fav = np.array([c in favourites for c in world.creators])
    dur = world.videos.duration_s
    z_mean = (m.base + m.taste * match + m.creator * fav - m.per_doubling * np.log2(dur / m.ref_duration_s)
              + world.quality)  # fmt: skip
    z = z_mean + rng.normal(0.0, m.noise_sd, len(dur))
    completed = rng.uniform(size=len(dur)) < sigmoid(z)
    mu = m.partial_floor + m.partial_taste * match
    partial = rng.beta(m.partial_concentration * mu, m.partial_concentration * (1.0 - mu))
    ratio = np.where(completed, 1.0, partial)
    # Probit approximation of E[sigmoid(z_mean + noise)]: the expectation an oracle would rank by.
    p_expected = sigmoid(z_mean / math.sqrt(1.0 + math.pi * m.noise_sd**2 / 8.0))
    expected = p_expected + (1.0 - p_expected) * mu
    engaged = np.maximum(match, fav) * ratio
    liked, shared, followed = (rng.uniform(size=len(dur)) < a + b * engaged for a, b in (m.like, m.share, m.follow))
    swipes = horizon if new else kr.session_swipes(degree, rng)
    return SimUser(uid, degree, swipes, new, taste, favourites, match, (match >= ON_TASTE_MATCH) | fav, expected,
                   ratio, completed, liked, shared, followed)  # fmt: skip


def draw_users(world: World, users: kr.Users, cfg: SimConfig) -> list[SimUser]:
    """Background users first, then the new users whose adaptation is measured."""
    out = []
    for i in range(len(users)):
        new = i >= cfg.n_background
        uid = f"u{int(users.user_id[i])}"
        out.append(
            draw_user(world, uid, users.active_degree[i], int(users.follow_count[i]), new, cfg.horizon, cfg.seed)
        )
    return out


def make_world(cfg: SimConfig, folder: Path | None = None) -> tuple[World, list[SimUser]]:
    """Load the real tables and draw the world and users of a run (the same for every policy)."""
    rng = np.random.default_rng(cfg.seed)
    videos = kr.sample_videos(kr.load_videos(folder), cfg.n_videos, rng)
    world = build_world(videos, rng)
    users = kr.sample_users(kr.load_users(folder), cfg.n_background + cfg.n_new, rng)
    # Shuffle so the background/new split is not by user id.
    users = users.take(rng.permutation(len(users)))
    return world, draw_users(world, users, cfg)


@dataclass
class Trace:
    """Every impression of a run, in order."""

    user: list[int] = field(default_factory=list)  # index into the run's users
    video: list[int] = field(default_factory=list)  # index into the world's videos
    swipe: list[int] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    on_taste: list[bool] = field(default_factory=list)
    completed: list[bool] = field(default_factory=list)
    liked: list[bool] = field(default_factory=list)


def run_policy(world: World, users: list[SimUser], policy: Policy, cfg: SimConfig, progress: bool = True) -> Trace:
    """Let every user swipe through the policy's pages; the policy learns from each page's feedback."""
    trace = Trace()
    clock = START
    bar = tqdm(total=sum(u.swipes for u in users), desc=policy.name, unit="imp", disable=not progress, leave=False)
    for cohort in ([i for i, u in enumerate(users) if not u.new], [i for i, u in enumerate(users) if u.new]):
        done = {i: 0 for i in cohort}
        while done:
            for i in list(done):
                u = users[i]
                want = min(cfg.page_size, u.swipes - done[i])
                page = policy.recommend(u.id, want, clock)[:want]
                if not page:  # the policy has nothing left for this user: the session ends
                    bar.update(u.swipes - done[i])
                    del done[i]
                    continue
                events = []
                for vid in page:
                    j = world.index[vid]
                    events.append(Feedback(u.id, vid, world.creators[j], clock, done[i],
                                           float(world.videos.duration_s[j]), float(u.ratio[j]), bool(u.completed[j]),
                                           bool(u.liked[j]), bool(u.shared[j]), bool(u.followed[j])))  # fmt: skip
                    trace.user.append(i)
                    trace.video.append(j)
                    trace.swipe.append(done[i])
                    trace.ratio.append(float(u.ratio[j]))
                    trace.on_taste.append(bool(u.on_taste[j]))
                    trace.completed.append(bool(u.completed[j]))
                    trace.liked.append(bool(u.liked[j]))
                    done[i] += 1
                    clock += cfg.clock_step_s
                bar.update(len(page))
                policy.observe(events)
                if done[i] >= u.swipes:
                    del done[i]
    bar.close()
    return trace


class RandomPolicy:
    """Uniformly random unseen videos."""

    name = "random"

    def __init__(self, world: World, seed: int) -> None:
        self._ids = world.ids
        self._rng = np.random.default_rng([seed, 1])
        self._seen: dict[str, set[str]] = {}

    def recommend(self, user_id: str, k: int, now: float) -> list[str]:
        seen = self._seen.get(user_id, set())
        fresh = [v for v in self._ids if v not in seen]
        return [fresh[i] for i in self._rng.permutation(len(fresh))[:k]]

    def observe(self, events: Sequence[Feedback]) -> None:
        for e in events:
            self._seen.setdefault(e.user_id, set()).add(e.video_id)


class PopularPolicy:
    """The most-watched unseen videos so far: watch ratio per impression over every user, learned online.

    The mean is shrunk towards the running mean of all impressions (PRIOR_IMPRESSIONS pseudo-impressions), so a
    video nobody has seen ranks with the average ones and gets tried. Ranking by total watches instead was
    degenerate here: with popularity as the only source of exposure, totals only say what was shown first.
    """

    name = "popular"
    PRIOR_IMPRESSIONS = 5.0

    def __init__(self, world: World, seed: int) -> None:
        self._ids = world.ids
        self._index = world.index
        self._watched = np.zeros(len(world.ids))
        self._shown = np.zeros(len(world.ids))
        # Ties (at first, everything) are broken by a fixed random order, not by id.
        self._tiebreak = np.random.default_rng([seed, 2]).permutation(len(world.ids))
        self._seen: dict[str, set[int]] = {}

    def recommend(self, user_id: str, k: int, now: float) -> list[str]:
        seen = self._seen.get(user_id, set())
        total = self._shown.sum()
        prior = self._watched.sum() / total if total else 0.0
        score = (self._watched + self.PRIOR_IMPRESSIONS * prior) / (self._shown + self.PRIOR_IMPRESSIONS)
        order = np.lexsort((self._tiebreak, -score))
        return [self._ids[j] for j in order[: k + len(seen)] if j not in seen][:k]

    def observe(self, events: Sequence[Feedback]) -> None:
        for e in events:
            j = self._index[e.video_id]
            self._watched[j] += e.watch_ratio
            self._shown[j] += 1
            self._seen.setdefault(e.user_id, set()).add(j)


class OraclePolicy:
    """Knows every user's hidden taste and each video's quality: ranks unseen videos by expected watch ratio."""

    name = "oracle"

    def __init__(self, world: World, users: list[SimUser]) -> None:
        self._ids = world.ids
        self._index = world.index
        self._users = {u.id: u for u in users}
        self._seen: dict[str, set[int]] = {}

    def recommend(self, user_id: str, k: int, now: float) -> list[str]:
        seen = self._seen.get(user_id, set())
        order = np.argsort(-self._users[user_id].expected, kind="stable")
        return [self._ids[j] for j in order[: k + len(seen)] if j not in seen][:k]

    def observe(self, events: Sequence[Feedback]) -> None:
        for e in events:
            self._seen.setdefault(e.user_id, set()).add(self._index[e.video_id])


def make_policy(name: str, world: World, users: list[SimUser], cfg: SimConfig) -> Policy:
    """A policy by name; the sovereel ones import the platform's feed package only when asked for."""
    if name == "random":
        return RandomPolicy(world, cfg.seed)
    if name == "popular":
        return PopularPolicy(world, cfg.seed)
    if name == "oracle":
        return OraclePolicy(world, users)
    from bench import simulator_sovereel  # torch and faiss load only for these policies

    return simulator_sovereel.make_policy(name, world, cfg.seed)


def _feed_code_digest() -> str:
    from bench import simulator_sovereel

    return simulator_sovereel.code_digest()


def main(argv: list[str] | None = None) -> int:
    """Run every policy on the same simulated world; write the JSON report and the plots."""
    from bench import simulator_report as report

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"a small world for CI (< 60 s): {QUICK}")
    ap.add_argument(
        "--policies",
        default="random,popular,sovereel,sovereel-sources,oracle",
        help="comma-separated; also sovereel-outcomes (an ablation) and sovereel-carried (bench/simulator_sovereel.py)",
    )
    ap.add_argument("--seed", type=int, default=SimConfig.seed)
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for simulator[_quick].json and the plots")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)  # shared 2-core machines: one thread per process
    except ImportError:
        pass
    cfg = replace(QUICK if args.quick else SimConfig(), seed=args.seed)
    prefix = "simulator_quick" if args.quick else "simulator"
    started = time.perf_counter()
    world, users = make_world(cfg)
    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for name in args.policies.split(","):
        try:
            policy = make_policy(name, world, users, cfg)
        except RuntimeError as exc:  # PolicyUnavailable: say what is missing and go on with the others
            skipped[name] = str(exc)
            print(f"skipped {name}: {exc}", file=sys.stderr)
            continue
        t = time.perf_counter()
        trace = run_policy(world, users, policy, cfg, progress=not args.no_progress)
        results[name] = report.summarise(trace, users, cfg) | {"seconds": round(time.perf_counter() - t, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {
        "what": report.BANNER,
        "command": " ".join(["python -m bench.simulator", *(argv if argv is not None else sys.argv[1:])]),
        "config": asdict(cfg),
        "watch_model": asdict(world.model),
        "definitions": {
            "watch_ratio": "seconds watched / video duration, 1.0 for a completion (loops not modelled)",
            "on_taste": f"a video with a tag of taste match >= {ON_TASTE_MATCH} or by a favourite creator",
            "swipes_to_match": (report.__doc__ or "").split("\n\n")[1].replace("\n", " "),
        },
        "world": report.world_facts(world, users),
        "sovereel_feed_code_sha256": _feed_code_digest() if any(n.startswith("sovereel") for n in results) else None,
        "policies": results,
        "skipped": skipped,
        "seconds_total": round(time.perf_counter() - started, 1),
    }
    (args.out / f"{prefix}.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    if results:
        report.plot(results, cfg, args.out, prefix)
        print(report.markdown_table(results, cfg))
    for name, why in skipped.items():
        print(f"\n{name}: not run: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
