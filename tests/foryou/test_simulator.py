"""The short-video simulator (bench/simulator.py) itself: its data loader, its watch model and its metrics."""

from __future__ import annotations

import numpy as np
from bench import kuairand as kr
from bench import simulator as sim
from bench import simulator_sovereel
from bench.simulator_report import censored_quantile, summarise, swipes_to_match

from tests.support.settings import require

SMALL = sim.SimConfig(n_videos=300, n_background=10, n_new=10, horizon=30, seed=3)


def synthetic_world(seed: int = 0, n_videos: int = 400) -> tuple[sim.World, list[sim.SimUser]]:
    """A world of made-up videos (no data files needed): 8 tags, lognormal durations, some prolific creators."""
    rng = np.random.default_rng(seed)
    videos = kr.Videos(
        video_id=np.arange(n_videos, dtype=np.int64),
        author_id=rng.integers(0, n_videos // 3, n_videos).astype(np.int64),
        duration_s=np.exp(rng.normal(4.0, 1.0, n_videos)),
        tags=tuple((int(t),) for t in rng.choice(8, n_videos, p=np.arange(8, 0, -1) / 36)),
        age_days=np.zeros(n_videos, dtype=np.int64),
    )
    world = sim.build_world(videos, rng)
    n_users = SMALL.n_background + SMALL.n_new
    users = kr.Users(
        np.arange(n_users, dtype=np.int64), ("full_active",) * n_users, rng.integers(0, 500, n_users).astype(np.int64)
    )
    return world, sim.draw_users(world, users, SMALL)


def test_loader_reads_the_real_kuairand_tables() -> None:
    folder = kr.kuairand_dir()
    require(folder.is_dir(), f"KuaiRand-Pure tables not found at {folder} (set {kr.DATA_ENV})")
    videos, users = kr.load_videos(), kr.load_users()
    assert len(videos) + videos.dropped_without_duration == 7583
    assert videos.dropped_without_duration == 239
    assert videos.duration_s.min() > 0 and 60 < float(np.median(videos.duration_s)) < 100
    assert sum(1 for t in videos.tags if len(t) > 1) > 1000  # multi-tag videos are kept whole
    assert len(users) == 27285
    assert set(users.active_degree) <= set(kr.SWIPES_BY_DEGREE)
    # A run's world comes from those tables: sampled whole authors and users, every new user swiping the horizon.
    world, sim_users = sim.make_world(SMALL)
    assert SMALL.n_videos <= len(world.ids) < SMALL.n_videos + 30
    assert set(world.videos.video_id.tolist()) <= set(videos.video_id.tolist())
    assert [u.swipes for u in sim_users if u.new] == [SMALL.horizon] * SMALL.n_new


def test_taste_matched_impressions_are_watched_more() -> None:
    _world, users = synthetic_world()
    on = np.concatenate([u.ratio[u.on_taste] for u in users])
    off = np.concatenate([u.ratio[~u.on_taste] for u in users])
    assert on.mean() > off.mean() + 0.3
    for u in users:
        assert u.expected[u.on_taste].mean() > u.expected[~u.on_taste].mean()


def test_longer_videos_are_completed_less() -> None:
    world, users = synthetic_world()
    short = world.videos.duration_s < np.quantile(world.videos.duration_s, 0.25)
    long = world.videos.duration_s > np.quantile(world.videos.duration_s, 0.75)
    for group in (np.array([u.on_taste for u in users]), ~np.array([u.on_taste for u in users])):
        completed = np.array([u.completed for u in users])
        assert completed[group & short].mean() > completed[group & long].mean()


def test_an_oracle_beats_random_and_popular_learns_something() -> None:
    world, users = synthetic_world()
    means = {}
    for policy in (sim.RandomPolicy(world, 1), sim.PopularPolicy(world, 1), sim.OraclePolicy(world, users)):
        trace = sim.run_policy(world, users, policy, SMALL, progress=False)
        assert len(trace.ratio) == sum(u.swipes for u in users)
        # No policy shows a user the same video twice.
        pairs = list(zip(trace.user, trace.video, strict=True))
        assert len(set(pairs)) == len(pairs)
        means[policy.name] = float(np.mean(trace.ratio))
    assert means["oracle"] > means["random"] + 0.2
    assert means["popular"] > means["random"]


def test_runs_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[float]:
        world, users = synthetic_world(seed)
        return sim.run_policy(world, users, sim.RandomPolicy(world, seed), SMALL, progress=False).ratio

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_swipes_to_match_by_hand() -> None:
    hit, miss = True, False
    assert swipes_to_match([hit] * 12, window=4, threshold=0.75) == 4  # matched as soon as a window exists
    # The window ending at swipe 4 holds 3 of 4, but those ending at 5-7 hold 2: an early match that is lost does
    # not count. From swipe 8 on every window holds at least 3.
    assert swipes_to_match([hit, hit, hit, miss, miss, hit, hit, hit, hit, hit], window=4, threshold=0.75) == 8
    assert swipes_to_match([hit] * 8 + [miss, miss], window=4, threshold=0.75) is None  # lost at the end
    assert swipes_to_match([hit, hit], window=4, threshold=0.5) is None  # shorter than a window
    assert censored_quantile([10, 12, None, None], 0.5) == 12
    assert censored_quantile([10, 12, None, None], 0.9) is None


def test_summary_counts_only_new_users_for_swipes_to_match() -> None:
    world, users = synthetic_world()
    trace = sim.run_policy(world, users, sim.OraclePolicy(world, users), SMALL, progress=False)
    summary = summarise(trace, users, SMALL)
    per_user = summary["swipes_to_match"][f"threshold_{SMALL.threshold}"]["per_new_user"]
    assert len(per_user) == SMALL.n_new
    assert len(summary["new_user_on_taste_by_swipe"]) == SMALL.horizon
    assert summary["mean_watch_ratio_ci95"][0] <= summary["mean_watch_ratio"] <= summary["mean_watch_ratio_ci95"][1]


def few_users(horizon: int = 12, page_size: int = 6) -> tuple[sim.World, sim.SimConfig, list[sim.SimUser]]:
    """A 200-video synthetic world, a config for it, and three background users and two new ones."""
    world, users = synthetic_world(n_videos=200)
    cfg = sim.SimConfig(n_videos=200, n_background=3, n_new=2, horizon=horizon, page_size=page_size, seed=3)
    return world, cfg, [u for u in users if not u.new][:3] + [u for u in users if u.new][:2]


def test_the_sovereel_pipeline_adapter_serves_unseen_videos() -> None:
    world, cfg, few = few_users()
    policy = simulator_sovereel.make_policy("sovereel-sources", world, cfg.seed)
    trace = sim.run_policy(world, few, policy, cfg, progress=False)
    assert len(trace.ratio) == sum(u.swipes for u in few)
    pairs = list(zip(trace.user, trace.video, strict=True))
    assert len(set(pairs)) == len(pairs)


def test_the_sovereel_policy_learns_online_and_refits_on_schedule() -> None:
    world, cfg, few = few_users()
    policy = simulator_sovereel.make_policy("sovereel", world, cfg.seed, first_fit_s=30.0, refit_every_s=1e9)
    trace = sim.run_policy(world, few, policy, cfg, progress=False)
    assert policy.fits == 1
    assert len(trace.ratio) == sum(u.swipes for u in few)
    pairs = list(zip(trace.user, trace.video, strict=True))
    assert len(set(pairs)) == len(pairs)


def test_the_carried_policy_ranks_pages_from_carries_and_still_repeats_nothing() -> None:
    world, cfg, few = few_users(horizon=24, page_size=4)
    policy = simulator_sovereel.make_policy("sovereel-carried", world, cfg.seed)
    trace = sim.run_policy(world, few, policy, cfg, progress=False)
    assert len(trace.ratio) == sum(u.swipes for u in few)
    pages = -(-sum(u.swipes for u in few) // cfg.page_size)
    assert 0 < policy.carried_pages < pages  # some pages from carries, never all (retrieval every third page)
    pairs = list(zip(trace.user, trace.video, strict=True))
    assert len(set(pairs)) == len(pairs)


def test_client_signals_follow_the_web_client() -> None:
    e = sim.Feedback("u1", "v1", "c1", 100.0, 0, 40.0, 0.3, False, True, False, False)
    kinds = [s.kind for s in simulator_sovereel.client_signals(e)]
    assert kinds == ["impression", "play", "progress", "progress", "skip", "like"]  # 12 s watched: ticks at 5, 10
    assert [s.at for s in simulator_sovereel.client_signals(e)] == sorted(
        s.at for s in simulator_sovereel.client_signals(e)
    )
