"""The For You catalogue snapshot: loaded once, kept current from `video.*` events, and each viewer's eligible
videos as a checked view over it (never a copy)."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import update

from sovereel.events.outbox import emit
from sovereel.feed.interface import VideoInfo
from sovereel.foryou.service import FeedService
from sovereel.foryou.snapshot import EligibleVideos, RegionCatalogue, VideoSnapshot
from sovereel.queries.safety import FeedGate
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import User, Video
from tests.support.api import signup
from tests.support.foryou import deliver, seed_ready_videos


def _info(vid: str, creator: str, visibility: str = "public") -> VideoInfo:
    return VideoInfo(id=vid, creator_id=creator, created_at=0.0, duration_s=10.0, visibility=visibility)


def _gate(**kw: object) -> FeedGate:
    base: dict[str, object] = {
        "blocked": frozenset(),
        "adult": True,
        "age_restricted": frozenset(),
        "followers_only_creators": frozenset(),
    }
    return FeedGate(**{**base, **kw})  # type: ignore[arg-type]


CATALOGUE = RegionCatalogue(
    videos={
        v.id: v
        for v in (
            _info("mine", "me"),
            _info("pub", "ann"),
            _info("fans_followed", "ann", "followers"),
            _info("fans_stranger", "bob", "followers"),
            _info("by_blocker", "eve"),
            _info("teen", "tim"),
            _info("teen_followed", "tom"),
            _info("adult_only", "ann"),
        )
    },
    public={},
    by_creator={},
)


def test_a_viewers_eligible_videos_apply_audience_block_and_age_rules_per_look_up() -> None:
    gate = _gate(
        blocked=frozenset({"eve"}),
        adult=False,
        age_restricted=frozenset({"adult_only"}),
        followers_only_creators=frozenset({"tim", "tom"}),
    )
    view = EligibleVideos(CATALOGUE, "me", frozenset({"ann", "tom"}), gate)
    assert set(view) == {"pub", "fans_followed", "teen_followed"}
    assert "mine" not in view and "by_blocker" not in view and "teen" not in view and "adult_only" not in view
    assert view.get("fans_stranger") is None and view["pub"] is CATALOGUE.videos["pub"]
    signed_out = EligibleVideos(CATALOGUE, None, frozenset({"ann"}), _gate(adult=False))
    assert set(signed_out) == {"mine", "pub", "by_blocker", "teen", "teen_followed", "adult_only"}
    assert len(EligibleVideos(CATALOGUE, "me", frozenset(), _gate())) == 5


def test_the_snapshot_follows_video_events_without_reloading_the_catalogue(sqlite_rt: RegionRuntime) -> None:
    now = time.time()
    with sqlite_rt.db.transaction() as s:
        s.add(
            User(id="c1", region=sqlite_rt.region, username="c1", username_key="c1", password_hash="x", created_at=now)
        )
    topics = seed_ready_videos(
        sqlite_rt, {f"{t}{i}": "c1" for t in ("cooking", "travel", "pets", "dance") for i in (0, 1)}
    )
    service = FeedService(sqlite_rt)
    first = service.snapshot.get()
    assert set(first.public) == set(topics)
    removed, deleted, renamed = sorted(topics)[:3]
    with sqlite_rt.db.transaction() as s:
        # Changed without an event: the snapshot keeps what it had (it does not reload the catalogue).
        s.execute(update(Video).where(Video.id == renamed).values(caption="renamed"))
        s.execute(update(Video).where(Video.id == removed).values(moderation_state="removed"))
        emit(s, "video.moderated", {"video_id": removed, "state": "removed", "creator_id": "c1"})
        s.execute(update(Video).where(Video.id == deleted).values(status="failed"))
        emit(s, "video.deleted", {"video_id": deleted})
    deliver(sqlite_rt)
    after = service.snapshot.get()
    assert after is not first and deleted not in after.videos
    assert after.videos[removed].moderation == "removed"
    assert after.videos[renamed].caption == first.videos[renamed].caption != "renamed"
    # A creator's suspension re-reads all their videos.
    with sqlite_rt.db.transaction() as s:
        s.execute(update(User).where(User.id == "c1").values(suspended_at=now))
        emit(s, "video.moderated", {"video_id": None, "state": "creator_suspended", "creator_id": "c1"})
    deliver(sqlite_rt)
    suspended = service.snapshot.get()
    assert {v.moderation for v in suspended.videos.values()} == {"suspended"}
    assert suspended.videos[renamed].caption == "renamed"
    assert service.for_you(None, 10, None)["items"] == []


def test_the_safety_net_reload_runs_aside_and_picks_up_changes_no_event_announced(sqlite_rt: RegionRuntime) -> None:
    with sqlite_rt.db.transaction() as s:
        s.add(
            User(id="c2", region=sqlite_rt.region, username="c2", username_key="c2", password_hash="x", created_at=1.0)
        )
    topics = seed_ready_videos(
        sqlite_rt, {f"{t}{i}": "c2" for t in ("cooking", "travel", "pets", "dance") for i in (0, 1)}
    )
    snapshot = VideoSnapshot(sqlite_rt.db, full_reload_s=0.0)
    first = snapshot.get()
    gone = sorted(topics)[0]
    with sqlite_rt.db.transaction() as s:
        s.execute(update(Video).where(Video.id == gone).values(status="failed"))  # as an account's erasure would
    deadline = time.monotonic() + 10
    while gone in snapshot.get().videos and time.monotonic() < deadline:
        time.sleep(0.05)  # the reload runs in a thread: requests meanwhile get the version they had
    assert gone in first.videos and gone not in snapshot.get().videos


def test_an_erased_creators_videos_leave_the_snapshot_at_once(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime
) -> None:
    """Erasure deletes the videos by cascade; the snapshot must drop them on the events, not at its next reload."""
    ben = signup(sqlite_client, "ben")
    ben_id = sqlite_client.get("/api/me", headers=ben).json()["id"]
    topics = seed_ready_videos(
        sqlite_rt, {f"{t}{i}": ben_id for t in ("cooking", "travel", "pets", "dance") for i in (0, 1)}
    )
    service = FeedService(sqlite_rt)
    assert set(service.snapshot.get().public) == set(topics)
    gone = sqlite_client.request("DELETE", "/api/me", headers=ben, json={"password": "correct horse battery"})
    assert gone.status_code == 200, gone.text
    deliver(sqlite_rt)
    after = service.snapshot.get()
    assert not set(topics) & set(after.videos), "an erased account's videos are still servable"
    assert service.for_you(None, 10, None)["items"] == []
