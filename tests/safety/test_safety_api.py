"""Trust and safety for users (issue 6 part B): birth dates, blocks, comment controls, private accounts,
13-15-year-olds and age-restricted videos — through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from sovereel.actions.blocks import block_user
from sovereel.governance.audit import pseudonym
from sovereel.queries.safety import today_utc
from sovereel.runtime.region import RegionRuntime
from sovereel.safety.rules import years_before
from sovereel.storage.models import AuditEntry, Block, SafetyLogEntry, User, Video
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip

pytestmark = pytest.mark.usefixtures("ffmpeg")
H = dict[str, str]


def aged(years: int) -> str:
    """The birth date of someone who turned `years` today."""
    return years_before(today_utc(), years).isoformat()


def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "c.mp4", duration_s=1.0)


def user_id(client: TestClient, headers: H) -> str:
    return str(client.get("/api/me", headers=headers).json()["id"])


def for_you_ids(client: TestClient, headers: H | None = None) -> set[str]:
    return {
        v["id"] for v in client.get("/api/feed/foryou", params={"limit": 20}, headers=headers or {}).json()["items"]
    }


def search(client: TestClient, q: str, headers: H | None = None) -> dict[str, list[str]]:
    found = client.get("/api/search", params={"q": q}, headers=headers or {}).json()
    return {"users": [u["username"] for u in found["users"]], "videos": [v["id"] for v in found["videos"]]}


def test_sign_up_asks_for_a_birth_date(client: TestClient, rt: RegionRuntime) -> None:
    body = {"username": "kid", "password": "long-enough-pw"}
    missing = client.post("/api/auth/signup", json=body)
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "birth_date_required"
    young = client.post("/api/auth/signup", json={**body, "birth_date": aged(12)})
    assert young.status_code == 422
    assert young.json()["error"] == {
        "code": "too_young",
        "message": "you must be at least 13 years old to create an account on sovereel",
    }
    future = client.post("/api/auth/signup", json={**body, "birth_date": "2999-01-01"})
    assert future.status_code == 422 and future.json()["error"]["code"] == "bad_birth_date"
    assert client.post("/api/auth/signup", json={**body, "birth_date": "not-a-date"}).status_code == 422
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0  # nothing stored for any refusal
    assert client.post("/api/auth/login", json=body).status_code == 401

    teen = signup(client, "teen", birth_date=aged(13))
    settings = client.get("/api/me/safety", headers=teen).json()
    assert (settings["age_group"], settings["is_private"], settings["birth_date"]) == ("13-15", True, aged(13))
    adult = signup(client, "adult")
    assert client.get("/api/me/safety", headers=adult).json()["is_private"] is False
    assert (
        client.get("/api/me/safety", headers=signup(client, "older_teen", birth_date=aged(16))).json()["age_group"]
        == "16-17"
    )


def test_blocking_hides_both_ways_and_ends_follows(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    ana, ben, carol = signup(client, "ana"), signup(client, "ben"), signup(client, "carol")
    c = clip(tmp_path)
    ana1 = upload(client, ana, c, "Pasta night #cooking").json()["id"]
    carol1 = upload(client, carol, c, "Garden tour #garden").json()["id"]
    assert process_all(rt) == 2
    assert client.post("/api/users/ana/follow", headers=ben).json() == {"following": True}
    assert client.post("/api/users/ben/follow", headers=ana).json() == {"following": True}
    client.post(f"/api/videos/{carol1}/comments", headers=ben, json={"body": "nice garden"})
    roses = client.post(f"/api/videos/{carol1}/comments", headers=ana, json={"body": "lovely roses"}).json()["id"]

    assert client.post("/api/users/ben/block", headers=ana).json() == {"blocked": True}
    assert client.post("/api/users/ben/block", headers=ana).status_code == 200  # idempotent
    assert client.get("/api/users/ana").json()["user"]["follower_count"] == 0
    assert client.get("/api/users/ana").json()["user"]["following_count"] == 0  # follows ended both ways
    assert client.get("/api/feed/following", headers=ben).json()["items"] == []

    # The blocked one: the profile and video are gone, and every interaction is refused with a reason.
    assert client.get("/api/users/ana", headers=ben).status_code == 404
    assert client.get(f"/api/videos/{ana1}", headers=ben).status_code == 404
    for method, path, body in [
        ("POST", "/api/users/ana/follow", None),
        ("POST", f"/api/videos/{ana1}/like", None),
        ("POST", f"/api/videos/{ana1}/comments", {"body": "hello?"}),
    ]:
        r = client.request(method, path, headers=ben, json=body)
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "blocked"
        assert "not available to you" in r.json()["error"]["message"]
    assert ana1 not in for_you_ids(client, ben)
    assert search(client, "pasta", ben)["videos"] == []
    assert "ana" not in search(client, "ana", ben)["users"]
    assert client.get("/api/hashtags/cooking", headers=ben).json()["videos"] == []
    # Comments: neither sees the other's, even under a third person's video.
    assert [x["body"] for x in client.get(f"/api/videos/{carol1}/comments", headers=ben).json()["comments"]] == [
        "nice garden"
    ]
    assert [x["body"] for x in client.get(f"/api/videos/{carol1}/comments", headers=ana).json()["comments"]] == [
        "lovely roses"
    ]
    assert len(client.get(f"/api/videos/{carol1}/comments").json()["comments"]) == 2  # others see both
    reply = client.post(f"/api/videos/{carol1}/comments", headers=ben, json={"body": "agreed", "parent_id": roses})
    assert reply.status_code == 404  # a blocked person's comment cannot be answered either

    # The blocker: a "blocked" state, and a clear refusal until they unblock.
    profile = client.get("/api/users/ben", headers=ana).json()
    assert profile["user"]["blocked_by_me"] is True and profile["videos"] == []
    refused = client.post("/api/users/ben/follow", headers=ana)
    assert refused.status_code == 403 and "unblock it" in refused.json()["error"]["message"]
    assert [b["username"] for b in client.get("/api/me/blocks", headers=ana).json()["blocks"]] == ["ben"]
    assert [b["username"] for b in client.get("/api/me/safety", headers=ana).json()["blocks"]] == ["ben"]
    assert client.get("/api/me/blocks", headers=ben).json()["blocks"] == []
    log = client.get("/api/me/safety-log", headers=ana).json()["entries"]
    assert log[0]["kind"] == "block" and log[0]["subject"] == "ben" and log[0]["detail"]["removed_follows"] == 2
    assert client.get("/api/me/safety-log", headers=ben).json()["entries"] == []  # not told who blocked them

    assert client.post("/api/users/ana/block", headers=ana).status_code == 422
    assert client.post("/api/users/nobody/block", headers=ana).status_code == 404
    assert client.post("/api/users/ben/block").status_code == 401
    with rt.db.transaction() as s:  # the report flow blocks inside its own transaction
        assert block_user(s, user_id(client, ana), user_id(client, ben), source="report") is False
        assert block_user(s, user_id(client, carol), user_id(client, ben), source="report") is True
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Block)) == 2
        assert s.scalar(select(func.count()).where(SafetyLogEntry.kind == "block")) == 2
        audited = list(s.scalars(select(AuditEntry).where(AuditEntry.kind == "account.block")))
    assert len(audited) == 1  # the API's block is in the audit log, under pseudonyms only
    assert audited[0].subject.startswith("user:p_") and user_id(client, ben) not in json.dumps(audited[0].detail)

    assert client.delete("/api/users/ben/block", headers=ana).json() == {"blocked": False}
    assert client.get(f"/api/videos/{ana1}", headers=ben).status_code == 200
    assert client.get("/api/users/ana", headers=ben).json()["user"]["followed_by_me"] is False  # follows stay ended
    assert client.post(f"/api/videos/{ana1}/like", headers=ben).status_code == 200


def test_comment_controls(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    ana, ben, carol = signup(client, "ana"), signup(client, "ben"), signup(client, "carol")
    vid = upload(client, ana, clip(tmp_path), "Ask me anything").json()["id"]
    assert process_all(rt) == 1
    client.post("/api/users/ana/follow", headers=ben)

    # Account-wide: followers only.
    settings = client.put("/api/me/safety", headers=ana, json={"comment_policy": "followers"}).json()
    assert settings["comment_policy"] == "followers"
    refused = client.post(f"/api/videos/{vid}/comments", headers=carol, json={"body": "hi"})
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "comments_restricted",
        "message": "only people who follow this creator can comment on this video",
    }
    listing = client.get(f"/api/videos/{vid}/comments", headers=carol).json()
    assert (listing["comment_policy"], listing["can_comment"]) == ("followers", False)
    assert client.post(f"/api/videos/{vid}/comments", headers=ben, json={"body": "first!"}).status_code == 201

    # Per video: no one (the creator still can); only the creator may change it.
    r = client.put(f"/api/videos/{vid}/comment-policy", headers=ana, json={"comment_policy": "no_one"})
    assert r.json() == {"video_id": vid, "comment_policy": "no_one"}
    off = client.post(f"/api/videos/{vid}/comments", headers=ben, json={"body": "again"})
    assert off.status_code == 403 and off.json()["error"]["message"] == "comments are turned off for this video"
    assert client.post(f"/api/videos/{vid}/comments", headers=ana, json={"body": "pinned note"}).status_code == 201
    assert (
        client.put(f"/api/videos/{vid}/comment-policy", headers=ben, json={"comment_policy": None}).status_code == 403
    )
    assert (
        client.put(f"/api/videos/{vid}/comment-policy", headers=ana, json={"comment_policy": "all"}).status_code == 422
    )
    assert client.put("/api/me/safety", headers=ana, json={"comment_policy": "nobody"}).status_code == 422
    client.put(f"/api/videos/{vid}/comment-policy", headers=ana, json={"comment_policy": None})
    client.put("/api/me/safety", headers=ana, json={"comment_policy": "everyone"})

    # Keyword filters: hidden from everyone but the author; the creator sees how many.
    saved = client.put("/api/me/safety", headers=ana, json={"comment_filters": ["Spoiler  Alert", "spoiler alert"]})
    assert saved.json()["comment_filters"] == ["spoiler alert"]
    hidden = client.post(f"/api/videos/{vid}/comments", headers=carol, json={"body": "Big SPOILER alert: he dies"})
    assert hidden.status_code == 201
    client.post(f"/api/videos/{vid}/comments", headers=carol, json={"body": "no spoilers here"})
    mine = client.get(f"/api/videos/{vid}/comments", headers=carol).json()["comments"]
    assert {c["body"]: c["hidden"] for c in mine}["Big SPOILER alert: he dies"] is True
    for viewer in (ben, None):
        bodies = [c["body"] for c in client.get(f"/api/videos/{vid}/comments", headers=viewer or {}).json()["comments"]]
        assert "Big SPOILER alert: he dies" not in bodies and "no spoilers here" in bodies
    creator_view = client.get(f"/api/videos/{vid}/comments", headers=ana).json()
    assert creator_view["hidden_count"] == 1
    assert "Big SPOILER alert: he dies" not in [c["body"] for c in creator_view["comments"]]
    assert client.get(f"/api/videos/{vid}/comments", headers=ben).json()["hidden_count"] is None
    assert client.put("/api/me/safety", headers=ana, json={"comment_filters": ["!!!"]}).status_code == 422
    many = [f"word{i}" for i in range(101)]
    assert client.put("/api/me/safety", headers=ana, json={"comment_filters": many}).status_code == 422

    # Delete: the creator any comment on their video (the author is told), others only their own.
    bens = next(c for c in creator_view["comments"] if c["body"] == "first!")
    assert bens["can_delete"] is True
    assert client.delete(f"/api/comments/{bens['id']}", headers=carol).status_code == 403
    assert client.delete(f"/api/comments/{bens['id']}", headers=ana).status_code == 204
    told = client.get("/api/me/safety-log", headers=ben).json()["entries"]
    assert told[0]["kind"] == "comment_removed" and told[0]["actor"] == "ana"
    assert told[0]["detail"]["excerpt"] == "first!"
    assert client.get(f"/api/videos/{vid}").json()["comment_count"] == 3


def test_private_accounts_take_follow_requests(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    ana, carol, dave, erin = (signup(client, n) for n in ("ana", "carol", "dave", "erin"))
    vid = upload(client, ana, clip(tmp_path), "Private life #diary").json()["id"]
    assert process_all(rt) == 1
    assert client.put("/api/me/safety", headers=ana, json={"is_private": True}).json()["is_private"] is True

    profile = client.get("/api/users/ana", headers=carol).json()
    assert (profile["user"]["access"], profile["user"]["is_private"], profile["videos"]) == ("private", True, [])
    assert client.get(f"/api/videos/{vid}", headers=carol).status_code == 404
    assert client.get(f"/api/videos/{vid}").status_code == 404
    assert vid not in for_you_ids(client, carol) and vid not in for_you_ids(client)
    assert client.get("/api/hashtags/diary", headers=carol).json()["videos"] == []

    assert client.post("/api/users/ana/follow", headers=carol).json() == {"following": False, "requested": True}
    assert client.get("/api/users/ana", headers=carol).json()["user"]["follow_requested"] is True
    assert [r["username"] for r in client.get("/api/me/follow-requests", headers=ana).json()["follow_requests"]] == [
        "carol"
    ]
    assert client.post("/api/me/follow-requests/carol", headers=ana).json() == {"approved": True}
    assert client.get(f"/api/videos/{vid}", headers=carol).status_code == 200
    assert vid in for_you_ids(client, carol)
    assert client.get("/api/users/ana").json()["user"]["follower_count"] == 1
    assert client.get("/api/me/safety-log", headers=carol).json()["entries"][0]["kind"] == "follow_approved"

    client.post("/api/users/ana/follow", headers=dave)
    assert client.delete("/api/me/follow-requests/dave", headers=ana).json() == {"approved": False}
    assert client.get("/api/me/safety-log", headers=dave).json()["entries"][0]["kind"] == "follow_declined"
    assert client.post("/api/me/follow-requests/dave", headers=ana).status_code == 404  # nothing waiting now

    client.post("/api/users/ana/follow", headers=erin)
    client.put("/api/me/safety", headers=ana, json={"is_private": False})  # going public approves who waited
    assert client.get("/api/users/ana", headers=erin).json()["user"]["followed_by_me"] is True
    assert client.get(f"/api/videos/{vid}", headers=dave).status_code == 200


def test_safety_setting_changes_are_audited_under_pseudonyms(
    client: TestClient, rt: RegionRuntime, tmp_path: Path
) -> None:
    ana, carol, dave = (signup(client, n) for n in ("ana", "carol", "dave"))
    ids = {name: user_id(client, h) for name, h in (("ana", ana), ("carol", carol), ("dave", dave))}
    vid = upload(client, ana, clip(tmp_path), "Hello").json()["id"]
    changes = {"is_private": True, "comment_policy": "followers", "comment_filters": ["zqspoiler alert"]}
    assert client.put("/api/me/safety", headers=ana, json=changes).status_code == 200
    assert client.put(f"/api/videos/{vid}/comment-policy", headers=ana, json={"comment_policy": "no_one"}).is_success
    client.post("/api/users/ana/follow", headers=carol)
    client.post("/api/users/ana/follow", headers=dave)
    assert client.post("/api/me/follow-requests/carol", headers=ana).json() == {"approved": True}
    assert client.delete("/api/me/follow-requests/dave", headers=ana).json() == {"approved": False}

    with rt.db.session() as s:
        audited = [e for e in s.scalars(select(AuditEntry).order_by(AuditEntry.idx)) if e.kind.startswith("account.")]
    alias = {name: f"user:{pseudonym(rt.settings.secret_key, uid)}" for name, uid in ids.items()}
    assert [(e.kind, e.subject, e.detail["by"]) for e in audited] == [
        ("account.privacy", alias["ana"], alias["ana"]),
        ("account.comment_policy", alias["ana"], alias["ana"]),
        ("account.comment_filters", alias["ana"], alias["ana"]),
        ("account.comment_policy", alias["ana"], alias["ana"]),
        ("account.follow_request", alias["ana"], alias["carol"]),
        ("account.follow_request", alias["ana"], alias["dave"]),
        ("account.follow_approved", alias["carol"], alias["ana"]),
        ("account.follow_declined", alias["dave"], alias["ana"]),
    ]
    assert audited[2].detail == {"by": alias["ana"], "count": 1}  # how many filters, never the words
    assert audited[3].detail["policy"] == "no_one" and audited[3].detail["video_id"] == vid
    logged = json.dumps([[e.subject, e.detail] for e in audited])
    assert "zqspoiler" not in logged and not any(uid in logged for uid in ids.values())


def test_young_users_are_not_discoverable_by_strangers(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    teen = signup(client, "teen_tom", birth_date=aged(14))
    stranger, friend = signup(client, "stranger"), signup(client, "friend")
    vid = upload(client, teen, clip(tmp_path), "My skate trick #skate").json()["id"]
    assert process_all(rt) == 1

    assert client.get("/api/users/teen_tom", headers=stranger).status_code == 404
    assert client.get("/api/users/teen_tom").status_code == 404
    assert "teen_tom" not in search(client, "teen", stranger)["users"]
    assert search(client, "skate", stranger)["videos"] == []
    assert vid not in for_you_ids(client, stranger) and vid not in for_you_ids(client)
    assert client.get(f"/api/videos/{vid}", headers=stranger).status_code == 404

    assert client.post("/api/users/teen_tom/follow", headers=friend).json()["requested"] is True
    client.post("/api/me/follow-requests/friend", headers=teen)
    assert client.get("/api/users/teen_tom", headers=friend).json()["videos"][0]["id"] == vid
    assert "teen_tom" in search(client, "teen", friend)["users"]
    assert vid in for_you_ids(client, friend)

    # Public by choice, still not discoverable: no search, no profile, no For You for strangers.
    client.put("/api/me/safety", headers=teen, json={"is_private": False})
    assert client.get("/api/users/teen_tom", headers=stranger).status_code == 404
    assert "teen_tom" not in search(client, "teen", stranger)["users"]
    assert vid not in for_you_ids(client, stranger)
    assert client.get("/api/hashtags/skate", headers=stranger).json()["videos"] == []
    assert client.get("/api/users/teen_tom", headers=teen).json()["user"]["is_me"] is True


def test_age_restricted_videos_need_an_adult_viewer(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> None:
    maker, adult, minor = signup(client, "maker"), signup(client, "adult"), signup(client, "minor", birth_date=aged(17))
    vid = upload(client, maker, clip(tmp_path), "Stunts, do not try #stunts").json()["id"]
    assert process_all(rt) == 1
    for follower in (adult, minor):
        client.post("/api/users/maker/follow", headers=follower)
    with rt.db.transaction() as s:  # what a moderator's "age-restrict" decision sets
        s.execute(update(Video).where(Video.id == vid).values(age_restricted=True))

    for viewer in (minor, None):
        r = client.get(f"/api/videos/{vid}", headers=viewer or {})
        assert r.status_code == 404 and r.json()["error"]["code"] == "age_restricted"
        assert vid not in for_you_ids(client, viewer)
        assert client.get("/api/hashtags/stunts", headers=viewer or {}).json()["videos"] == []
        assert search(client, "stunts", viewer)["videos"] == []
        assert client.get("/api/users/maker", headers=viewer or {}).json()["videos"] == []
    assert client.get("/api/feed/following", headers=minor).json()["items"] == []
    assert client.post(f"/api/videos/{vid}/like", headers=minor).status_code == 404
    page = client.get(f"/v/{vid}")
    assert page.status_code == 404 and "age-restricted" in page.text

    assert client.get(f"/api/videos/{vid}", headers=adult).json()["age_restricted"] is True
    assert vid in for_you_ids(client, adult)
    assert [v["id"] for v in client.get("/api/feed/following", headers=adult).json()["items"]] == [vid]
    assert search(client, "stunts", adult)["videos"] == [vid]
    assert client.get(f"/api/videos/{vid}", headers=maker).status_code == 200  # the creator always sees their own


def test_birth_date_defaults_and_edges() -> None:
    """Pure rules: ages across a birthday, 29 February, and the unknown birth date of internal accounts."""
    from sovereel.safety.rules import age_on, is_adult, is_protected_teen, matching_filter

    today = date(2026, 11, 21)
    assert age_on(date(2008, 11, 21), today) == 18 and age_on(date(2008, 11, 22), today) == 17
    assert years_before(date(2028, 2, 29), 18) == date(2010, 2, 28)
    assert is_adult(None, today) is False and is_protected_teen(None, today) is False
    assert is_protected_teen(date(2010, 11, 22), today) and not is_protected_teen(date(2010, 11, 21), today)
    assert matching_filter("So... SPOILER, alert!", ["spoiler alert"]) == "spoiler alert"
    assert matching_filter("spoilers alerted", ["spoiler alert"]) is None
