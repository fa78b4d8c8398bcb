"""The inbox (issue 16): each kind of notification, each rule, paging, mark read, settings and data rights.

Real SQLite (and PostgreSQL when reachable) through the real API; videos are inserted ready (their media is not
the subject here), but for the caption mention, which goes through a real upload and transcode.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from sovereel.actions.moderation import do_moderate
from sovereel.governance.residency import scan_store, user_columns
from sovereel.governance.rights import collect_user_data
from sovereel.ids import new_id
from sovereel.queries.safety import today_utc
from sovereel.runtime.region import RegionRuntime
from sovereel.safety.rules import years_before
from sovereel.storage.models import Notification, User, Video
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip

H = dict[str, str]


def uid(rt: RegionRuntime, username: str) -> str:
    with rt.db.session() as s:
        user_id = s.scalar(select(User.id).where(User.username_key == username))
        assert user_id is not None
        return user_id


def video(rt: RegionRuntime, creator: str, caption: str = "a clip", visibility: str = "public") -> str:
    """A ready video of `creator`, inserted as the transcoder leaves it."""
    vid = new_id()
    with rt.db.transaction() as s:
        s.add(
            Video(id=vid, region=rt.region, creator_id=uid(rt, creator), caption=caption, visibility=visibility,
                  status="ready", duration_s=5.0, width=360, height=640, original_name="x.mp4", renditions={},
                  created_at=time.time(), ready_at=time.time())
        )  # fmt: skip
    return vid


def inbox(client: TestClient, headers: H, **params: Any) -> dict[str, Any]:
    r = client.get("/api/me/notifications", headers=headers, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def texts(client: TestClient, headers: H) -> list[str]:
    return [item["text"] for item in inbox(client, headers)["items"]]


def teen_birth_date() -> str:
    return years_before(today_utc(), 14).isoformat()


def test_likes_are_grouped_count_current_likers_and_unlike_takes_back(client: TestClient, rt: RegionRuntime) -> None:
    ana = signup(client, "ana")
    ben, cat = signup(client, "ben"), signup(client, "cat")
    vid = video(rt, "ana")
    assert client.post(f"/api/videos/{vid}/like", headers=ben).status_code == 200
    assert texts(client, ana) == ["@ben liked your video"]
    client.post(f"/api/videos/{vid}/like", headers=cat)
    page = inbox(client, ana)
    assert [i["text"] for i in page["items"]] == ["@cat and 1 other liked your video"]
    assert page["items"][0]["actor"]["username"] == "cat" and page["items"][0]["others"] == 1
    assert page["unread"] == 1  # one item, however many likes it groups
    client.delete(f"/api/videos/{vid}/like", headers=cat)
    assert texts(client, ana) == ["@ben liked your video"]  # no stale "cat liked"
    client.delete(f"/api/videos/{vid}/like", headers=ben)
    assert inbox(client, ana) == {"items": [], "next_cursor": None, "unread": 0}


def test_comments_replies_and_mentions_each_tell_the_right_person_once(client: TestClient, rt: RegionRuntime) -> None:
    ana, ben, cat = signup(client, "ana"), signup(client, "ben"), signup(client, "cat")
    dan = signup(client, "dan")
    vid = video(rt, "ana")
    r = client.post(f"/api/videos/{vid}/comments", headers=ben, json={"body": "lovely @dan @ana"})
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    ana_items = inbox(client, ana)["items"]
    assert [(i["kind"], i["text"]) for i in ana_items] == [("comment", "@ben commented on your video")]
    assert ana_items[0]["comment_excerpt"] == "lovely @dan @ana" and ana_items[0]["video_id"] == vid
    assert texts(client, dan) == ["@ben mentioned you"]
    client.post(f"/api/videos/{vid}/comments", headers=cat, json={"body": "agreed", "parent_id": first})
    assert texts(client, ben) == ["@cat replied to your comment"]
    assert texts(client, ana)[0] == "@cat commented on your video"
    assert inbox(client, cat)["items"] == []
    # A comment the creator's keyword filters hide tells no one (not the creator, not those it mentions).
    client.put("/api/me/safety", headers=ana, json={"comment_filters": ["spoiler"]})
    r = client.post(f"/api/videos/{vid}/comments", headers=cat, json={"body": "spoiler: @dan dies"})
    assert r.status_code == 201, r.text
    assert texts(client, ana)[0] == "@cat commented on your video" and len(texts(client, ana)) == 2
    assert texts(client, dan) == ["@ben mentioned you"]


def test_caption_mentions_are_told_when_the_video_is_ready(
    client: TestClient, rt: RegionRuntime, tmp_path: Path, ffmpeg: None
) -> None:
    ana, ben = signup(client, "ana"), signup(client, "ben")
    clip = make_clip(tmp_path / "c.mp4", width=160, height=288, duration_s=1.0)
    r = upload(client, ana, clip, caption="with @ben #fun")
    assert r.status_code in (201, 202), r.text
    assert inbox(client, ben)["items"] == []  # not while it transcodes: ben could not open it yet
    assert process_all(rt) == 1
    items = inbox(client, ben)["items"]
    assert [(i["kind"], i["text"], i["video_id"]) for i in items] == [("mention", "@ana mentioned you", r.json()["id"])]


def test_follows_requests_and_their_answers(client: TestClient, rt: RegionRuntime) -> None:
    ana, ben, cat = signup(client, "ana"), signup(client, "ben"), signup(client, "cat")
    client.post("/api/users/ana/follow", headers=ben)
    assert texts(client, ana) == ["@ben started following you"]
    client.delete("/api/users/ana/follow", headers=ben)
    assert texts(client, ana) == []  # an unfollow takes its notice back
    client.put("/api/me/safety", headers=ana, json={"is_private": True})
    client.post("/api/users/ana/follow", headers=ben)
    client.post("/api/users/ana/follow", headers=cat)
    assert texts(client, ana) == ["@cat asked to follow you", "@ben asked to follow you"]
    assert client.post("/api/me/follow-requests/ben", headers=ana).status_code == 200
    assert client.delete("/api/me/follow-requests/cat", headers=ana).status_code == 200
    assert texts(client, ben) == ["@ana accepted your follow request"]
    assert texts(client, cat) == ["@ana declined your follow request"]
    assert texts(client, ana) == []  # answered requests leave the inbox


def test_moderation_notices_show_in_the_inbox_and_reading_one_reads_the_notice(
    client: TestClient, rt: RegionRuntime
) -> None:
    ana = signup(client, "ana")
    signup(client, "mod")
    vid = video(rt, "ana")
    with rt.db.transaction() as s:
        s.execute(update(User).where(User.username_key == "mod").values(role="moderator"))
    with rt.db.session() as s:
        mod = s.scalar(select(User).where(User.username_key == "mod"))
    assert mod is not None
    do_moderate(rt.db, audit_secret=rt.settings.secret_key, moderator=mod, target_kind="video", target_id=vid,
                action="not_for_you", reason="spammy")  # fmt: skip
    items = inbox(client, ana)["items"]
    assert [i["kind"] for i in items] == ["moderation"] and items[0]["actor"] is None
    assert "will not be recommended" in items[0]["text"] and "spammy" in items[0]["text"]
    assert client.post(f"/api/me/notifications/{items[0]['id']}/read", headers=ana).json() == {"unread": 0}
    notices = client.get("/api/me/notices", headers=ana).json()["notices"]
    assert [n["read"] for n in notices] == [True]
    # Appealing a notice (where it lives) reads its inbox item as well.
    do_moderate(rt.db, audit_secret=rt.settings.secret_key, moderator=mod, target_kind="video", target_id=vid,
                action="remove", reason="broke the rules")  # fmt: skip
    assert inbox(client, ana)["unread"] == 1
    notice = next(n for n in client.get("/api/me/notices", headers=ana).json()["notices"] if not n["read"])
    r = client.post(f"/api/me/notices/{notice['id']}/appeal", headers=ana, json={"body": "it did not"})
    assert r.status_code in (200, 201), r.text
    assert inbox(client, ana)["unread"] == 0


def test_blocks_remove_notifications_both_ways_and_refuse_new_ones(client: TestClient, rt: RegionRuntime) -> None:
    ana, ben = signup(client, "ana"), signup(client, "ben")
    vid_a, vid_b = video(rt, "ana"), video(rt, "ben")
    client.post(f"/api/videos/{vid_a}/like", headers=ben)
    client.post(f"/api/videos/{vid_b}/like", headers=ana)
    assert texts(client, ana) and texts(client, ben)
    assert client.post("/api/users/ben/block", headers=ana).status_code == 200
    assert inbox(client, ana)["unread"] == 0 and texts(client, ana) == [] and texts(client, ben) == []
    assert client.post(f"/api/videos/{vid_a}/like", headers=ben).status_code == 403
    client.delete("/api/users/ben/block", headers=ana)
    assert texts(client, ana) == []  # nothing comes back on unblocking


def test_nothing_reveals_a_private_accounts_video_to_someone_who_may_not_see_it(
    client: TestClient, rt: RegionRuntime
) -> None:
    ana, ben, cat = signup(client, "ana"), signup(client, "ben"), signup(client, "cat")
    client.put("/api/me/safety", headers=ana, json={"is_private": True})
    client.post("/api/users/ana/follow", headers=ben)
    client.post("/api/me/follow-requests/ben", headers=ana)
    vid = video(rt, "ana")
    r = client.post(f"/api/videos/{vid}/comments", headers=ben, json={"body": "look @cat"})
    assert r.status_code == 201, r.text
    assert texts(client, cat) == []  # cat may not see ana's videos: not told of a comment there
    assert texts(client, ana)[0] == "@ben commented on your video"
    # A mention cat was told of disappears when the video becomes one cat may not see.
    pub = video(rt, "ben")
    client.post(f"/api/videos/{pub}/comments", headers=ana, json={"body": "hi @cat"})
    assert texts(client, cat) == ["@ana mentioned you"]
    with rt.db.transaction() as s:
        s.execute(update(Video).where(Video.id == pub).values(moderation_state="removed"))
    assert texts(client, cat) == [] and inbox(client, cat)["unread"] == 0


def test_a_protected_teen_hears_only_from_followers_they_approved(client: TestClient, rt: RegionRuntime) -> None:
    teen = signup(client, "tia", birth_date=teen_birth_date())
    stranger, friend = signup(client, "sam"), signup(client, "fay")
    client.post("/api/users/tia/follow", headers=stranger)  # a request: strangers cannot ping a young teen
    client.post("/api/users/tia/follow", headers=friend)
    assert texts(client, teen) == []
    assert client.post("/api/me/follow-requests/fay", headers=teen).status_code == 200
    assert texts(client, friend) == ["@tia accepted your follow request"]
    vid = video(rt, "tia")
    client.post(f"/api/videos/{vid}/like", headers=friend)
    assert texts(client, teen) == ["@fay liked your video"]
    # The teen's own activity is not shown to a stranger either.
    sams = video(rt, "sam")
    client.post(f"/api/videos/{sams}/like", headers=teen)
    assert texts(client, stranger) == []


def test_suspended_accounts_do_not_notify_and_self_actions_never_do(client: TestClient, rt: RegionRuntime) -> None:
    ana, ben, cat = signup(client, "ana"), signup(client, "ben"), signup(client, "cat")
    vid = video(rt, "ana")
    client.post(f"/api/videos/{vid}/like", headers=ana)
    client.post(f"/api/videos/{vid}/comments", headers=ana, json={"body": "my own @ana"})
    assert texts(client, ana) == []
    client.post(f"/api/videos/{vid}/like", headers=cat)
    with rt.db.transaction() as s:
        s.execute(update(User).where(User.username_key.in_(["ben", "cat"])).values(suspended_at=time.time()))
    client.post(f"/api/videos/{vid}/like", headers=ben)
    client.post("/api/users/ana/follow", headers=ben)
    assert texts(client, ana) == []  # cat's earlier like is hidden too while cat is suspended
    assert inbox(client, ana)["unread"] == 0


def test_per_kind_settings_turn_a_kind_off_and_refuse_unknown_ones(client: TestClient, rt: RegionRuntime) -> None:
    ana, ben = signup(client, "ana"), signup(client, "ben")
    r = client.get("/api/me/notification-settings", headers=ana)
    assert r.json() == dict.fromkeys(("likes", "comments", "replies", "mentions", "followers", "follow_requests"), True)
    r = client.put("/api/me/notification-settings", headers=ana, json={"likes": False})
    assert r.status_code == 200 and r.json()["likes"] is False and r.json()["comments"] is True
    vid = video(rt, "ana")
    client.post(f"/api/videos/{vid}/like", headers=ben)
    client.post(f"/api/videos/{vid}/comments", headers=ben, json={"body": "nice"})
    assert [i["kind"] for i in inbox(client, ana)["items"]] == ["comment"]
    assert client.put("/api/me/notification-settings", headers=ana, json={"moderation": False}).status_code == 422
    assert client.put("/api/me/notification-settings", headers=ana, json={"likes": "maybe"}).status_code == 422


def test_cursor_paging_and_hostile_parameters(client: TestClient, rt: RegionRuntime) -> None:
    ana = signup(client, "ana")
    for i in range(5):
        client.post("/api/users/ana/follow", headers=signup(client, f"fan{i}"))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = inbox(client, ana, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [i["text"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == [f"@fan{i} started following you" for i in reversed(range(5))]
    for bad in ("nope", "' OR 1=1 --", "Z" * 26, "x" * 65):
        r = client.get("/api/me/notifications", headers=ana, params={"cursor": bad})
        assert r.status_code == 422, (bad, r.text)
    for limit in (0, -1, 101, "ten"):
        assert client.get("/api/me/notifications", headers=ana, params={"limit": limit}).status_code == 422
    assert client.get("/api/me/notifications").status_code == 401


def test_mark_read_mark_all_read_and_other_peoples_ids(client: TestClient, rt: RegionRuntime) -> None:
    ana, ben = signup(client, "ana"), signup(client, "ben")
    for i in range(3):
        client.post("/api/users/ana/follow", headers=signup(client, f"fan{i}"))
    items = inbox(client, ana)["items"]
    assert client.get("/api/me/notifications/unread", headers=ana).json() == {"unread": 3}
    assert client.post(f"/api/me/notifications/{items[0]['id']}/read", headers=ana).json() == {"unread": 2}
    assert [i["read"] for i in inbox(client, ana)["items"]] == [True, False, False]
    assert client.post(f"/api/me/notifications/{items[1]['id']}/read", headers=ben).status_code == 404
    assert client.post(f"/api/me/notifications/{new_id()}/read", headers=ana).status_code == 404
    assert client.post("/api/me/notifications/..%2F..%2Fetc/read", headers=ana).status_code == 404
    assert client.post("/api/me/notifications/read-all", headers=ana).json() == {"unread": 0}
    assert client.get("/api/me/notifications/unread", headers=ana).json() == {"unread": 0}


def test_the_nav_shows_the_unread_count_on_every_page(client: TestClient, rt: RegionRuntime) -> None:
    ana, ben = signup(client, "ana"), signup(client, "ben")
    client.post("/api/users/ana/follow", headers=ben)
    token = ana["Authorization"].split(" ", 1)[1]
    client.cookies.set("sovereel_session", token)
    for path in ("/inbox", "/search", "/@ben"):
        html = client.get(path).text
        assert 'data-testid="unread-badge"' in html and 'aria-label="1 unread">1</span>' in html, path
    client.cookies.clear()
    assert client.get("/inbox", follow_redirects=False).headers["location"] == "/login?next=/inbox"


def test_export_holds_the_inbox_and_erasure_removes_it_as_recipient_and_actor(
    client: TestClient, rt: RegionRuntime
) -> None:
    ana, ben, cat = signup(client, "ana"), signup(client, "ben"), signup(client, "cat")
    vid = video(rt, "ana")
    client.post(f"/api/videos/{vid}/like", headers=ben)
    client.post("/api/users/ana/follow", headers=cat)
    client.put("/api/me/notification-settings", headers=ana, json={"mentions": False})
    with rt.db.session() as s:
        data = collect_user_data(s, uid(rt, "ana"))["notifications"]
    assert sorted((r["kind"], r["from"]) for r in data["received"]) == [("follow", "cat"), ("like", "ben")]
    assert data["turned_off"] == ["mentions"]
    r = client.request("DELETE", "/api/me", headers=ben, json={"password": "correct horse battery"})
    assert r.status_code == 200, r.text
    assert texts(client, ana) == ["@cat started following you"]  # the erased actor's notification went with them
    ana_id = uid(rt, "ana")
    client.request("DELETE", "/api/me", headers=ana, json={"password": "correct horse battery"})
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 0
        assert s.scalar(select(func.count()).where(Notification.user_id == ana_id)) == 0


def test_the_residency_scan_covers_the_inbox(client: TestClient, rt: RegionRuntime) -> None:
    assert {("notifications", "user_id"), ("notifications", "actor_id")} <= set(user_columns())
    signup(client, "ana")
    ben = signup(client, "ben")
    client.post("/api/users/ana/follow", headers=ben)
    foreign = "0" * 24 + "zz"
    with rt.db.session() as s:
        report = scan_store(s, rt.region, [foreign])
        assert report.ok and report.rows_scanned["notifications"] == 1
