"""The demo world: users, real generated videos sent through the real upload and transcode path, and activity.

Everything goes through actions (sign-up, create video, follow, like, comment, record events), so the demo
exercises the same code as real users. Deterministic for a seed; a second run on the same region does nothing.
"""

from __future__ import annotations

import logging
import random
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from tqdm import tqdm

from sovereel.actions.accounts import do_signup, do_update_profile
from sovereel.actions.social import do_comment, do_follow, do_like, do_share
from sovereel.actions.videos import do_create_video
from sovereel.actions.watch import WatchEvent, do_record_events
from sovereel.demo.clips import demo_specs, generate_clip
from sovereel.media.probe import probe_file
from sovereel.runtime.media_worker import MediaWorker
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import User, Video

log = logging.getLogger(__name__)
# The documented password of the demo accounts.
DEMO_PASSWORD = "demo-password"  # nosec B105

# Topics in rough order of popularity (Zipf-like weights below), with related tags and caption lines.
TOPICS: list[tuple[str, list[str], list[str]]] = [
    ("comedy", ["funny", "skit"], ["When the group chat goes quiet", "POV: it's Monday again", "My cat's reaction"]),
    ("dance", ["choreo", "trend"], ["Learned this in one night", "Tutorial in the comments", "Mirror version"]),
    ("cooking", ["food", "recipe"], ["Weeknight pasta in 10 minutes", "Crispy tofu, no oven", "Grandma's soup"]),
    ("pets", ["dog", "cat"], ["He heard the treat bag", "Zoomies at 3 am", "First day home"]),
    ("travel", ["wanderlust", "hiking"], ["Sunrise above the clouds", "Hidden beach, no crowds", "Night train diary"]),
    ("fitness", ["workout", "gym"], ["5-minute core burner", "Form check please", "Day 30 of squats"]),
    ("music", ["cover", "guitar"], ["Acoustic cover, one take", "Beat from kitchen sounds", "Piano at midnight"]),
    ("diy", ["crafts", "homedecor"], ["Shelf from scrap wood", "Fixing a wobbly chair", "Thrift flip"]),
    ("art", ["drawing", "painting"], ["Timelapse portrait", "Watercolour sky", "Ink only challenge"]),
    ("gaming", ["speedrun", "retro"], ["New personal best", "That boss was rigged", "Retro console restore"]),
    ("nature", ["birds", "forest"], ["Woodpecker up close", "Rain in the forest", "Fog rolling in"]),
    ("tech", ["coding", "gadgets"], ["My desk setup", "Bug fixed at 2 am", "Tiny computer, big project"]),
]
FIRST_NAMES = [
    "ana", "ben", "chloe", "dev", "emma", "farid", "gina", "hugo", "ines", "jon",
    "kemi", "liam", "mia", "noah", "olga", "paul", "quinn", "rosa", "sam", "tara",
    "umar", "vera", "will", "xena", "yuki", "zoe",
]  # fmt: skip
COMMENTS = [
    "This is amazing!", "How did you do that?", "Trying this tomorrow", "The ending 😂", "Underrated",
    "Tutorial please!", "Watched it five times", "Who else is here from the For You page?", "So calming",
    "Okay but the music", "Need a part 2", "Saving this",
]  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    users: int
    videos: int
    ready: int
    follows: int
    likes: int
    comments: int
    events: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"demo world: {self.users} users, {self.videos} videos ({self.ready} ready), {self.follows} follows, "
            f"{self.likes} likes, {self.comments} comments, {self.events} watch events in {self.seconds:.0f}s; "
            f"every demo user's password is '{DEMO_PASSWORD}'"
        )


def _topic_weights() -> list[float]:
    return [1.0 / (rank + 1) ** 0.8 for rank in range(len(TOPICS))]


def _avatar(path: Path, colour: str, letter: str) -> None:
    font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
    text = f",drawtext=fontfile={font}:text={letter}:fontsize=150:fontcolor=white:x=(w-tw)/2:y=(h-th)/2"
    draw = text if Path(font).exists() else ""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color=c={colour}:s=256x256",
         "-vf", f"format=yuv420p{draw}", "-frames:v", "1", str(path)],
        check=True, timeout=30,
    )  # fmt: skip


def build_demo_world(
    rt: RegionRuntime, *, videos: int = 40, users: int = 20, seed: int = 7, progress: bool = True
) -> DemoSummary:
    """Create the demo world in this region (no-op if it exists); shows progress bars on the terminal."""
    started = time.time()
    # A reproducible demo world, not a secret.
    rng = random.Random(seed)  # nosec B311
    names = FIRST_NAMES[: max(2, min(users, len(FIRST_NAMES)))]
    with rt.db.session() as s:
        if s.scalar(select(User.id).where(User.username_key == names[0])):
            print("the demo world is already there; nothing to do")
            return DemoSummary(0, 0, 0, 0, 0, 0, 0, 0.0)

    # Users: the first third are creators, each with one or two favourite topics.
    weights = _topic_weights()
    people: list[User] = []
    tastes: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for i, name in enumerate(tqdm(names, desc="users", disable=not progress)):
            born = date(1980 + i % 20, 1 + i % 12, 1 + i % 28)  # adults: they see every demo video
            user = do_signup(rt.db, name, DEMO_PASSWORD, display_name=name.capitalize(), birth_date=born)
            favourite = rng.choices(range(len(TOPICS)), weights=weights, k=2)
            tastes[user.id] = sorted(set(favourite))
            colour = f"0x{rng.randrange(0x303030, 0xD0D0D0):06x}"
            _avatar(tmp / f"{name}.jpg", colour, name[0].upper())
            key = f"avatars/{user.id}.jpg"
            rt.blobs.put_file(key, tmp / f"{name}.jpg")
            bio = f"{TOPICS[tastes[user.id][0]][0].capitalize()} and more. Demo account #{i + 1}."
            do_update_profile(rt.db, user.id, bio=bio, avatar_key=key)
            people.append(user)
        creators = people[: max(1, len(people) // 3)]

        # Videos: captions first (the clip's text names its creator and topic), then clips in parallel.
        plan: list[tuple[User, str, str]] = []
        for i in range(videos):
            creator = (
                creators[min(int(rng.paretovariate(1.2)) - 1, len(creators) - 1)] if i >= len(creators) else creators[i]
            )
            topic_i = (
                rng.choice(tastes[creator.id]) if rng.random() < 0.7 else rng.choices(range(len(TOPICS)), weights)[0]
            )
            topic, related, lines = TOPICS[topic_i]
            tags = [topic, *rng.sample(related, rng.randint(0, len(related)))]
            if rng.random() < 0.35:
                tags.append("fyp")
            caption = f"{rng.choice(lines)} " + " ".join(f"#{t}" for t in tags)
            if rng.random() < 0.15:
                caption += f" with @{rng.choice(people).username}"
            plan.append((creator, caption, f"@{creator.username} · #{topic}"))
        specs = demo_specs(videos, seed, titles=[title for _c, _cap, title in plan], short_side=720)
        paths = [tmp / f"clip-{i:03d}.mp4" for i in range(videos)]
        with ThreadPoolExecutor(max_workers=2) as pool, tqdm(total=videos, desc="clips", disable=not progress) as bar:
            for _ in pool.map(lambda a: generate_clip(*a), zip(specs, paths, strict=True)):
                bar.update()
        now = time.time()
        for i, ((creator, caption, _title), path) in enumerate(zip(plan, paths, strict=True)):
            probe = probe_file(path, max_duration_s=rt.settings.max_duration_s)
            visibility = "followers" if i % 13 == 12 else "public"
            do_create_video(
                rt.db, rt.blobs, creator_id=creator.id, staged=path, original_name=path.name, caption=caption,
                visibility=visibility, duration_s=probe.duration_s, width=probe.width, height=probe.height,
            )  # fmt: skip
    # Transcode every upload with the real media worker (the same code `serve` runs in the background).
    worker = MediaWorker(rt)
    with tqdm(total=videos, desc="transcode", disable=not progress) as bar:
        from sovereel.runtime.media_worker import claim_job, process_job

        while (video_id := claim_job(rt, worker.worker_id)) is not None:
            process_job(rt, video_id, worker.worker_id)
            bar.update()

    follows, likes, comments, events, ready = _activity(rt, rng, people, creators, tastes, now, progress)
    return DemoSummary(len(people), videos, ready, follows, likes, comments, events, time.time() - started)


def _activity(
    rt: RegionRuntime,
    rng: random.Random,
    people: list[User],
    creators: list[User],
    tastes: dict[str, list[int]],
    now: float,
    progress: bool,
) -> tuple[int, int, int, int, int]:
    """Follows, likes, comments, shares and watch events that follow each user's tastes."""
    with rt.db.session() as s:
        ready = list(s.scalars(select(Video).where(Video.status == "ready").order_by(Video.created_at)))
    topic_of = {v.id: next((i for i, t in enumerate(TOPICS) if f"#{t[0]}" in v.caption), 0) for v in ready}
    follows = likes = comments = events = 0
    for user in tqdm(people, desc="activity", disable=not progress):
        for creator in rng.sample(creators, rng.randint(1, min(5, len(creators)))):
            if creator.id != user.id and do_follow(rt.db, user_id=user.id, username=creator.username):
                follows += 1
        batch: list[WatchEvent] = []
        for n, video in enumerate(rng.sample(ready, min(len(ready), rng.randint(8, 20)))):
            if video.creator_id == user.id or video.visibility != "public":
                continue
            likes_topic = topic_of[video.id] in tastes[user.id]
            duration = video.duration_s or 10.0
            ratio = min(1.0, rng.betavariate(5, 2) if likes_topic else rng.betavariate(1.2, 4))
            watched = round(duration * ratio, 2)
            ts = now - rng.uniform(0, 3 * 86400)
            base = f"demo-{user.username}-{n:03d}"
            batch.append(WatchEvent(f"{base}-i", "impression", video.id, ts))
            batch.append(WatchEvent(f"{base}-p", "play", video.id, ts + 0.2))
            kind = "complete" if ratio >= 0.98 else ("skip" if watched < 2 else "progress")
            batch.append(WatchEvent(f"{base}-e", kind, video.id, ts + watched, watched_s=watched))
            if likes_topic and rng.random() < 0.6:
                do_like(rt.db, user_id=user.id, video_id=video.id)
                likes += 1
            if likes_topic and rng.random() < 0.2:
                do_comment(rt.db, user_id=user.id, video_id=video.id, body=rng.choice(COMMENTS))
                comments += 1
            if likes_topic and rng.random() < 0.08:
                do_share(rt.db, user_id=user.id, video_id=video.id)
        events += do_record_events(rt.db, user_id=user.id, events=batch).accepted
    return follows, likes, comments, events, len(ready)
