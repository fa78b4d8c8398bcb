"""KuaiRand-Pure feature tables: the real videos and users a short-video simulator is calibrated on.

Reads `kuairand-pure/video_features_basic_pure.csv` and `user_features_pure.csv` from the shared data folder
(`../shared/data` from the repository root, or `$SOVEREEL_SHARED_DATA`). These are feature tables only: the
KuaiRand interaction logs are not available offline, so nothing here says how real users watched anything.

What is taken from the tables, as is:
- video duration (ms -> s), tags (a video has 1-3), author, upload date; the 239 videos without a duration
  are dropped (the simulator's watch model needs one), the 96 without a tag are kept (they match no tag taste);
- user activity degree (`user_active_degree`: full_active, high_active, ...) and follow count.

What is ours, not the data's (the tables have no session lengths): how many swipes a session of each
activity degree has, `SWIPES_BY_DEGREE`.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

DATA_ENV = "SOVEREEL_SHARED_DATA"
VIDEO_FILE = "video_features_basic_pure.csv"
USER_FILE = "user_features_pure.csv"
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# Median swipes per session for each activity degree. KuaiRand-Pure ranks users by activity but publishes no
# session lengths, so these medians are an assumption ordered like the degrees (a few dozen swipes for the most
# active, single digits for the least); sessions are lognormal around them (sigma SESSION_SIGMA).
SWIPES_BY_DEGREE: dict[str, float] = {
    "full_active": 40.0,
    "high_active": 25.0,
    "middle_active": 15.0,
    "low_active": 8.0,
    "single_low_active": 5.0,
    "2_14_day_new": 12.0,
    "day_new": 10.0,
    "30day_retention": 8.0,
    "UNKNOWN": 10.0,
}
SESSION_SIGMA = 0.5
MIN_SWIPES, MAX_SWIPES = 3, 200


def shared_data_dir() -> Path:
    """The shared evaluation data: $SOVEREEL_SHARED_DATA, else ../shared/data from the repository root."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def kuairand_dir() -> Path:
    """Where the KuaiRand-Pure feature tables are."""
    return shared_data_dir() / "kuairand-pure"


@dataclass(frozen=True)
class Videos:
    """Real KuaiRand-Pure videos, one row per index."""

    video_id: IntArray
    author_id: IntArray
    duration_s: FloatArray
    tags: tuple[tuple[int, ...], ...]
    age_days: IntArray  # days between the upload date and the newest upload date in the table
    dropped_without_duration: int = 0

    def __len__(self) -> int:
        return len(self.video_id)

    def take(self, rows: IntArray) -> Videos:
        """The videos at these row indices."""
        return Videos(
            self.video_id[rows],
            self.author_id[rows],
            self.duration_s[rows],
            tuple(self.tags[int(r)] for r in rows),
            self.age_days[rows],
            self.dropped_without_duration,
        )


@dataclass(frozen=True)
class Users:
    """Real KuaiRand-Pure users, one row per index."""

    user_id: IntArray
    active_degree: tuple[str, ...]
    follow_count: IntArray

    def __len__(self) -> int:
        return len(self.user_id)

    def take(self, rows: IntArray) -> Users:
        """The users at these row indices."""
        return Users(self.user_id[rows], tuple(self.active_degree[int(r)] for r in rows), self.follow_count[rows])


def load_videos(folder: Path | None = None) -> Videos:
    """Read video_features_basic_pure.csv; videos without a duration are dropped and counted."""
    path = (folder or kuairand_dir()) / VIDEO_FILE
    ids, authors, durations, tags, dates = [], [], [], [], []
    dropped = 0
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if not row["video_duration"]:
                dropped += 1
                continue
            ids.append(int(row["video_id"]))
            authors.append(int(row["author_id"]))
            durations.append(float(row["video_duration"]) / 1000.0)
            tags.append(tuple(int(t) for t in row["tag"].split(",") if t.strip()))
            dates.append(dt.date.fromisoformat(row["upload_dt"]))
    newest = max(dates)
    ages = np.array([(newest - d).days for d in dates], dtype=np.int64)
    return Videos(
        np.array(ids, dtype=np.int64),
        np.array(authors, dtype=np.int64),
        np.array(durations, dtype=np.float64),
        tuple(tags),
        ages,
        dropped,
    )


def load_users(folder: Path | None = None) -> Users:
    """Read user_features_pure.csv (the columns the simulator uses)."""
    path = (folder or kuairand_dir()) / USER_FILE
    ids, degrees, follows = [], [], []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ids.append(int(row["user_id"]))
            degrees.append(row["user_active_degree"] or "UNKNOWN")
            follows.append(int(row["follow_user_num"] or 0))
    return Users(np.array(ids, dtype=np.int64), tuple(degrees), np.array(follows, dtype=np.int64))


def sample_videos(videos: Videos, n: int, rng: np.random.Generator) -> Videos:
    """About n videos, taking whole authors in random order so the videos-per-author skew is kept."""
    by_author: dict[int, list[int]] = {}
    for row, author in enumerate(videos.author_id.tolist()):
        by_author.setdefault(author, []).append(row)
    authors = sorted(by_author)
    rows: list[int] = []
    for a in rng.permutation(len(authors)).tolist():
        if len(rows) >= n:
            break
        rows.extend(by_author[authors[a]])  # whole authors: the last one may take the world a few past n
    return videos.take(np.array(sorted(rows), dtype=np.int64))


def sample_users(users: Users, n: int, rng: np.random.Generator) -> Users:
    """n users uniformly without replacement, so activity degrees keep their real shares."""
    return users.take(np.sort(rng.choice(len(users), size=min(n, len(users)), replace=False)))


def tag_counts(videos: Videos) -> dict[int, int]:
    """How many videos carry each tag (a video with two tags counts for both): tag popularity."""
    counts: dict[int, int] = {}
    for tags in videos.tags:
        for t in tags:
            counts[t] = counts.get(t, 0) + 1
    return counts


def session_swipes(degree: str, rng: np.random.Generator) -> int:
    """Swipes in one session of a user of this activity degree (see SWIPES_BY_DEGREE)."""
    median = SWIPES_BY_DEGREE.get(degree, SWIPES_BY_DEGREE["UNKNOWN"])
    return int(np.clip(round(median * float(np.exp(rng.normal(0.0, SESSION_SIGMA)))), MIN_SWIPES, MAX_SWIPES))
