"""Accounting after a load or fault run: nothing the API acknowledged is lost, nothing is stored twice.

A `Ledger` is filled by whoever drives the API (the load bench, the fault tests): every operation whose
response acknowledged it, and every one whose outcome is unknown (the connection dropped, a 503 whose
transaction may or may not have committed). `check_accounting` then reads the region's store directly:

- every acknowledged watch event is in the event log exactly once (by user and client id), and every
  event of a ledger user in the log was sent by the driver (no phantom rows);
- every outbox message has been relayed (optionally waiting for the relay to drain);
- the likes and follows of the ledger's users are exactly their last acknowledged state;
- every acknowledged comment exists, and no comment of a ledger user exists that was neither
  acknowledged nor uncertain;
- each video's like and comment counters, and each user's follower/following counters, equal the rows
  they count (counters change in the same transaction as the rows, so they must agree after any crash).

    python -m bench.accounting --db-url URL   # counter consistency only (no ledger)
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sovereel.storage.db import open_engine
from sovereel.storage.models import Comment, Event, Follow, Like, OutboxMessage, User, Video


@dataclass
class Ledger:
    """What the API acknowledged to a driver, and what it left uncertain."""

    events: set[tuple[str, str]] = field(default_factory=set)  # (user_id, client_id), acknowledged
    events_sent: set[tuple[str, str]] = field(default_factory=set)  # every event sent, acknowledged or not
    likes: dict[tuple[str, str], bool] = field(default_factory=dict)  # (user_id, video_id) → liked
    follows: dict[tuple[str, str], bool] = field(default_factory=dict)  # (follower_id, followee_id) → following
    comments: set[str] = field(default_factory=set)  # acknowledged comment ids
    comment_users: set[str] = field(default_factory=set)  # users whose comments the ledger accounts for
    uncertain: set[tuple[str, ...]] = field(default_factory=set)  # ("like", u, v), ("follow", a, b), ("comment", u)

    def sent_events(self, user_id: str, client_ids: Iterable[str]) -> None:
        self.events_sent.update((user_id, c) for c in client_ids)

    def acked_events(self, user_id: str, client_ids: Iterable[str]) -> None:
        self.events.update((user_id, c) for c in client_ids)

    def acked_like(self, user_id: str, video_id: str, liked: bool) -> None:
        self.likes[(user_id, video_id)] = liked
        self.uncertain.discard(("like", user_id, video_id))

    def unsure_like(self, user_id: str, video_id: str) -> None:
        self.uncertain.add(("like", user_id, video_id))

    def acked_follow(self, follower_id: str, followee_id: str, following: bool) -> None:
        self.follows[(follower_id, followee_id)] = following
        self.uncertain.discard(("follow", follower_id, followee_id))

    def unsure_follow(self, follower_id: str, followee_id: str) -> None:
        self.uncertain.add(("follow", follower_id, followee_id))

    def acked_comment(self, user_id: str, comment_id: str) -> None:
        self.comment_users.add(user_id)
        self.comments.add(comment_id)

    def unsure_comment(self, user_id: str) -> None:
        self.comment_users.add(user_id)
        self.uncertain.add(("comment", user_id, str(len(self.uncertain))))

    def summary(self) -> dict[str, int]:
        return {
            "events_acknowledged": len(self.events),
            "events_sent": len(self.events_sent),
            "likes": sum(self.likes.values()),
            "follows": sum(self.follows.values()),
            "comments": len(self.comments),
            "uncertain": len(self.uncertain),
        }


@dataclass
class AccountingReport:
    problems: list[str]
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems[:50], "counts": self.counts}


def wait_for_outbox(engine: Engine, timeout_s: float = 30.0) -> int:
    """Wait until every outbox row is relayed (or the timeout passes); returns how many are still queued."""
    deadline = time.monotonic() + timeout_s
    while True:
        with Session(engine) as s:
            left = int(s.scalar(select(func.count()).where(OutboxMessage.delivered_at.is_(None))) or 0)
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _check_events(s: Session, ledger: Ledger, problems: list[str], counts: dict[str, int]) -> None:
    users = {u for u, _ in ledger.events_sent | ledger.events}
    stored: dict[tuple[str, str], int] = {}
    for uid_chunk in _chunks(sorted(users), 500):
        rows = s.execute(
            select(Event.user_id, Event.client_id, func.count())
            .where(Event.user_id.in_(uid_chunk))
            .group_by(Event.user_id, Event.client_id)
        )
        for uid, cid, n in rows:
            stored[(uid, cid)] = int(n)
    missing = [k for k in ledger.events if k not in stored]
    doubled = [k for k, n in stored.items() if n > 1]
    phantom = [k for k in stored if k not in ledger.events_sent and k not in ledger.events]
    counts["events_in_log"] = len(stored)
    counts["events_acknowledged"] = len(ledger.events)
    counts["events_stored_unacknowledged"] = len([k for k in stored if k not in ledger.events])
    if missing:
        problems.append(f"{len(missing)} acknowledged events are missing from the event log, e.g. {missing[:3]}")
    if doubled:
        problems.append(f"{len(doubled)} events are in the event log more than once, e.g. {doubled[:3]}")
    if phantom:
        problems.append(f"{len(phantom)} events in the log were never sent by the driver, e.g. {phantom[:3]}")


def _check_social(s: Session, ledger: Ledger, problems: list[str], counts: dict[str, int]) -> None:
    like_users = sorted({u for u, _ in ledger.likes})
    stored_likes: set[tuple[str, ...]] = set()
    for chunk in _chunks(like_users, 500):
        stored_likes |= {
            tuple(r) for r in s.execute(select(Like.user_id, Like.video_id).where(Like.user_id.in_(chunk)))
        }
    wrong = [
        (k, want)
        for k, want in ledger.likes.items()
        if (k in stored_likes) != want and ("like", *k) not in ledger.uncertain
    ]
    extra = [k for k in stored_likes if k not in ledger.likes and ("like", *k) not in ledger.uncertain]
    counts["likes_stored"] = len(stored_likes)
    if wrong or extra:
        problems.append(f"likes differ from the acknowledged state: {len(wrong)} wrong, {len(extra)} unexpected")
    followers = sorted({a for a, _ in ledger.follows})
    stored_follows: set[tuple[str, ...]] = set()
    for chunk in _chunks(followers, 500):
        rows = s.execute(select(Follow.follower_id, Follow.followee_id).where(Follow.follower_id.in_(chunk)))
        stored_follows |= {tuple(r) for r in rows}
    wrong_f = [
        k
        for k, want in ledger.follows.items()
        if (k in stored_follows) != want and ("follow", *k) not in ledger.uncertain
    ]
    extra_f = [k for k in stored_follows if k not in ledger.follows and ("follow", *k) not in ledger.uncertain]
    counts["follows_stored"] = len(stored_follows)
    if wrong_f or extra_f:
        problems.append(f"follows differ from the acknowledged state: {len(wrong_f)} wrong, {len(extra_f)} unexpected")
    stored_comments: set[str] = set()
    for chunk in _chunks(sorted(ledger.comment_users), 500):
        stored_comments |= set(s.scalars(select(Comment.id).where(Comment.user_id.in_(chunk))))
    lost = ledger.comments - stored_comments
    unexplained = len(stored_comments - ledger.comments)
    allowed = sum(1 for u in ledger.uncertain if u[0] == "comment")
    counts["comments_stored"] = len(stored_comments)
    if lost:
        problems.append(f"{len(lost)} acknowledged comments are missing, e.g. {sorted(lost)[:3]}")
    if unexplained > allowed:
        problems.append(f"{unexplained} comments were stored but only {allowed} requests had an unknown outcome")


Offsets = dict[str, tuple[int, int]]


def counter_offsets(engine: Engine) -> tuple[Offsets, Offsets]:
    """Each video's (likes, comments) and each user's (followers, following) counter minus the rows it counts.

    All zero on a store built through the API; a seeded store may start elsewhere, so a run compares the
    offsets after it with the offsets before it: a counter that moved without its rows (or the other way
    round) changes its offset.
    """
    with Session(engine) as s:
        likes = dict(s.execute(select(Like.video_id, func.count()).group_by(Like.video_id)).all())
        comments = dict(s.execute(select(Comment.video_id, func.count()).group_by(Comment.video_id)).all())
        videos = {
            vid: (like_count - likes.get(vid, 0), comment_count - comments.get(vid, 0))
            for vid, like_count, comment_count in s.execute(select(Video.id, Video.like_count, Video.comment_count))
        }
        fers = dict(s.execute(select(Follow.followee_id, func.count()).group_by(Follow.followee_id)).all())
        fing = dict(s.execute(select(Follow.follower_id, func.count()).group_by(Follow.follower_id)).all())
        users = {
            uid: (n_followers - fers.get(uid, 0), n_following - fing.get(uid, 0))
            for uid, n_followers, n_following in s.execute(select(User.id, User.follower_count, User.following_count))
        }
    return videos, users


def _check_counters(engine: Engine, baseline: tuple[Offsets, Offsets] | None, problems: list[str]) -> None:
    videos, users = counter_offsets(engine)
    base_videos, base_users = baseline or ({}, {})
    bad_videos = [vid for vid, off in videos.items() if off != base_videos.get(vid, (0, 0))]
    if bad_videos:
        problems.append(f"{len(bad_videos)} videos' like/comment counters disagree with their rows: {bad_videos[:3]}")
    bad_users = [uid for uid, off in users.items() if off != base_users.get(uid, (0, 0))]
    if bad_users:
        problems.append(f"{len(bad_users)} users' follow counters disagree with their rows: {bad_users[:3]}")


def check_accounting(
    engine: Engine,
    ledger: Ledger | None = None,
    *,
    baseline: tuple[Offsets, Offsets] | None = None,
    outbox_timeout_s: float = 30.0,
) -> AccountingReport:
    """Compare the store with what was acknowledged; an empty `problems` list means nothing was lost or doubled.

    `baseline` is `counter_offsets` taken before the run, for stores seeded with counters but no rows.
    """
    problems: list[str] = []
    counts: dict[str, int] = {}
    left = wait_for_outbox(engine, outbox_timeout_s)
    counts["outbox_undelivered"] = left
    if left:
        problems.append(f"{left} outbox messages were still undelivered after {outbox_timeout_s:.0f} s")
    with Session(engine) as s:
        if ledger is not None:
            _check_events(s, ledger, problems, counts)
            _check_social(s, ledger, problems, counts)
    _check_counters(engine, baseline, problems)
    return AccountingReport(problems, counts)


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def main() -> None:
    parser = argparse.ArgumentParser(description="check a region store's counters and outbox")
    parser.add_argument("--db-url", required=True)
    args = parser.parse_args()
    engine = open_engine(args.db_url)
    report = check_accounting(engine, None, outbox_timeout_s=0)
    print(json.dumps(report.as_dict(), indent=2))
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
