"""User data rights: "Download my data" (background job, progress, signed expiring owner-only link) and
"Delete my account" (erasure of rows, events and media, recorded for the trainer, audited by hash only)."""

from __future__ import annotations

import io
import json
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sovereel.actions.rights import run_export
from sovereel.foryou.readers import profile_signals
from sovereel.foryou.training import train_version
from sovereel.governance.residency import scan_store
from sovereel.governance.rights import consult_erasures, describe_interests, erasure_hash, sign_link
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import AuditEntry, DataExport, Erasure, Event, Like, OutboxMessage, User, Video
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip
from tests.support.regions import watch

PASSWORD = "correct horse battery"


def wait_ready(client: TestClient, headers: dict[str, str], export_id: str) -> dict[str, Any]:
    """Poll the export as the page does, until it is ready (returns every progress value seen)."""
    seen: list[float] = []
    deadline = time.time() + 60
    while time.time() < deadline:
        body = client.get(f"/api/me/exports/{export_id}", headers=headers).json()
        seen.append(body["progress"])
        if body["state"] in ("ready", "failed"):
            return {**body, "seen": seen}
        time.sleep(0.05)
    raise AssertionError(f"export not ready: {seen[-5:]}")


@pytest.fixture
def world(client: TestClient, rt: RegionRuntime, tmp_path: Path) -> dict[str, Any]:
    """ana posts a cooking video; ben likes, comments on and watches it, and follows ana (SQLite and PostgreSQL)."""
    ana, ben = signup(client, "ana", PASSWORD), signup(client, "ben", PASSWORD)
    clip = make_clip(tmp_path / "c.mp4", duration_s=1.0)
    video = upload(client, ana, clip, "Tomato soup #cooking").json()["id"]
    ben_video = upload(client, ben, clip, "Ben's hike #travel").json()["id"]
    assert process_all(rt) == 2
    assert client.post(f"/api/videos/{video}/like", headers=ben).status_code == 200
    assert client.post(f"/api/videos/{video}/comments", headers=ben, json={"body": "yum"}).status_code == 201
    assert client.post("/api/users/ana/follow", headers=ben).status_code == 200
    assert client.post(f"/api/videos/{ben_video}/like", headers=ana).status_code == 200
    watch(client, ben, video)
    return {"ana": ana, "ben": ben, "video": video, "ben_video": ben_video}


@pytest.mark.usefixtures("ffmpeg")
def test_download_my_data(client: TestClient, rt: RegionRuntime, world: dict[str, Any]) -> None:
    ben, ana = world["ben"], world["ana"]
    sqlite_rt = rt
    assert client.post("/api/me/exports").status_code == 401
    started = client.post("/api/me/exports", headers=ben)
    assert started.status_code == 202 and started.json()["state"] in ("queued", "running", "ready")
    job = wait_ready(client, ben, started.json()["id"])
    assert job["state"] == "ready" and job["progress"] == 1.0 and job["seen"] == sorted(job["seen"])
    url = job["download_url"]
    assert url and job["expires_at"] > time.time() + 3000

    got = client.get(url, headers=ben)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(got.content))
    names = set(zf.namelist())
    for required in ("manifest.json", "profile.json", "videos.json", "likes.json", "comments.json", "follows.json",
                     "watch_history.json", "events.json", "feed_preferences.json", "interest_profile.json",
                     "how_for_you_works.json"):  # fmt: skip
        assert required in names
    assert any(n.startswith(f"videos/{world['ben_video']}/") and n.endswith(".mp4") for n in names)

    def read(name: str) -> Any:
        return json.loads(zf.read(name))

    assert read("profile.json")["username"] == "ben"
    assert [lk["video_id"] for lk in read("likes.json")] == [world["video"]]
    assert read("comments.json")[0]["body"] == "yum"
    assert read("follows.json")["following"][0]["username"] == "ana"
    assert {e["kind"] for e in read("events.json")} == {"complete"}
    assert read("watch_history.json")[0]["video_id"] == world["video"]
    interests = read("interest_profile.json")
    assert "cooking" in interests["top_hashtags"] and "ana" in interests["top_creators"]
    assert any("#cooking" in sentence for sentence in interests["summary"])
    assert read("manifest.json")["schema_version"] == 1 and "ana" not in json.dumps(read("profile.json"))

    # Only the owner may fetch it, the signature must match, and the link expires.
    assert client.get(url, headers=ana).status_code == 403
    assert client.get(f"/api/me/exports/{job['id']}", headers=ana).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(url.replace("sig=", "sig=0"), headers=ben).status_code == 403
    with sqlite_rt.db.session() as s:
        ben_id = s.scalar(select(User.id).where(User.username_key == "ben"))
    old = int(time.time()) - 10
    expired = f"/api/exports/{job['id']}/download?expires={old}&sig={sign_link('x', job['id'], str(ben_id), old)}"
    assert client.get(expired, headers=ben).status_code == 403  # signed with the wrong key
    forged_but_old = sign_link(sqlite_rt.settings.secret_key, job["id"], str(ben_id), old)
    r = client.get(f"/api/exports/{job['id']}/download?expires={old}&sig={forged_but_old}", headers=ben)
    assert r.status_code == 410 and r.json()["error"]["code"] == "link_expired"
    with sqlite_rt.db.transaction() as s:
        row = s.get(DataExport, job["id"])
        assert row is not None
        row.expires_at = time.time() - 1
    assert client.get(url, headers=ben).status_code == 410
    assert client.get(f"/api/me/exports/{job['id']}", headers=ben).json()["state"] == "expired"
    with sqlite_rt.db.session() as s:
        kinds = list(s.scalars(select(AuditEntry.kind)))
        assert "data.exported" in kinds
        assert all("ben" not in json.dumps(e.detail) + e.subject for e in s.scalars(select(AuditEntry)))
    assert run_export(sqlite_rt, job["id"]).state == "ready"  # running it again changes nothing


def test_the_data_page(sqlite_client: TestClient) -> None:
    assert sqlite_client.get("/account/data", follow_redirects=False).status_code == 303
    headers = signup(sqlite_client, "dora", PASSWORD)
    page = sqlite_client.get("/account/data", headers=headers)
    assert page.status_code == 200 and 'data-testid="export-progress"' in page.text
    assert 'data-testid="delete-password"' in page.text


@pytest.mark.usefixtures("ffmpeg")
def test_delete_my_account(client: TestClient, rt: RegionRuntime, world: dict[str, Any]) -> None:
    ben, ana = world["ben"], world["ana"]
    while True:  # the watch and like events reach the learner (and the outbox marks them delivered)
        from sovereel.events.relay import relay_once

        if not relay_once(rt.db, rt.bus):
            break
    with rt.db.session() as s:
        ben_id = str(s.scalar(select(User.id).where(User.username_key == "ben")))
        first, last = s.execute(select(func.min(Event.client_ts), func.max(Event.client_ts))).one()
    ben_media = rt.settings.region_dir / "media" / "videos" / world["ben_video"]
    assert ben_media.is_dir()
    # A model version whose training range covers ben's events, as the registry records it.
    registry = rt.settings.region_dir / "models" / "v-covering"
    registry.mkdir(parents=True)
    (registry / "manifest.json").write_text(json.dumps({"region": rt.region, "data_from": first, "data_to": last}))
    older = rt.settings.region_dir / "models" / "v-older"
    older.mkdir()
    (older / "manifest.json").write_text(json.dumps({"region": rt.region, "data_from": 1.0, "data_to": 2.0}))

    wrong = client.request("DELETE", "/api/me", headers=ben, json={"password": "not my password"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "bad_password"
    assert client.request("DELETE", "/api/me", headers=ben, json={}).status_code == 422
    done = client.request("DELETE", "/api/me", headers=ben, json={"password": PASSWORD})
    assert done.status_code == 200 and done.json()["erased"] is True

    assert client.get("/api/me", headers=ben).status_code == 401
    assert client.post("/api/auth/login", json={"username": "ben", "password": PASSWORD}).status_code == 401
    assert client.get("/api/users/ben").status_code == 404
    assert not ben_media.exists()
    with rt.db.session() as s:
        assert s.get(User, ben_id) is None
        assert s.scalar(select(func.count()).select_from(Event)) == 0
        assert s.scalar(select(func.count()).select_from(Like).where(Like.user_id == ben_id)) == 0
        assert all(ben_id not in json.dumps(m.payload) for m in s.scalars(select(OutboxMessage)))
        video = s.get(Video, world["video"])
        assert video is not None and video.like_count == 0 and video.comment_count == 0
        assert s.scalar(select(User.follower_count).where(User.username_key == "ana")) == 0
        erasure = s.scalar(select(Erasure))
        assert erasure is not None and erasure.subject_hash == erasure_hash(rt.region, ben_id)
        assert erasure.models_affected == ["v-covering"] and erasure.event_count == 1
        audit = s.scalar(select(AuditEntry).where(AuditEntry.kind == "account.deleted"))
        assert audit is not None and ben_id not in audit.subject + json.dumps(audit.detail)
    # The trainer consults the erasures: ben is flagged, and nothing of his is left to train on.
    assert consult_erasures(rt.db, [ben_id, "someone-else"]) == ({ben_id}, 1)
    assert all(s.user_id != ben_id for s in profile_signals(rt.db, 0.0))  # what the trainer reads
    with warnings.catch_warnings():  # the trainer warns on a world this small; that is not this test's subject
        warnings.simplefilter("ignore", RuntimeWarning)
        _version, manifest = train_version(rt.db, rt.settings.region_dir)
    assert manifest["erasures_consulted"] == 1  # the new version was trained after consulting the erasure
    vector = rt.learner.scorer.user_vector(ben_id)
    assert vector is None or not vector.any()  # the live model forgot him (his row is zeroed)
    # ben's id is nowhere in the store any more (every user column and every JSON payload scanned).
    with rt.db.session() as s:
        report = scan_store(s, rt.region, {ben_id})
    assert report.ok, report.summary()
    # ana is untouched and can still use the site.
    assert client.get("/api/me", headers=ana).status_code == 200


def test_personalisation_off_holds_across_sessions(sqlite_client: TestClient) -> None:
    client = sqlite_client
    first = signup(client, "fay", PASSWORD)
    assert client.put("/api/me/feed-settings", headers=first, json={"personalised": False}).status_code == 200
    assert client.post("/api/auth/logout", headers=first).status_code == 204
    assert client.get("/api/me/feed-settings", headers=first).status_code == 401
    login = client.post("/api/auth/login", json={"username": "fay", "password": PASSWORD})
    second = {"Authorization": f"Bearer {login.json()['token']}"}
    assert client.get("/api/me/feed-settings", headers=second).json()["personalised"] is False
    page = client.get("/", headers={"Cookie": f"sovereel_session={login.json()['token']}"})
    assert page.status_code == 200 and '"personalised": false' in page.text


def test_interest_profile_in_plain_words() -> None:
    words = describe_interests(
        [("complete", ["cooking", "soup"], "ana"), ("like", ["cooking"], "ana"), ("complete", ["travel"], "ben")],
        personalised=False,
        has_vector=True,
        model_version="v1",
        not_interested=[("hashtag", "cats")],
        keyword_filters=["spoiler"],
    )
    assert words["top_hashtags"] == ["cooking", "soup", "travel"] and words["top_creators"] == ["ana", "ben"]
    text = " ".join(words["summary"])
    assert text.startswith("Personalisation is off") and "#cooking" in text and "@ana" in text
    assert "interest vector" in text and "hashtag cats" in text and "spoiler" in text
    empty = describe_interests([], personalised=True, has_vector=False, model_version="v0")
    assert "not learned anything" in " ".join(empty["summary"])
