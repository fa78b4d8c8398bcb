"""Creator analytics through the real API: figures computed from watch events sent to POST /api/events, folded
by the analytics consumer off the real bus; the 10-viewer threshold; the creator-only rule; hostile ids."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sovereel.runtime.region import RegionRuntime
from tests.support.api import signup
from tests.support.counters import deliver, ready_video, user_id


def watch(
    client: TestClient, headers: dict[str, str], video_id: str, watched_s: float, *, complete: bool, source: str
) -> None:
    """One viewer's visit as the page reports it: a play, progress, then a skip or a complete."""
    now_ms = int(time.time() * 1000)

    def ev(kind: str, **extra: Any) -> dict[str, Any]:
        return {"client_id": uuid.uuid4().hex, "kind": kind, "video_id": video_id, "ts": now_ms, **extra}

    batch = [
        ev("impression", source=source),
        ev("play", position_s=0, source=source),
        ev("progress", watched_s=min(watched_s, 1.0), source=source),
        ev("complete" if complete else "skip", watched_s=watched_s, source=source),
    ]
    r = client.post("/api/events", headers=headers, json={"events": batch})
    assert r.status_code == 200, r.text


def audience(client: TestClient, video_id: str, plan: list[tuple[float, bool, str]]) -> list[dict[str, str]]:
    """A new viewer for each (watched_s, completed, source), who watches the video that way."""
    viewers = []
    for i, (watched_s, complete, source) in enumerate(plan):
        h = signup(client, f"viewer{i}_{uuid.uuid4().hex[:6]}")
        watch(client, h, video_id, watched_s, complete=complete, source=source)
        viewers.append(h)
    return viewers


# 12 viewers of a 10 s video: four watch to the end, four leave at 5.5 s, four at 2.2 s.
PLAN = (
    [(10.0, True, "foryou")] * 4
    + [(5.5, False, "foryou")] * 2
    + [(5.5, False, "profile")] * 2
    + [(2.2, False, "share")] * 3
    + [(2.2, False, "hashtag")]
)


@pytest.fixture
def creator(client: TestClient, rt: RegionRuntime) -> tuple[dict[str, str], str]:
    h = signup(client, "creator")
    return h, ready_video(rt, user_id(client, h), duration_s=10.0)


def test_figures_come_from_the_watch_events_sent(
    client: TestClient, rt: RegionRuntime, creator: tuple[dict[str, str], str]
) -> None:
    headers, vid = creator
    viewers = audience(client, vid, PLAN)
    # A replayed visit the same day adds neither a view nor a viewer, and no more watch time than its best.
    watch(client, viewers[0], vid, 10.0, complete=True, source="foryou")
    deliver(rt)
    r = client.get(f"/api/videos/{vid}/analytics", headers=headers)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["views"] == 12
    assert a["unique_viewers"] == 12
    assert a["watch_time_s"] == pytest.approx(4 * 10 + 4 * 5.5 + 4 * 2.2)
    assert a["average_watch_s"] == pytest.approx((40 + 22 + 8.8) / 12, abs=0.01)
    assert a["completion_rate"] == pytest.approx(4 / 12, abs=1e-3)
    assert a["breakdown_hidden"] is False
    curve = {p["second"]: p["share"] for p in a["retention"]}
    assert curve[0] == 1.0
    assert curve[2] == 1.0  # everyone got past two seconds
    assert curve[3] == pytest.approx(8 / 12, abs=1e-3)  # the 2.2 s leavers are gone
    assert curve[5] == pytest.approx(8 / 12, abs=1e-3)
    assert curve[6] == pytest.approx(4 / 12, abs=1e-3)  # the 5.5 s leavers too
    assert curve[10] == pytest.approx(4 / 12, abs=1e-3)  # those who finished
    assert sorted(curve) == list(range(11))
    sources = {x["source"]: x["views"] for x in a["sources"]}
    assert sources == {
        "foryou": 6, "following": 0, "profile": 2, "hashtag": 1, "search": 0, "share": 3, "other": 0,
    }  # fmt: skip
    assert sum(d["views"] for d in a["daily"]) == 12
    assert a["updated_at"] is not None and 0 <= a["updated_ago_s"] < 60


def test_likes_comments_shares_and_followers_it_brought(
    client: TestClient, rt: RegionRuntime, creator: tuple[dict[str, str], str]
) -> None:
    headers, vid = creator
    fan = signup(client, "fan")
    watch(client, fan, vid, 10.0, complete=True, source="following")
    assert client.post(f"/api/videos/{vid}/like", headers=fan).status_code == 200
    assert client.post(f"/api/videos/{vid}/comments", headers=fan, json={"body": "great"}).status_code == 201
    deliver(rt)  # the watch is folded before the follow that it wins
    assert client.post("/api/users/creator/follow", headers=fan).status_code == 200
    deliver(rt)
    a = client.get(f"/api/videos/{vid}/analytics", headers=headers).json()
    assert (a["likes"], a["comments"], a["new_followers"]) == (1, 1, 1)
    me = client.get("/api/me/analytics", headers=headers).json()
    assert me["followers"] == 1
    assert [p["days"] for p in me["periods"]] == [7, 28, 60]
    assert all(p["followers_gained"] == 1 and p["views"] == 1 for p in me["periods"])
    assert client.delete("/api/users/creator/follow", headers=fan).status_code == 200
    deliver(rt)
    me = client.get("/api/me/analytics", headers=headers).json()
    assert me["periods"][0]["followers_lost"] == 1 and me["followers"] == 0


def test_under_ten_viewers_no_breakdown_is_given(
    client: TestClient, rt: RegionRuntime, creator: tuple[dict[str, str], str]
) -> None:
    headers, vid = creator
    audience(client, vid, PLAN[:9])
    deliver(rt)
    a = client.get(f"/api/videos/{vid}/analytics", headers=headers).json()
    assert a["unique_viewers"] == 9 and a["views"] == 9
    assert a["breakdown_hidden"] is True and a["min_viewers"] == 10
    assert a["retention"] is None and a["sources"] is None and a["daily"] is None
    me = client.get("/api/me/analytics", headers=headers).json()
    assert me["breakdown_hidden"] is True and me["daily"] is None
    assert me["videos"][0]["unique_viewers"] == 9
    # The tenth viewer opens the breakdown.
    audience(client, vid, PLAN[9:10])
    deliver(rt)
    a = client.get(f"/api/videos/{vid}/analytics", headers=headers).json()
    assert a["breakdown_hidden"] is False and a["retention"][0]["share"] == 1.0
    assert client.get("/api/me/analytics", headers=headers).json()["daily"] is not None


def test_only_the_creator_sees_a_videos_analytics(
    client: TestClient, rt: RegionRuntime, creator: tuple[dict[str, str], str]
) -> None:
    _headers, vid = creator
    other = signup(client, "someone")
    r = client.get(f"/api/videos/{vid}/analytics", headers=other)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert client.get(f"/api/videos/{vid}/analytics").status_code == 401
    assert client.get("/api/me/analytics").status_code == 401
    # The other user's own analytics say nothing of the creator's video.
    assert client.get("/api/me/analytics", headers=other).json()["videos"] == []


@pytest.mark.parametrize(
    "video_id",
    ["nope", "x" * 32, "%27%20OR%201%3D1--", "..%2F..%2Fetc", "%F0%9F%92%A9", "a%00b"],
)
def test_hostile_ids_are_404(client: TestClient, creator: tuple[dict[str, str], str], video_id: str) -> None:
    headers, _vid = creator
    r = client.get(f"/api/videos/{video_id}/analytics", headers=headers)
    assert r.status_code in (404, 422), r.text
    assert "error" in r.json()


def test_too_long_id_is_422(client: TestClient, creator: tuple[dict[str, str], str]) -> None:
    headers, _vid = creator
    assert client.get(f"/api/videos/{'x' * 33}/analytics", headers=headers).status_code == 422


def test_an_unknown_source_is_refused(client: TestClient, creator: tuple[dict[str, str], str]) -> None:
    _headers, vid = creator
    viewer = signup(client, "viewer")
    ev = {"client_id": uuid.uuid4().hex, "kind": "play", "video_id": vid, "ts": int(time.time() * 1000)}
    r = client.post("/api/events", headers=viewer, json={"events": [{**ev, "source": "evil"}]})
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("referer", "source"),
    [
        (None, "share"),
        ("https://elsewhere.example/@creator", "share"),
        ("http://testserver/@creator", "profile"),
        ("http://testserver/tag/sunsets", "hashtag"),
        ("http://testserver/search?q=sun", "search"),
        ("http://testserver/?tab=following", "following"),
    ],
)
def test_a_video_page_tells_its_player_where_it_was_opened_from(
    client: TestClient, creator: tuple[dict[str, str], str], referer: str | None, source: str
) -> None:
    _headers, vid = creator
    r = client.get(f"/v/{vid}", headers={"referer": referer} if referer else {})
    assert r.status_code == 200
    assert f'"view_source": "{source}"' in r.text
