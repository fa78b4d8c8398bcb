"""Trust and safety through the API: reports, permissions, decisions, notices, appeals, re-upload blocking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sovereel.foryou.readers import video_infos
from sovereel.governance.audit import pseudonym
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import AuditEntry
from tests.governance.test_oversight import make_overseer
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip
from tests.support.moderation import distinct_clip, moderator, reencoded_copy, relay_all

pytestmark = pytest.mark.usefixtures("ffmpeg")


@pytest.fixture
def world(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> dict[str, Any]:
    """A creator with a public and a private video, a viewer who follows her, a second viewer, a moderator."""
    ana, ben, cat = signup(client, "ana"), signup(client, "ben"), signup(client, "cat")
    clip = make_clip(tmp_path / "c.mp4", duration_s=1.0)
    public = upload(client, ana, clip, "Street food tour #food").json()["id"]
    private = upload(client, ana, clip, "My diary", visibility="private").json()["id"]
    assert process_all(rt) == 2
    assert client.post("/api/users/ana/follow", headers=ben).status_code == 200
    return {"ana": ana, "ben": ben, "cat": cat, "mod": moderator(client, rt), "public": public, "private": private}


def report(client: TestClient, headers: dict[str, str], kind: str, target: str, reason: str = "spam", **kw: Any) -> Any:
    return client.post(
        "/api/reports", headers=headers, json={"target_kind": kind, "target_id": target, "reason": reason, **kw}
    )


def act(
    client: TestClient, headers: dict[str, str], kind: str, target: str, action: str, reason: str = "Rule 3"
) -> Any:
    body = {"target_kind": kind, "target_id": target, "action": action, "reason": reason}
    return client.post("/api/moderation/actions", headers=headers, json=body)


def where_shown(client: TestClient, vid: str, headers: dict[str, str] | None) -> dict[str, bool]:
    """Where the world's public video reaches a viewer: page, media, profile, hashtag, search, For You."""
    h = headers or {}
    return {
        "video": client.get(f"/api/videos/{vid}", headers=h).status_code == 200,
        "media": client.get(f"/api/videos/{vid}/media/360", headers=h).status_code == 200,
        "page": client.get(f"/v/{vid}", headers=h).status_code == 200,
        "profile": vid in [v["id"] for v in client.get("/api/users/ana", headers=h).json()["videos"]],
        "hashtag": vid in [v["id"] for v in client.get("/api/hashtags/food", headers=h).json().get("videos", [])],
        "search": vid
        in [v["id"] for v in client.get("/api/search", params={"q": "street"}, headers=h).json()["videos"]],
        "foryou": vid
        in [v["id"] for v in client.get("/api/feed/foryou", params={"limit": 10}, headers=h).json()["items"]],
    }


def test_reports_are_checked_and_only_moderators_reach_the_queue(client: TestClient, world: dict[str, Any]) -> None:
    ben, cat, mod, vid = world["ben"], world["cat"], world["mod"], world["public"]
    assert (
        client.post("/api/reports", json={"target_kind": "video", "target_id": vid, "reason": "spam"}).status_code
        == 401
    )
    assert report(client, ben, "video", vid, "boring").json()["error"]["code"] == "bad_reason"
    assert report(client, ben, "video", vid, "other").json()["error"]["code"] == "detail_required"
    assert report(client, ben, "planet", vid).status_code == 422
    assert report(client, world["ana"], "video", vid).json()["error"]["code"] == "self_report"
    assert report(client, ben, "video", "nope").status_code == 404
    assert report(client, cat, "video", world["private"]).status_code == 404  # cannot report what one cannot see
    first = report(client, ben, "video", vid, "hate", detail="slurs at 0:02")
    assert first.status_code == 201 and first.json()["duplicate"] is False
    assert report(client, ben, "video", vid).json()["duplicate"] is True  # one open report per reporter and target
    assert report(client, cat, "video", vid, "violence").status_code == 201
    ana_id = client.get("/api/users/ana").json()["user"]["id"]
    assert report(client, cat, "account", ana_id, "harassment").status_code == 201
    cat_id = client.get("/api/users/cat").json()["user"]["id"]
    assert report(client, ben, "account", cat_id, "spam").status_code == 201  # the newest of the single reports

    for who in (ben, world["ana"]):  # an ordinary user (and the creator) is refused every moderator endpoint
        assert client.get("/api/moderation/queue", headers=who).status_code == 403
        assert act(client, who, "video", vid, "remove").status_code == 403
        assert client.get(f"/api/moderation/videos/{vid}/media/360", headers=who).status_code == 403
        assert (
            client.post(
                "/api/moderation/appeals/x/decision", headers=who, json={"decision": "grant", "reason": "x"}
            ).status_code
            == 403
        )
    assert client.get("/api/moderation/queue").status_code == 401

    items = client.get("/api/moderation/queue", headers=mod).json()["items"]
    assert [(i["target_id"], i["report_count"]) for i in items] == [
        (vid, 2),
        (cat_id, 1),
        (ana_id, 1),
    ]  # most reported first (though its reports are older), then newest first
    video_item = items[0]
    assert video_item["reasons"] == {"hate": 1, "violence": 1}
    assert video_item["target"]["caption"] == "Street food tour #food"
    playable = video_item["target"]["media"]["360"]
    r = client.get(playable, headers=mod, params={}, follow_redirects=False)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    account = items[2]["target"]
    assert account["username"] == "ana" and "birth_date" not in account and "password_hash" not in account
    # Nothing beyond the reported items: not the creator's private video, by the normal API or the review route.
    assert client.get(f"/api/videos/{world['private']}", headers=mod).status_code == 404
    assert client.get(f"/api/moderation/videos/{world['private']}/media/360", headers=mod).status_code == 404
    assert client.get("/api/users/ana", headers=mod).json()["videos"][0]["id"] == vid  # the public one only
    assert len(client.get("/api/users/ana", headers=mod).json()["videos"]) == 1


def test_report_limit_and_block_at_once(client: TestClient, rt: RegionRuntime, world: dict[str, Any]) -> None:
    rt.settings.reports_per_day = 2
    ben = world["ben"]
    ids = {}
    for name in ("dan", "eve", "fay"):
        signup(client, name)
        ids[name] = client.get(f"/api/users/{name}").json()["user"]["id"]
    assert report(client, ben, "account", ids["dan"]).status_code == 201
    with_block = report(client, ben, "account", "eve", block=True)  # by name: stored by id
    assert with_block.status_code == 201 and with_block.json()["blocked"] is True
    third = report(client, ben, "account", ids["fay"])
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "report_limit"
    assert report(client, ben, "account", ids["dan"]).json()["duplicate"] is True  # re-reporting is not refused
    blocks = client.get("/api/me/blocks", headers=ben).json()
    assert [b["username"] for b in blocks["blocks"]] == ["eve"]  # "block at once" went through with the report
    limited = report(client, ben, "account", ids["fay"], block=True)  # over the limit, blocking still works
    assert limited.status_code == 429 and "the account is blocked" in limited.json()["error"]["message"]
    assert [b["username"] for b in client.get("/api/me/blocks", headers=ben).json()["blocks"]] == ["fay", "eve"]
    with rt.db.session() as s:  # blocks made from the report form are audited like any other block
        blocks_logged = s.scalar(select(func.count()).where(AuditEntry.kind == "account.block"))
    assert blocks_logged == 2


def test_removal_reaches_every_surface_and_an_appeal_is_heard_once(
    client: TestClient, rt: RegionRuntime, world: dict[str, Any]
) -> None:
    ana, ben, cat, mod, vid = world["ana"], world["ben"], world["cat"], world["mod"], world["public"]
    assert vid in [v["id"] for v in client.get("/api/feed/foryou", headers=cat, params={"limit": 10}).json()["items"]]
    assert report(client, ben, "video", vid, "hate").status_code == 201
    assert act(client, mod, "video", vid, "remove", reason="   ").json()["error"]["code"] == "reason_required"
    assert act(client, mod, "video", vid, "suspend").json()["error"]["code"] == "bad_action"
    removed = act(client, mod, "video", vid, "remove", reason="Hateful slur in the voice-over")
    assert removed.status_code == 201
    relay_all(rt)

    def everywhere(headers: dict[str, str] | None) -> dict[str, bool]:
        return where_shown(client, vid, headers)

    assert not any(everywhere(None).values())
    assert vid not in {v.id for v in video_infos(rt.db)}  # gone from the learner's catalogue too
    assert not any(everywhere(cat).values())
    following = client.get("/api/feed/following", headers=ben).json()["items"]
    assert vid not in [v["id"] for v in following]
    own = client.get(f"/api/videos/{vid}", headers=ana).json()
    assert own["moderation_state"] == "removed"  # the creator still sees it, marked removed

    notices = client.get("/api/me/notices", headers=ana).json()["notices"]
    assert len(notices) == 1 and notices[0]["can_appeal"] and "Hateful slur" in notices[0]["message"]
    reporter = client.get("/api/me/notices", headers=ben).json()["notices"]
    assert reporter[0]["can_appeal"] is False and "Thank you" in reporter[0]["message"]
    notice_id = notices[0]["id"]
    assert client.post(f"/api/me/notices/{notice_id}/appeal", headers=ben, json={"body": "x"}).status_code == 404
    assert (
        client.post(f"/api/me/notices/{notice_id}/appeal", headers=ana, json={"body": "It was a quote"}).status_code
        == 201
    )
    again = client.post(f"/api/me/notices/{notice_id}/appeal", headers=ana, json={"body": "Please"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_appealed"
    assert client.get("/api/me/notices", headers=ana).json()["notices"][0]["appeal"]["status"] == "open"

    queue = client.get("/api/moderation/queue", headers=mod).json()["items"]
    appeal = next(i for i in queue if i["type"] == "appeal")
    assert appeal["body"] == "It was a quote" and appeal["target"]["moderation_state"] == "removed"
    url = f"/api/moderation/appeals/{appeal['appeal_id']}/decision"
    assert (
        client.post(url, headers=mod, json={"decision": "grant", "reason": "Quoted for criticism"}).status_code == 200
    )
    assert client.post(url, headers=mod, json={"decision": "uphold", "reason": "x"}).status_code == 409
    relay_all(rt)
    assert everywhere(cat)["video"] and everywhere(cat)["search"]
    latest = client.get("/api/me/notices", headers=ana).json()["notices"][0]
    assert "restored" in latest["message"] and latest["can_appeal"] is False
    with rt.db.session() as s:  # every decision is in the audit log, in order, against its subject
        logged = [(e.kind, e.subject, e.detail) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.idx))]
    mine = [k for k, subject, _ in logged if k.startswith("moderation.") and subject == f"video:{vid}"]
    assert mine == ["moderation.remove", "moderation.appeal", "moderation.restore"]
    assert "It was a quote" not in str(logged)  # the appeal's text stays out of the append-only log


def test_borderline_age_restrict_and_suspension(
    client: TestClient, rt: RegionRuntime, world: dict[str, Any], tmp_path: Path
) -> None:
    ana, cat, mod, vid = world["ana"], world["cat"], world["mod"], world["public"]
    assert report(client, cat, "video", vid, "misinformation").status_code == 201
    assert act(client, mod, "video", vid, "not_for_you", reason="Unverified health claim").status_code == 201
    relay_all(rt)
    assert client.get(f"/api/videos/{vid}", headers=cat).status_code == 200  # servable by link
    assert vid in [v["id"] for v in client.get("/api/search", params={"q": "street"}).json()["videos"]]
    assert vid in [v["id"] for v in client.get("/api/users/ana").json()["videos"]]
    assert vid not in [
        v["id"] for v in client.get("/api/feed/foryou", headers=cat, params={"limit": 10}).json()["items"]
    ]
    assert act(client, mod, "video", vid, "age_restrict", reason="Graphic injury").status_code == 201
    assert client.get(f"/api/videos/{vid}").status_code == 404  # signed out viewers are never known adults

    ana_id = client.get("/api/users/ana").json()["user"]["id"]
    assert act(client, mod, "account", ana_id, "suspend", reason="Repeated spam").status_code == 201
    clip = make_clip(tmp_path / "s.mp4", duration_s=1.0)
    refused = upload(client, ana, clip, "again")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "account_suspended"
    comment = client.post(f"/api/videos/{vid}/comments", headers=ana, json={"body": "hi"})
    assert comment.json()["error"]["code"] == "account_suspended"
    notices = client.get("/api/me/notices", headers=ana).json()
    assert notices["suspended"] is True
    assert [n["action"] for n in notices["notices"]] == ["suspend", "age_restrict", "not_for_you"]


def test_a_suspended_accounts_videos_are_hidden_until_the_suspension_is_lifted(
    client: TestClient, rt: RegionRuntime, world: dict[str, Any]
) -> None:
    ana, ben, cat, mod, vid = world["ana"], world["ben"], world["cat"], world["mod"], world["public"]

    def following(headers: dict[str, str]) -> list[str]:
        return [v["id"] for v in client.get("/api/feed/following", headers=headers).json()["items"]]

    assert all(where_shown(client, vid, cat).values()) and all(where_shown(client, vid, None).values())
    assert vid in following(ben)
    assert report(client, cat, "video", vid, "spam").status_code == 201
    ana_id = client.get("/api/users/ana").json()["user"]["id"]
    assert act(client, mod, "account", ana_id, "suspend", reason="Spam network").status_code == 201
    relay_all(rt)
    for viewer in (None, cat, ben):  # at once, everywhere: signed out, a stranger, a follower
        assert where_shown(client, vid, viewer) == dict.fromkeys(where_shown(client, vid, viewer), False)
    assert vid not in following(ben)
    seen_by_cat = client.get("/api/users/ana", headers=cat).json()
    assert seen_by_cat["videos"] == [] and seen_by_cat["user"]["suspended"] is False  # not told about others
    assert report(client, ben, "video", vid, "spam").status_code == 404  # nothing left to report
    # The holder still sees its videos, told why no one else does; moderators still review them.
    own = client.get("/api/users/ana", headers=ana).json()
    assert vid in [v["id"] for v in own["videos"]] and own["user"]["suspended"] is True
    assert 'data-testid="suspended-banner"' in client.get(f"/v/{vid}", headers=ana).text
    assert 'data-testid="own-suspended-notice"' in client.get("/@ana", headers=ana).text
    assert "own-suspended-notice" not in client.get("/@ana", headers=cat).text
    queued = next(i for i in client.get("/api/moderation/queue", headers=mod).json()["items"] if i["target_id"] == vid)
    assert queued["target"]["id"] == vid
    assert client.get(f"/api/moderation/videos/{vid}/media/360", headers=mod).status_code == 200

    notice = client.get("/api/me/notices", headers=ana).json()["notices"][0]
    assert notice["action"] == "suspend" and "only you can see your videos" in notice["message"]
    appealed = client.post(f"/api/me/notices/{notice['id']}/appeal", headers=ana, json={"body": "Not spam"})
    assert appealed.status_code == 201
    appeal = next(i for i in client.get("/api/moderation/queue", headers=mod).json()["items"] if i["type"] == "appeal")
    decided = client.post(
        f"/api/moderation/appeals/{appeal['appeal_id']}/decision",
        headers=mod,
        json={"decision": "grant", "reason": "A real cook"},
    )
    assert decided.status_code == 200
    relay_all(rt)
    for viewer in (None, cat, ben):  # lifted on appeal: back everywhere
        assert all(where_shown(client, vid, viewer).values())
    assert vid in following(ben)
    assert client.get("/api/users/ana", headers=ana).json()["user"]["suspended"] is False


def test_a_suspended_accounts_comments_are_hidden_from_everyone_but_itself(
    client: TestClient, world: dict[str, Any]
) -> None:
    ana, ben, cat, mod, vid = world["ana"], world["ben"], world["cat"], world["mod"], world["public"]

    def bodies(headers: dict[str, str] | None) -> list[str]:
        r = client.get(f"/api/videos/{vid}/comments", headers=headers)
        assert r.status_code == 200, r.text
        return [c["body"] for c in r.json()["comments"]]

    for who, body in ((cat, "Buy followers here"), (ben, "Looks delicious")):
        assert client.post(f"/api/videos/{vid}/comments", headers=who, json={"body": body}).status_code == 201
    cat_id = client.get("/api/users/cat").json()["user"]["id"]
    assert act(client, mod, "account", cat_id, "suspend", reason="Spam comments").status_code == 201
    for viewer in (None, ana, ben):  # the creator, a stranger, signed out: the spam is gone, the rest stays
        assert bodies(viewer) == ["Looks delicious"]
    assert sorted(bodies(cat)) == ["Buy followers here", "Looks delicious"]  # the holder still sees its own


def test_moderation_audit_entries_name_accounts_by_pseudonym(
    client: TestClient, rt: RegionRuntime, world: dict[str, Any]
) -> None:
    ana, mod, vid = world["ana"], world["mod"], world["public"]
    ids = {name: client.get(f"/api/users/{name}").json()["user"]["id"] for name in ("ana", "ben", "mod")}
    assert report(client, world["ben"], "account", ids["ana"], "spam").status_code == 201
    assert act(client, mod, "account", ids["ana"], "suspend", reason="Spam network").status_code == 201
    notice = client.get("/api/me/notices", headers=ana).json()["notices"][0]
    assert client.post(f"/api/me/notices/{notice['id']}/appeal", headers=ana, json={"body": "No"}).status_code == 201
    appeal = next(i for i in client.get("/api/moderation/queue", headers=mod).json()["items"] if i["type"] == "appeal")
    url = f"/api/moderation/appeals/{appeal['appeal_id']}/decision"
    assert client.post(url, headers=mod, json={"decision": "uphold", "reason": "Still spam"}).status_code == 200
    assert act(client, mod, "video", vid, "not_for_you", reason="Borderline").status_code == 201

    secret = rt.settings.secret_key
    alias = {name: pseudonym(secret, uid) for name, uid in ids.items()}
    with rt.db.session() as s:
        logged = [e for e in s.scalars(select(AuditEntry).order_by(AuditEntry.idx)) if e.kind.startswith("moderation.")]
    about_ana = [(e.kind, e.detail["target_id"]) for e in logged if e.subject == f"user:{alias['ana']}"]
    assert about_ana == [(k, alias["ana"]) for k in ("moderation.suspend", "moderation.appeal", "moderation.uphold")]
    role = next(e for e in logged if e.kind == "moderation.role")
    assert role.subject == f"user:{alias['mod']}" and role.detail == {"from": "user", "to": "moderator"}
    assert [e.subject for e in logged if e.kind == "moderation.not_for_you"] == [f"video:{vid}"]
    for e in logged:  # no account is named by its id anywhere in a moderation entry
        assert not any(uid in f"{e.subject} {e.detail}" for uid in ids.values()), e.kind

    # The overseer sees the same pseudonyms it sees everywhere else: the moderator as actor, ana as subject.
    overseer = make_overseer(client, rt)
    shown = client.get("/api/oversight/audit", headers=overseer, params={"limit": 200}).json()["entries"]
    suspended = next(e for e in shown if e["kind"] == "moderation.suspend")
    assert suspended["subject"] == f"user:{alias['ana']}" and suspended["detail"]["target_id"] == alias["ana"]
    assert suspended["actor_id"] == alias["mod"] and suspended["leaf_ok"] and suspended["proof_ok"]


def test_reupload_of_a_reencoded_copy_is_held_and_distinct_videos_are_not(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path
) -> None:
    client, rt = sqlite_client, sqlite_rt
    ana, ben, cat = signup(client, "ana"), signup(client, "ben"), signup(client, "cat")
    mod = moderator(client, rt)
    original = distinct_clip(tmp_path, 0)
    vid = upload(client, ana, original, "Original").json()["id"]
    process_all(rt)
    assert act(client, mod, "video", vid, "remove", reason="Violent content").status_code == 201

    copy = reencoded_copy(original, tmp_path / "copy.mp4")
    held = upload(client, ben, copy, "totally new").json()["id"]
    other = upload(client, ben, distinct_clip(tmp_path, 1), "my own").json()["id"]
    process_all(rt)
    assert client.get(f"/api/videos/{held}", headers=ben).json()["moderation_state"] == "held"
    assert client.get(f"/api/videos/{held}", headers=cat).status_code == 404
    assert client.get(f"/api/videos/{other}", headers=cat).status_code == 200
    told = client.get("/api/me/notices", headers=ben).json()["notices"]  # the uploader is told why, at once
    assert [(n["action"], n["target_id"], n["can_appeal"]) for n in told] == [("hold", held, False)]
    assert "copy of a video that was removed" in told[0]["message"] and vid not in told[0]["message"]
    with rt.db.session() as s:
        holds = [e.subject for e in s.scalars(select(AuditEntry).where(AuditEntry.kind == "moderation.hold"))]
    assert holds == [f"video:{held}"]
    # A moderator plays reported and held videos only, not any other upload through the review route.
    assert client.get(f"/api/moderation/videos/{held}/media/360", headers=mod).status_code == 200
    assert client.get(f"/api/moderation/videos/{other}/media/360", headers=mod).status_code == 404
    queue = client.get("/api/moderation/queue", headers=mod).json()["items"]
    assert [(i["target_id"], i["reports"][0]["reason"]) for i in queue] == [(held, "reupload_match")]
    assert vid in queue[0]["reports"][0]["detail"]

    rt.settings.reupload_policy = "refuse"
    refused = upload(client, cat, copy, "third try").json()["id"]
    process_all(rt)
    refused_view = client.get(f"/api/videos/{refused}", headers=cat).json()
    assert refused_view["status"] == "failed" and "removed" in refused_view["failure_reason"]
    assert "removed" in client.get("/api/me/notices", headers=cat).json()["notices"][0]["message"]


def test_hold_new_uploads_until_a_moderator_publishes(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path
) -> None:
    client, rt = sqlite_client, sqlite_rt
    rt.settings.hold_new_uploads = True
    ana, cat, mod = signup(client, "ana"), signup(client, "cat"), moderator(client, sqlite_rt)
    vid = upload(client, ana, make_clip(tmp_path / "c.mp4", duration_s=1.0), "new").json()["id"]
    process_all(rt)
    assert client.get(f"/api/videos/{vid}", headers=cat).status_code == 404
    assert client.get(f"/api/videos/{vid}", headers=ana).json()["moderation_state"] == "held"
    held = client.get("/api/me/notices", headers=ana).json()["notices"]
    assert [n["action"] for n in held] == ["hold"] and "every new upload" in held[0]["message"]
    assert act(client, mod, "video", vid, "dismiss", reason="Fine").status_code == 201
    assert client.get(f"/api/videos/{vid}", headers=cat).status_code == 200
    assert "published" in client.get("/api/me/notices", headers=ana).json()["notices"][0]["message"]


def test_a_reported_comment_is_removed_and_its_author_told(
    client: TestClient, rt: RegionRuntime, world: dict[str, Any]
) -> None:
    ben, cat, mod, vid = world["ben"], world["cat"], world["mod"], world["public"]
    posted = client.post(f"/api/videos/{vid}/comments", headers=ben, json={"body": "you are all idiots"}).json()
    client.post(f"/api/videos/{vid}/comments", headers=cat, json={"body": "no u", "parent_id": posted["id"]})
    assert client.get(f"/api/videos/{vid}").json()["comment_count"] == 2
    assert report(client, cat, "comment", posted["id"], "harassment").status_code == 201
    item = client.get("/api/moderation/queue", headers=mod).json()["items"][0]
    assert item["target"]["body"] == "you are all idiots" and item["target"]["author"]["username"] == "ben"
    assert act(client, mod, "comment", posted["id"], "age_restrict").json()["error"]["code"] == "bad_action"
    assert act(client, mod, "comment", posted["id"], "remove", reason="Insults").status_code == 201
    assert client.get(f"/api/videos/{vid}/comments").json()["comments"] == []
    assert client.get(f"/api/videos/{vid}").json()["comment_count"] == 0
    notice = client.get("/api/me/notices", headers=ben).json()["notices"][0]
    assert "you are all idiots" in notice["message"] and notice["can_appeal"]
    assert client.get("/api/moderation/queue", headers=mod).json()["items"] == []


def test_reports_of_a_deleted_video_can_be_dismissed_and_the_queue_page_is_for_moderators(
    client: TestClient, world: dict[str, Any]
) -> None:
    ana, ben, mod, vid = world["ana"], world["ben"], world["mod"], world["public"]
    assert client.get("/moderation", headers=ben).status_code == 403
    assert client.get("/moderation", headers=mod).status_code == 200
    assert report(client, ben, "video", vid, "spam").status_code == 201
    assert client.delete(f"/api/videos/{vid}", headers=ana).status_code == 204
    item = client.get("/api/moderation/queue", headers=mod).json()["items"][0]
    assert item["target"] is None  # the item is gone; its reports are still there to close
    assert act(client, mod, "video", vid, "remove").status_code == 404
    assert act(client, mod, "video", vid, "dismiss", reason="Deleted by its creator").status_code == 201
    assert client.get("/api/moderation/queue", headers=mod).json()["items"] == []
    assert "no longer available" in client.get("/api/me/notices", headers=ben).json()["notices"][0]["message"]
