"""Follows, likes, comments, shares, feeds, search and watch events — on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sovereel.events.relay import relay_once
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Event, OutboxMessage
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip

pytestmark = pytest.mark.usefixtures("ffmpeg")


@pytest.fixture
def world(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> dict[str, object]:
    """Two creators with ready videos, and a viewer."""
    ana, ben, viewer = signup(client, "ana"), signup(client, "ben"), signup(client, "viewer")
    clip = make_clip(tmp_path / "c.mp4", duration_s=1.0)
    vids = {
        "ana1": upload(client, ana, clip, "Pasta night #cooking #food").json()["id"],
        "ana2": upload(client, ana, clip, "Followers only #cooking", visibility="followers").json()["id"],
        "ben1": upload(client, ben, clip, "Mountain trail #travel <script>alert(1)</script>").json()["id"],
    }
    assert process_all(rt) == 3
    return {"ana": ana, "ben": ben, "viewer": viewer, **vids}


def h(world: dict[str, object], name: str) -> dict[str, str]:
    value = world[name]
    assert isinstance(value, dict)
    return value


def test_follow_and_following_feed(client: TestClient, world: dict[str, object]) -> None:
    viewer = h(world, "viewer")
    assert client.get("/api/feed/following", headers=viewer).json()["items"] == []
    assert client.get(f"/api/videos/{world['ana2']}", headers=viewer).status_code == 404
    assert client.post("/api/users/ana/follow", headers=viewer).json() == {"following": True}
    assert client.post("/api/users/ana/follow", headers=viewer).status_code == 200  # idempotent
    assert client.get("/api/users/ana").json()["user"]["follower_count"] == 1
    items = client.get("/api/feed/following", headers=viewer).json()["items"]
    assert [v["id"] for v in items] == [world["ana2"], world["ana1"]]  # newest first, followers-only now visible
    assert client.post("/api/users/viewer/follow", headers=viewer).status_code == 422
    assert client.post("/api/users/nobody/follow", headers=viewer).status_code == 404
    assert client.delete("/api/users/ana/follow", headers=viewer).json() == {"following": False}
    assert client.get("/api/users/ana").json()["user"]["follower_count"] == 0
    assert client.get("/api/feed/following", headers=viewer).json()["items"] == []


def test_likes_comments_replies_shares(client: TestClient, world: dict[str, object]) -> None:
    viewer, ana = h(world, "viewer"), h(world, "ana")
    vid = world["ana1"]
    assert client.post(f"/api/videos/{vid}/like", headers=viewer).json() == {"liked": True, "like_count": 1}
    assert client.post(f"/api/videos/{vid}/like", headers=viewer).json()["like_count"] == 1
    assert client.get(f"/api/videos/{vid}", headers=viewer).json()["liked"] is True
    assert client.delete(f"/api/videos/{vid}/like", headers=viewer).json() == {"liked": False, "like_count": 0}

    top = client.post(f"/api/videos/{vid}/comments", headers=viewer, json={"body": "Looks <b>great</b>"})
    assert top.status_code == 201
    reply = client.post(
        f"/api/videos/{vid}/comments", headers=ana, json={"body": "thanks!", "parent_id": top.json()["id"]}
    )
    assert reply.status_code == 201
    deeper = client.post(
        f"/api/videos/{vid}/comments", headers=viewer, json={"body": "x", "parent_id": reply.json()["id"]}
    )
    assert deeper.status_code == 422
    listing = client.get(f"/api/videos/{vid}/comments").json()["comments"]
    assert listing[0]["body"] == "Looks <b>great</b>"  # stored verbatim; pages escape it
    assert [r["body"] for r in listing[0]["replies"]] == ["thanks!"]
    assert client.get(f"/api/videos/{vid}").json()["comment_count"] == 2
    assert client.delete(f"/api/comments/{top.json()['id']}", headers=h(world, "ben")).status_code == 403
    assert client.post(f"/api/videos/{vid}/comments", headers=viewer, json={"body": "   "}).status_code == 422
    assert client.post(f"/api/videos/{vid}/comments", headers=viewer, json={"body": "x" * 1001}).status_code == 422
    assert client.delete(f"/api/comments/{top.json()['id']}", headers=viewer).status_code == 204
    assert client.get(f"/api/videos/{vid}/comments").json()["comments"] == []
    assert client.get(f"/api/videos/{vid}").json()["comment_count"] == 0

    shared = client.post(f"/api/videos/{vid}/share", headers=viewer, json={"channel": "link"}).json()
    assert shared == {"share_count": 1, "url": f"/v/{vid}"}


def test_search_and_hashtags(client: TestClient, world: dict[str, object]) -> None:
    found = client.get("/api/search", params={"q": "past"}).json()
    assert [v["id"] for v in found["videos"]] == [world["ana1"]]
    assert client.get("/api/search", params={"q": "an"}).json()["users"][0]["username"] == "ana"
    tags = client.get("/api/search", params={"q": "cook"}).json()["hashtags"]
    assert tags[0]["tag"] == "cooking"
    assert client.get("/api/search", params={"q": "followers"}).json()["videos"] == []  # followers-only hidden
    assert client.get("/api/search", params={"q": '"); DROP TABLE videos; --'}).status_code == 200
    assert [v["id"] for v in client.get("/api/hashtags/travel").json()["videos"]] == [world["ben1"]]
    assert client.get("/api/hashtags/nosuchtag").status_code == 404


def test_for_you_excludes_watched_and_pages_do_not_repeat(client: TestClient, world: dict[str, object]) -> None:
    viewer = h(world, "viewer")
    first = client.get("/api/feed/foryou", params={"limit": 1}, headers=viewer).json()
    assert len(first["items"]) == 1
    assert first["items"][0]["reason"]["explanation"]
    second = client.get("/api/feed/foryou", params={"limit": 1, "cursor": first["next_cursor"]}, headers=viewer).json()
    assert second["items"][0]["id"] != first["items"][0]["id"]
    public = {world["ana1"], world["ben1"]}
    assert {first["items"][0]["id"], second["items"][0]["id"]} == public

    now_ms = int(time.time() * 1000)
    watched = world["ben1"]
    r = client.post(
        "/api/events",
        headers=viewer,
        json={
            "events": [
                {"client_id": "watch-0001", "kind": "complete", "video_id": watched, "ts": now_ms, "watched_s": 1.0}
            ]
        },
    )
    assert r.json() == {"accepted": 1, "duplicates": 0}
    fresh = client.get("/api/feed/foryou", params={"limit": 1}, headers=viewer).json()
    assert fresh["items"][0]["id"] == world["ana1"]  # the watched one waits until everything else was seen
    anonymous = client.get("/api/feed/foryou", params={"limit": 10}).json()
    assert {v["id"] for v in anonymous["items"]} == public


def _count(rt: RegionRuntime, model: type) -> int:
    with rt.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_event_batches_are_stored_once_and_relayed(
    client: TestClient, rt: RegionRuntime, world: dict[str, object]
) -> None:
    viewer = h(world, "viewer")
    now_ms = int(time.time() * 1000)
    batch = {
        "events": [
            {"client_id": f"evt-{i:05d}", "kind": kind, "video_id": world["ana1"], "ts": now_ms, "watched_s": 0.5}
            for i, kind in enumerate(["impression", "play", "progress", "skip"])
        ]
    }
    assert client.post("/api/events", headers=viewer, json=batch).json() == {"accepted": 4, "duplicates": 0}
    assert client.post("/api/events", headers=viewer, json=batch).json() == {"accepted": 0, "duplicates": 4}
    assert _count(rt, Event) == 4
    assert client.get(f"/api/videos/{world['ana1']}").json()["view_count"] == 1

    seen: list[dict[str, object]] = []
    rt.bus.subscribe("watch.", lambda m: seen.append(m.payload))
    while relay_once(rt.db, rt.bus):
        pass
    assert [e["kind"] for p in seen for e in p["events"]] == ["impression", "play", "progress", "skip"]  # type: ignore[union-attr]
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).where(OutboxMessage.delivered_at.is_(None))) == 0


BAD_BATCHES: list[tuple[str, list[dict[str, object]], int]] = [
    ("wrong type", [{"client_id": "evt-00001", "kind": "play", "video_id": "V", "ts": "yesterday"}], 422),
    ("unknown kind", [{"client_id": "evt-00001", "kind": "teleport", "video_id": "V", "ts": "NOW"}], 422),
    ("future time", [{"client_id": "evt-00001", "kind": "play", "video_id": "V", "ts": "FUTURE"}], 422),
    ("unknown video", [{"client_id": "evt-00001", "kind": "play", "video_id": "missing", "ts": "NOW"}], 422),
    ("bad client id", [{"client_id": "bad id!", "kind": "play", "video_id": "V", "ts": "NOW"}], 422),
    ("extra field", [{"client_id": "evt-00001", "kind": "play", "video_id": "V", "ts": "NOW", "extra": 1}], 422),
    ("negative", [{"client_id": "evt-00001", "kind": "play", "video_id": "V", "ts": "NOW", "watched_s": -3}], 422),
    (
        "10,000 events",
        [{"client_id": f"evt-{i:05d}", "kind": "play", "video_id": "V", "ts": "NOW"} for i in range(10_000)],
        413,
    ),
    (
        "mixed good and bad",
        [
            {"client_id": "evt-00001", "kind": "play", "video_id": "V", "ts": "NOW"},
            {"client_id": "evt-00002", "kind": "play", "video_id": "V", "ts": "FUTURE"},
        ],
        422,
    ),
]


def test_malformed_event_batches_are_refused_whole(
    client: TestClient, rt: RegionRuntime, world: dict[str, object]
) -> None:
    now_ms = int(time.time() * 1000)
    for label, events, status in BAD_BATCHES:
        body = [
            {
                **e,
                "video_id": world["ana1"] if e["video_id"] == "V" else e["video_id"],
                "ts": {"NOW": now_ms, "FUTURE": now_ms + 86_400_000}.get(str(e["ts"]), e["ts"]),
            }
            for e in events
        ]
        r = client.post("/api/events", headers=h(world, "viewer"), json={"events": body})
        assert r.status_code == status, (label, r.text)
        assert r.json()["error"]["message"], label
        assert _count(rt, Event) == 0, label
    assert client.post("/api/events", json={"events": []}).status_code == 401
    assert client.post("/api/events", headers=h(world, "viewer"), content=b"{not json").status_code == 422


def test_concurrent_event_batches_do_not_deadlock(
    client: TestClient, rt: RegionRuntime, world: dict[str, object]
) -> None:
    """Batches that play the same videos in opposite orders all land (PostgreSQL would abort one on a deadlock)."""
    import threading

    from sovereel.actions.watch import WatchEvent, do_record_events

    viewers = [client.get("/api/me", headers=signup(client, f"fan{i}")).json()["id"] for i in range(6)]
    videos = [str(world["ana1"]), str(world["ben1"])]
    errors: list[BaseException] = []

    def play(user_id: str, order: list[str]) -> None:
        try:
            for round_ in range(5):
                batch = [WatchEvent(f"{user_id[-6:]}-{round_}-{v}", "play", v, time.time()) for v in order]
                do_record_events(rt.db, user_id=user_id, events=batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=play, args=(uid, videos if i % 2 else videos[::-1])) for i, uid in enumerate(viewers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for vid in videos:
        # Each viewer played each video five times: a view counts once per viewer, video and day (issue 14).
        assert client.get(f"/api/videos/{vid}").json()["view_count"] == len(viewers)
