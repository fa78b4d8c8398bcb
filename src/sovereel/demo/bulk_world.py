"""A large synthetic region, built fast: N ready videos sharing one media set, M users, follows and an event log.

This is a bulk fixture loader, like an Alembic data migration: it writes the tables with SQLAlchemy Core
`insert()` (executemany, in chunks, one transaction) instead of calling `actions/` once per row, because
100,000 videos and 1,000,000 events through the per-row actions (a transaction, an outbox row and a view-count
update each) would take hours. What the actions would have kept true is kept here by construction:

- counters (`like_count`, `view_count`, follower and following counts, hashtag `video_count`) are computed from
  the rows written, so they agree with them as the actions' would;
- no outbox rows: nothing is running to hear them, and a region's processes build their state from the tables
  when they start (`foryou.learner.Learner.bootstrap` reads the catalogue and the last 30 days of the event
  log, `foryou.service.VideoSnapshot` the ready videos). Build the world first, then start `sovereel serve`
  (a server already running sees the videos at its next snapshot, but its learner only after a restart);
- the audit log is untouched: none of these actions writes to it. The model version trained at the end is
  published by `foryou.training.train_version`, which signs it and logs it like any other.

Media: one short clip is generated and transcoded with ffmpeg once; every video's renditions and poster point
at those shared blobs under `world/media/`. Deleting a video removes `videos/<id>/` (its own prefix), so it can
never remove the shared files. The clip is a few seconds long whatever a row's `duration_s` says: the durations
vary (they are what watch ratios are measured against), the pixels do not.

The viewers follow a simple topic-preference model: each has one or two favourite topics; most views go to
videos of those topics, which are mostly watched to the end and sometimes liked, the rest mostly skipped.
The same seed gives the same world (ids aside, which carry the time they were made).
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
from tqdm import tqdm

from sovereel.demo.clips import demo_specs, generate_clip
from sovereel.demo.world import TOPICS
from sovereel.ids import new_id, new_user_id
from sovereel.media.probe import probe_file
from sovereel.media.transcode import transcode
from sovereel.storage.blobs.interface import BlobStore
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Event, Follow, Hashtag, Like, User, Video, VideoHashtag, Watch
from sovereel.usernames import username_skeleton

# The documented password of every world account (the benchmark signs in with it).
WORLD_PASSWORD = "world-password"  # nosec B105
USERNAME_PREFIX = "world"
MEDIA_PREFIX = "world/media"  # outside videos/<id>/: deleting one video never touches the shared files
CHUNK = 5_000  # rows per executemany: large enough to amortise the round trip, small enough for PostgreSQL
DAY = 86400.0


@dataclass(frozen=True)
class WorldSpec:
    """How big a world to build."""

    videos: int
    users: int
    events: int
    seed: int = 1


@dataclass
class WorldSummary:
    """What was written, and how long each phase took."""

    users: int = 0
    videos: int = 0
    follows: int = 0
    likes: int = 0
    events: int = 0
    watches: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        return (
            f"world: {self.users} users, {self.videos} videos, {self.follows} follows, {self.likes} likes, "
            f"{self.events} events ({self.watches} watches) — {phases}; every account's password is "
            f"'{WORLD_PASSWORD}', usernames {USERNAME_PREFIX}0…{USERNAME_PREFIX}{max(self.users - 1, 0)}"
        )


def world_exists(db: RegionDB) -> bool:
    """True when this region already holds a bulk world (its first account)."""
    with db.session() as s:
        return s.scalar(select(User.id).where(User.username_key == f"{USERNAME_PREFIX}0")) is not None


def shared_media(blobs: BlobStore, preset: str = "ultrafast") -> tuple[dict[str, dict[str, Any]], str, float]:
    """Generate and transcode one clip, store it under MEDIA_PREFIX; returns (renditions, poster key, duration)."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        spec = demo_specs(1, 1, titles=["sovereel world"], short_side=360)[0]
        spec = type(spec)(**{**spec.__dict__, "duration_s": 4.0})
        clip = tmp / "clip.mp4"
        generate_clip(spec, clip)
        probe = probe_file(clip, max_duration_s=600)
        result = transcode(clip, tmp / "out", probe, preset=preset)
        renditions: dict[str, dict[str, Any]] = {}
        for name, r in result.renditions.items():
            key = f"{MEDIA_PREFIX}/{name}.mp4"
            blobs.put_file(key, r.path)
            renditions[name] = {"key": key, "width": r.width, "height": r.height, "bytes": r.bytes,
                                "bitrate_kbps": r.bitrate_kbps}  # fmt: skip
        poster = f"{MEDIA_PREFIX}/poster.jpg"
        blobs.put_file(poster, result.poster)
        return renditions, poster, result.duration_s


def _chunks(rows: Iterable[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]], label: str, progress: bool) -> None:
    """executemany in chunks, with a progress bar."""
    target: Table = table.__table__
    with tqdm(total=len(rows), desc=label, disable=not progress, unit="row") as bar:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            conn.execute(insert(target), chunk)
            bar.update(len(chunk))


class _Planner:
    """Draws the world's structure from one seeded generator (pure Python: no I/O)."""

    def __init__(self, spec: WorldSpec, now: float) -> None:
        # A reproducible fixture, not a secret.
        self.rng = random.Random(spec.seed)  # nosec B311
        self.spec = spec
        self.now = now
        self.topic_weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(TOPICS))]

    def users(self, password_hash: str, region: str) -> tuple[list[dict[str, Any]], list[list[int]]]:
        rows, tastes = [], []
        for i in range(self.spec.users):
            name = f"{USERNAME_PREFIX}{i}"
            created = self.now - 60 * DAY + i
            rows.append(dict(
                id=new_user_id(region, created), region=region, username=name, username_key=name,
                skeleton=username_skeleton(name), display_name=f"World {i}", bio="", password_hash=password_hash,
                role="user", follower_count=0, following_count=0, created_at=created,
                birth_date=date(1990, 1 + i % 12, 1 + i % 28), is_private=False, comment_policy="everyone",
            ))  # fmt: skip
            tastes.append(sorted(set(self.rng.choices(range(len(TOPICS)), weights=self.topic_weights, k=2))))
        return rows, tastes

    def videos(
        self, users: list[dict[str, Any]], tastes: list[list[int]], media: tuple[dict[str, Any], str, float]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int]]:
        """Video rows, their hashtag rows and each video's topic; a tenth of the users create, Pareto-skewed."""
        renditions, poster, _ = media
        creators = max(1, len(users) // 10)
        rows, tags, topic_of = [], [], []
        for _i in range(self.spec.videos):
            c = min(int(self.rng.paretovariate(1.2)) - 1, creators - 1)
            topic_i = (
                self.rng.choice(tastes[c])
                if self.rng.random() < 0.7
                else self.rng.choices(range(len(TOPICS)), self.topic_weights)[0]
            )
            topic, related, lines = TOPICS[topic_i]
            video_tags = [topic, *self.rng.sample(related, self.rng.randint(0, len(related)))]
            created = self.now - self.rng.uniform(0, 30 * DAY)
            vid = new_id(created)
            rows.append(dict(
                id=vid, region=users[c]["region"], creator_id=users[c]["id"],
                caption=f"{self.rng.choice(lines)} " + " ".join(f"#{t}" for t in video_tags),
                visibility="public", status="ready", duration_s=round(self.rng.uniform(6, 60), 1),
                width=renditions[next(iter(renditions))]["width"], height=renditions[next(iter(renditions))]["height"],
                original_name="world.mp4", poster_key=poster, renditions=renditions, like_count=0, comment_count=0,
                share_count=0, view_count=0, created_at=created, ready_at=created + 60, moderation_state="ok",
            ))  # fmt: skip
            tags += [{"video_id": vid, "tag": t} for t in video_tags]
            topic_of.append(topic_i)
        return rows, tags, topic_of

    def follows(
        self, users: list[dict[str, Any]], tastes: list[list[int]], by_creator_topic: dict[int, set[int]]
    ) -> list[dict[str, Any]]:
        """Each viewer follows 1–10 creators, mostly ones who post in the viewer's favourite topics."""
        creators = max(1, len(users) // 10)
        out: dict[tuple[int, int], dict[str, Any]] = {}
        for u in range(len(users)):
            liked = [c for t in tastes[u] for c in by_creator_topic.get(t, ())] or list(range(creators))
            for _ in range(self.rng.randint(1, 10)):
                c = self.rng.choice(liked) if self.rng.random() < 0.8 else self.rng.randrange(creators)
                if c != u and (u, c) not in out:
                    at = self.now - self.rng.uniform(0, 30 * DAY)
                    out[(u, c)] = {"follower_id": users[u]["id"], "followee_id": users[c]["id"], "created_at": at}
        return list(out.values())

    def events(
        self, users: list[dict[str, Any]], tastes: list[list[int]], videos: list[dict[str, Any]], topic_of: list[int]
    ) -> tuple[list[dict[str, Any]], dict[tuple[int, int], list[Any]], dict[tuple[int, int], float]]:
        """About `spec.events` watch events: views of (mostly) favourite topics, each impression → play → outcome.

        Returns (event rows, watches by (user, video) as [watched_s, completed, last_at], likes' times)."""
        by_topic: dict[int, list[int]] = {}
        for v, t in enumerate(topic_of):
            by_topic.setdefault(t, []).append(v)
        topics = sorted(by_topic)
        weights = [self.topic_weights[t] for t in topics]
        rows: list[dict[str, Any]] = []
        watches: dict[tuple[int, int], list[Any]] = {}
        likes: dict[tuple[int, int], float] = {}
        rng, n_users, n = self.rng, len(users), 0
        while n < self.spec.events and videos:
            u = min(int(rng.paretovariate(1.5)) - 1, n_users - 1) if rng.random() < 0.3 else rng.randrange(n_users)
            favourite = [t for t in tastes[u] if t in by_topic]
            t = rng.choice(favourite) if favourite and rng.random() < 0.7 else rng.choices(topics, weights)[0]
            pool = by_topic[t]
            v = pool[int(len(pool) * rng.random() ** 2)]  # earlier videos of a topic are the popular ones
            video = videos[v]
            if video["creator_id"] == users[u]["id"]:
                continue
            likes_it = t in tastes[u]
            duration = float(video["duration_s"])
            ts = self.now - rng.uniform(60, 14 * DAY)
            key = f"w{n}"
            rows.append(self._event(users[u]["id"], f"{key}i", "impression", video["id"], ts, None))
            n += 1
            if rng.random() < 0.1:
                continue  # scrolled past
            rows.append(self._event(users[u]["id"], f"{key}p", "play", video["id"], ts + 0.2, 0.0))
            n += 1
            ratio = rng.betavariate(5, 1.5) if likes_it else rng.betavariate(1.1, 5)
            watched = round(duration if ratio >= 0.85 else duration * ratio, 2)
            kind = "complete" if ratio >= 0.85 else ("skip" if watched < 2.0 else "progress")
            rows.append(self._event(users[u]["id"], f"{key}e", kind, video["id"], ts + 0.2 + watched, watched))
            n += 1
            seen = watches.setdefault((u, v), [0.0, False, ts])
            seen[0], seen[1], seen[2] = max(seen[0], watched), seen[1] or kind == "complete", max(seen[2], ts)
            if likes_it and kind == "complete" and rng.random() < 0.3:
                likes.setdefault((u, v), ts + watched + 1)
        return rows, watches, likes

    def _event(
        self, user_id: str, client_id: str, kind: str, video_id: str, ts: float, watched: float | None
    ) -> dict[str, Any]:
        return {"region": "", "user_id": user_id, "client_id": client_id, "kind": kind, "video_id": video_id,
                "client_ts": ts, "received_at": ts + 0.5, "watched_s": watched, "position_s": None,
                "request_id": None}  # fmt: skip


def build_bulk_world(
    db: RegionDB, blobs: BlobStore, spec: WorldSpec, *, progress: bool = True, preset: str = "ultrafast"
) -> WorldSummary:
    """Write a synthetic world into this region in bulk (see the module docstring); refuses a second one."""
    from argon2 import PasswordHasher

    if world_exists(db):
        raise ValueError(f"this region already holds a world (user {USERNAME_PREFIX}0 exists)")
    summary = WorldSummary()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        summary.seconds[name] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()

    media = shared_media(blobs, preset)
    lap("media")
    plan = _Planner(spec, time.time())
    users, tastes = plan.users(PasswordHasher().hash(WORLD_PASSWORD), db.region)
    videos, video_tags, topic_of = plan.videos(users, tastes, media)
    creator_topics: dict[int, set[int]] = {}
    index_of = {u["id"]: i for i, u in enumerate(users)}
    for video, t in zip(videos, topic_of, strict=True):
        creator_topics.setdefault(t, set()).add(index_of[video["creator_id"]])
    follows = plan.follows(users, tastes, creator_topics)
    events, watches, likes = plan.events(users, tastes, videos, topic_of)
    lap("plan")

    # Counters from the rows themselves, as the actions would have kept them.
    for row in follows:
        users[index_of[row["followee_id"]]]["follower_count"] += 1
        users[index_of[row["follower_id"]]]["following_count"] += 1
    for (_u, v), _at in likes.items():
        videos[v]["like_count"] += 1
    for _u, v in watches:
        videos[v]["view_count"] += 1
    tag_counts: dict[str, int] = {}
    for row in video_tags:
        tag_counts[row["tag"]] = tag_counts.get(row["tag"], 0) + 1
    for row in events:
        row["region"] = db.region
    with db.session() as s:
        known_tags = set(s.scalars(select(Hashtag.tag)))
    watch_rows = [
        {"user_id": users[u]["id"], "video_id": videos[v]["id"], "watched_s": w[0], "completed": w[1], "last_at": w[2]}
        for (u, v), w in watches.items()
    ]
    like_rows = [
        {"user_id": users[u]["id"], "video_id": videos[v]["id"], "created_at": at} for (u, v), at in likes.items()
    ]
    with db.engine.begin() as conn:
        _insert(conn, User, users, "users", progress)
        new_tags = [{"tag": t, "video_count": n} for t, n in sorted(tag_counts.items()) if t not in known_tags]
        _insert(conn, Hashtag, new_tags, "hashtags", progress)
        for tag in sorted(known_tags & tag_counts.keys()):
            conn.execute(
                update(Hashtag).where(Hashtag.tag == tag).values(video_count=Hashtag.video_count + tag_counts[tag])
            )
        _insert(conn, Video, videos, "videos", progress)
        _insert(conn, VideoHashtag, video_tags, "video hashtags", progress)
        _insert(conn, Follow, follows, "follows", progress)
        _insert(conn, Like, like_rows, "likes", progress)
        _insert(conn, Watch, watch_rows, "watches", progress)
        _insert(conn, Event, sorted(events, key=lambda e: e["client_ts"]), "events", progress)
    lap("write")
    summary.users, summary.videos, summary.follows = len(users), len(videos), len(follows)
    summary.likes, summary.events, summary.watches = len(like_rows), len(events), len(watch_rows)
    return summary
