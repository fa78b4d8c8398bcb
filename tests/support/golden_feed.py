"""A small seeded For You world with a trained model, and its served pages as plain JSON.

The serving golden (tests/feed/test_serving_golden.py) compares these pages with the ones the pipeline served
before a change: every id, order, score, term, feature row and explanation must stay the same. The model is
trained once and saved beside the golden (training may round differently on another CPU; serving must not
change, so the test loads the saved model rather than retraining).
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

from sovereel.feed.interface import (
    CandidateWorld,
    Engagement,
    EngagementBucket,
    ExposureStats,
    FeedRequest,
    Skip,
    VideoInfo,
)
from sovereel.feed.model import Event, FeedModel, ModelConfig
from sovereel.feed.params import default_params
from sovereel.feed.pipeline import ForYouRecommender
from sovereel.feed.text_embed import HashingTextEmbedder
from sovereel.foryou.scorer import LockedScorer
from tests.support.feed import build_co_engagement

DAY = 86400.0
NOW = 1_700_000_000.0
TOPICS = ("cooking", "football", "chess", "guitar", "travel", "cats", "maths", "dance")
N_VIDEOS = 320
N_USERS = 60
GOLDEN_DIR = Path(__file__).resolve().parent.parent / "feed" / "golden"
VIEWERS = ("u0", "u1", "u3", "u7", "u12", "u25", "u59", "newcomer")  # the last has no history at all
PAGES = 3
LIMIT = 10


def _videos(rng: random.Random) -> list[VideoInfo]:
    out = []
    for i in range(N_VIDEOS):
        topic = TOPICS[i % len(TOPICS)]
        other = TOPICS[rng.randrange(len(TOPICS))]
        out.append(
            VideoInfo(
                id=f"v{i:04d}",
                creator_id=f"c{i % 37}",
                created_at=NOW - rng.uniform(0.1, 40) * DAY,
                duration_s=rng.choice([8.0, 15.0, 30.0, 60.0, 0.0]),
                hashtags=(topic, other) if rng.random() < 0.5 else (topic,),
                caption=f"{topic} clip number {i} about {other}",
                like_count=rng.randrange(50),
                share_count=rng.randrange(5),
                comment_count=rng.randrange(8),
                creator_name=f"creator{i % 37}",
                visibility="followers" if i % 41 == 0 else "public",
            )
        )
    return out


def _events(rng: random.Random, videos: list[VideoInfo]) -> list[Event]:
    by_topic = {t: [v for v in videos if v.hashtags[0] == t] for t in TOPICS}
    events: list[Event] = []
    for u in range(N_USERS):
        likes = rng.sample(TOPICS, 2)
        for _ in range(rng.randrange(10, 60)):
            topic = likes[0] if rng.random() < 0.6 else (likes[1] if rng.random() < 0.6 else rng.choice(TOPICS))
            v = by_topic[topic][int(len(by_topic[topic]) * rng.random() ** 2)]
            ts = NOW - rng.uniform(60, 20 * DAY)
            dur = v.duration_s or 20.0
            events.append(Event(f"u{u}", v.id, ts, "impression", 0.0, dur))
            if topic in likes:
                events.append(Event(f"u{u}", v.id, ts + 1, "complete", dur, dur))
                if rng.random() < 0.3:
                    events.append(Event(f"u{u}", v.id, ts + 2, "like", dur, dur))
            else:
                events.append(Event(f"u{u}", v.id, ts + 1, "skip", dur * 0.1, dur))
    return sorted(events, key=lambda e: (e.ts, e.user_id, e.video_id, e.kind))


def train_golden_model(directory: Path) -> None:
    """Train the golden world's model and save it to `directory` (run once, when the golden is remade)."""
    rng = random.Random(13)
    videos = _videos(rng)
    model = FeedModel(ModelConfig(epochs=2, min_steps=60))
    model.fit(_events(rng, videos), videos)
    model.save(directory)


class GoldenWorld:
    """The seeded world's shared state: catalogue, region aggregates, per-viewer context, and the recommender."""

    def __init__(self, model: FeedModel) -> None:
        rng = random.Random(13)
        self.videos = _videos(rng)
        self.events = _events(rng, self.videos)
        self.catalogue = {v.id: v for v in self.videos}
        self.public = {v.id: v for v in self.videos if v.visibility == "public"}
        by_creator: dict[str, list[VideoInfo]] = {}
        for v in self.videos:
            by_creator.setdefault(v.creator_id, []).append(v)
        self.by_creator = {c: tuple(vs) for c, vs in by_creator.items()}
        kinds = {"complete": "complete", "like": "like"}
        self.buckets = tuple(
            EngagementBucket(e.video_id, kinds[e.kind], e.ts - e.ts % 3600, 1 + i % 3)
            for i, e in enumerate(self.events)
            if e.kind in kinds and e.ts > NOW - 3 * DAY
        )
        self.exposure = {
            v.id: ExposureStats(impressions=20 + i % 700, completes=(20 + i % 700) // 2, engagements=i % 40)
            for i, v in enumerate(self.videos)
            if i % 3 == 0
        }
        sessions: dict[str, list[str]] = {}
        for e in self.events:
            if e.kind in ("complete", "like"):
                sessions.setdefault(e.user_id, []).append(e.video_id)
        self.co_engagement = build_co_engagement(sessions.values())
        self.recommender = ForYouRecommender(LockedScorer(model), default_params(), HashingTextEmbedder())

    def world(self, viewer: str | None, served: frozenset[str]) -> CandidateWorld:
        """The viewer's world at NOW (signed out when `viewer` is None)."""
        mine = [e for e in self.events if e.user_id == viewer]
        engaged = tuple(Engagement(e.video_id, e.kind, e.ts) for e in mine if e.kind in ("complete", "like"))
        skips = tuple(Skip(e.video_id, e.ts, e.watched_s) for e in mine if e.kind == "skip")
        n = int(viewer[1:]) if viewer and viewer[1:].isdigit() else 0
        return CandidateWorld(
            videos={vid: v for vid, v in self.catalogue.items() if v.creator_id != f"c{n}" or viewer is None},
            seen=frozenset(e.video_id for e in mine[: len(mine) // 2]),
            following=frozenset({f"c{n % 37}", f"c{(n * 7) % 37}"}) if viewer else frozenset(),
            served=served,
            recent_engagements=engaged[-40:],
            recent_skips=skips[-20:],
            not_interested_hashtags=frozenset({TOPICS[n % len(TOPICS)]}) if n % 5 == 1 else frozenset(),
            region_engagement=self.buckets,
            exposure=self.exposure,
            co_engagement=self.co_engagement,
            region_videos=self.public,
            region_by_creator=self.by_creator,
        )

    def pages(self) -> dict[str, list[list[dict[str, Any]]]]:
        """PAGES pages of every viewer (and signed out), each item its id and full Reason record."""
        out: dict[str, list[list[dict[str, Any]]]] = {}
        for viewer in (*VIEWERS, None):
            cursor: str | None = None
            pages: list[list[dict[str, Any]]] = []
            served: set[str] = set()
            for p in range(PAGES):
                request = FeedRequest(
                    user_id=viewer,
                    region="eu",
                    limit=LIMIT,
                    cursor=cursor,
                    now=NOW + 60 * p,
                    personalised=viewer is not None,
                )
                # The platform passes what it served earlier in the scroll only on every other page: both
                # exclusion paths (cursor digests, world.served) are exercised.
                world = self.world(viewer, frozenset(served) if p % 2 else frozenset())
                page = self.recommender.recommend(request, world)
                pages.append([{"video_id": i.video_id, "reason": i.reason.as_dict()} for i in page.items])
                served.update(i.video_id for i in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
            out[viewer or "signed_out"] = pages
        return out


def write_golden() -> None:
    """Remake the golden (the model and the pages): only when serving is meant to change."""
    train_golden_model(GOLDEN_DIR / "model")
    pages = GoldenWorld(FeedModel.load(GOLDEN_DIR / "model")).pages()
    with gzip.open(GOLDEN_DIR / "pages.json.gz", "wt", encoding="utf-8") as f:
        json.dump(pages, f, sort_keys=True)


if __name__ == "__main__":
    write_golden()
