"""Regions: each process knows its own stores only, cross-region reads are refused and audited, public
content crosses through the logged exchange, and a residency scan proves no personal row is out of place."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sovereel.actions.exchange import do_offer_videos
from sovereel.cli.main import main
from sovereel.events.relay import relay_once
from sovereel.governance.regions import region_choices, settings_for, token_region
from sovereel.governance.residency import account_ids, scan_store, user_columns
from sovereel.ids import region_tag
from sovereel.queries.exchange import still_offered
from sovereel.runtime.exchange_puller import pull_from_peer
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import AuditEntry, ExchangeTransfer, Like, User, Video
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip
from tests.support.regions import Region, deployment_settings, fetch_from, two_regions, watch


def refusals(region: Region, kind: str = "residency.refused") -> list[AuditEntry]:
    with region.rt.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.kind == kind)))


def test_a_region_process_holds_only_its_own_store_urls(tmp_path: Path) -> None:
    deployment = deployment_settings(tmp_path)
    us = settings_for(deployment, "us")  # type: ignore[arg-type]
    assert us.region == "us" and us.database_url.endswith("/us/sovereel.db")
    assert us.regions["eu"] == {"public_url": "http://localhost:18001"}
    assert "/eu/sovereel.db" not in us.model_dump_json()  # no URL or credential of the other region's store
    assert [r["name"] for r in region_choices(us)] == ["us", "eu"]
    assert region_choices(us)[1]["signup_url"] == "http://localhost:18001/signup"
    with pytest.raises(Exception, match="unknown region"):
        settings_for(deployment, "apac")  # type: ignore[arg-type]
    assert token_region("us.abc") == "us" and token_region("plain-token") is None


def test_tokens_and_users_of_another_region_are_refused_and_audited(tmp_path: Path) -> None:
    with two_regions(tmp_path) as (us, eu):
        ana = signup(us.client, "ana")
        bob = signup(eu.client, "bob")
        assert ana["Authorization"].startswith("Bearer us.")
        # ana's (valid) us token replayed against eu: refused, not treated as anonymous. eu cannot tell it from a
        # forged one, so the refusal is counted and summarised (one entry per window), not audited one by one.
        r = eu.client.get("/api/me", headers=ana)
        assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_region"
        assert eu.client.post("/api/users/bob/follow", headers=ana).status_code == 403
        assert refusals(eu) == []
        logged = refusals(eu, "residency.refused_summary")
        assert len(logged) == 1 and logged[0].detail["counts"] == {"foreign_token": 1}
        assert logged[0].detail["requested_regions"] == {"us": 1}
        assert "ana" not in str([e.detail for e in logged])  # the audit log names no user
        # A forged token naming eu is simply unknown there (401); one naming us is refused (403).
        assert eu.client.get("/api/me", headers={"Authorization": "Bearer eu.forged"}).status_code == 401
        assert eu.client.get("/api/me", headers={"Authorization": "Bearer us.forged"}).status_code == 403
        # The user lives only in their home region's store.
        assert us.client.get("/api/users/bob").status_code == 404
        assert eu.client.get("/api/me", headers=bob).json()["region"] == "eu"
        with us.rt.db.session() as s:
            assert s.scalar(select(func.count()).select_from(User).where(User.region != "us")) == 0
        # A signed-in user naming another region's user by handle is refused and audited.
        r = us.client.get("/api/users/bob@eu", headers=ana)
        assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_region"
        assert any(e.detail["what"] == "user" for e in refusals(us))
        # So is naming them by their account id (it carries eu's tag), on the API and on the web page;
        # an id of no region is simply unknown, and us's own accounts are found as before.
        bob_id = eu.client.get("/api/me", headers=bob).json()["id"]
        ana_id = us.client.get("/api/me", headers=ana).json()["id"]
        assert region_tag("eu") != region_tag("us") and bob_id.endswith(region_tag("eu"))
        r = us.client.get(f"/api/users/{bob_id}", headers=ana)
        assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_region"
        assert us.client.post(f"/api/users/{bob_id}/follow", headers=ana).status_code == 403
        assert us.client.get(f"/@{bob_id}", headers=ana).status_code == 403
        by_id = [e for e in refusals(us) if e.detail["what"] == "user id"]
        assert len(by_id) == 3 and by_id[0].detail["requested_region"] == "eu"
        assert bob_id not in str([(e.subject, e.detail) for e in refusals(us)])  # the log keeps no foreign id
        nobody = bob_id[:-2] + next(t for t in ("00", "01") if t not in (region_tag("eu"), region_tag("us")))
        assert us.client.get(f"/api/users/{nobody}").status_code == 404
        assert eu.client.get(f"/api/users/{ana_id}").status_code == 403
        assert eu.client.get("/api/users/bob", headers=bob).status_code == 200  # at home, bob is found
        # After sign-out the replayed token is dead in its own region too.
        assert us.client.post("/api/auth/logout", headers=ana).status_code == 204
        assert us.client.get("/api/me", headers=ana).status_code == 401


@pytest.mark.usefixtures("ffmpeg")
def test_exchange_carries_public_videos_and_residency_holds(
    tmp_path: Path, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(tmp_path / "c.mp4", duration_s=1.0)
    with two_regions(tmp_path, backend) as (us, eu):
        bob = signup(eu.client, "bob")
        eve = signup(eu.client, "eve")
        public = upload(eu.client, bob, clip, "Alpine lake at dawn #hiking").json()["id"]
        private = upload(eu.client, bob, clip, "my secret diary", visibility="private").json()["id"]
        followers = upload(eu.client, bob, clip, "for friends only #hiking", visibility="followers").json()["id"]
        assert process_all(eu.rt) == 3
        watch(eu.client, eve, public)
        assert eu.client.post(f"/api/videos/{public}/like", headers=eve).status_code == 200

        ana = signup(us.client, "ana")
        local = upload(us.client, ana, clip, "Brooklyn bagels #food").json()["id"]
        assert process_all(us.rt) == 1
        cat = signup(us.client, "cat")

        result = pull_from_peer(us.rt, "eu", fetch_from(eu, "us"), base_url="http://localhost:18001")
        assert result.received == [public] and result.bytes > 0
        again = pull_from_peer(us.rt, "eu", fetch_from(eu, "us"))
        assert again.received == []  # idempotent

        with us.rt.db.session() as s:
            got = s.get(Video, public)
            assert got is not None and got.origin_region == "eu" and got.status == "ready"
            assert s.get(Video, private) is None and s.get(Video, followers) is None
            stub = s.get(User, got.creator_id)
            assert stub is not None and stub.username == "bob@eu" and stub.password_hash == "" and stub.bio == ""
            with eu.rt.db.session() as es:
                bob_id = es.scalar(select(User.id).where(User.username_key == "bob"))
            assert stub.id != bob_id  # the stub's id is a local pseudonym, not bob's account id
            assert got.like_count == 0 and got.view_count == 0  # no one's activity crossed
            assert [t.direction for t in s.scalars(select(ExchangeTransfer))] == ["in"]
        with eu.rt.db.session() as s:
            out = list(s.scalars(select(ExchangeTransfer)))
            assert {(t.direction, t.peer_region, t.video_id) for t in out} == {("out", "us", public)}

        # us viewers find it in search and in For You, served from us's own media store.
        while relay_once(us.rt.db, us.rt.bus):  # the outbox's video.ready reaches us's learner
            pass
        found = us.client.get("/api/search", params={"q": "alpine"}, headers=cat).json()["videos"]
        assert [v["id"] for v in found] == [public] and found[0]["creator"]["username"] == "bob@eu"
        users_found = us.client.get("/api/search", params={"q": "bob"}, headers=cat).json()["users"]
        assert users_found == []  # the stub is not an account of us: no profile to find here
        poster = us.client.get(f"/api/videos/{public}/media/poster")
        assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"
        feed = us.client.get("/api/feed/foryou", params={"limit": 10}, headers=cat).json()["items"]
        assert {local, public} <= {item["id"] for item in feed}
        # cat's activity on the foreign video stays in us; bob's profile and follows stay in eu.
        assert us.client.post(f"/api/videos/{public}/like", headers=cat).status_code == 200
        watch(us.client, cat, public)
        assert us.client.get("/api/users/bob@eu", headers=cat).status_code == 403
        assert us.client.get(f"/api/users/{stub.id}", headers=cat).status_code == 403  # by (stub) user id
        assert us.client.get(f"/api/users/{bob_id}", headers=cat).status_code == 403  # eu's account id: refused
        assert us.client.post("/api/users/bob@eu/follow", headers=cat).status_code == 403
        with eu.rt.db.session() as s:
            assert s.get(Video, public).like_count == 1  # type: ignore[union-attr]  # eve's like only

        # The proof: each store holds zero personal rows of the other region's users.
        with us.rt.db.session() as s_us, eu.rt.db.session() as s_eu:
            us_ids, eu_ids = account_ids(s_us), account_ids(s_eu)
            assert len(us_ids) == 2 and len(eu_ids) == 2
            us_report = scan_store(s_us, "us", eu_ids)
            eu_report = scan_store(s_eu, "eu", us_ids)
        assert us_report.ok, us_report.summary()
        assert eu_report.ok, eu_report.summary()
        assert us_report.rows_scanned["likes"] == 1 and us_report.rows_scanned["events"] >= 1
        if backend == "sqlite":  # the operator's command reaches the embedded layout's two stores
            capsys.readouterr()
            assert main(["--data-dir", str(tmp_path / "data"), "residency", "check", "--regions", "us,eu"]) == 0
            out = capsys.readouterr().out
            assert "region us: OK" in out and "region eu: OK" in out and "  likes: 1 rows scanned" in out

        # bob erases his account in eu: on the next pull, us removes its copy of his video (and cat's like of it).
        gone = eu.client.request("DELETE", "/api/me", headers=bob, json={"password": "correct horse battery"})
        assert gone.status_code == 200
        withdrawn = pull_from_peer(us.rt, "eu", fetch_from(eu, "us"))
        assert withdrawn.withdrawn == [public] and withdrawn.received == []
        assert us.client.get(f"/api/videos/{public}", headers=cat).status_code == 404
        assert not (us.rt.settings.region_dir / "media" / "videos" / public).exists()
        with us.rt.db.session() as s:
            assert s.get(User, stub.id) is None
            assert s.scalar(select(func.count()).select_from(Like)) == 0
            logged = [t.direction for t in s.scalars(select(ExchangeTransfer).order_by(ExchangeTransfer.id))]
            assert logged == ["in", "withdrawn"]

        # And the scan does fail when personal data is out of place.
        with us.rt.db.transaction() as s:
            s.add(User(id=bob_id, region="eu", username="bob", username_key="bob", password_hash="x",
                       created_at=time.time()))  # fmt: skip
        with us.rt.db.session() as s_us:
            bad = scan_store(s_us, "us", eu_ids)
        assert not bad.ok and {v.table for v in bad.violations} == {"users"}


def test_every_table_with_a_user_column_is_scanned() -> None:
    columns = set(user_columns())
    for expected in [("likes", "user_id"), ("events", "user_id"), ("follows", "followee_id"), ("comments", "user_id"),
                     ("watches", "user_id"), ("data_exports", "user_id"), ("videos", "creator_id")]:  # fmt: skip
        assert expected in columns


def test_residency_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with two_regions(tmp_path) as (us, eu):
        signup(us.client, "ana")
        signup(eu.client, "bob")
    args = ["--data-dir", str(tmp_path / "data"), "residency", "check", "--regions", "us,eu"]
    assert main(args) == 0
    assert "residency check: OK (2 regions" in capsys.readouterr().out
    with two_regions(tmp_path) as (us, eu):
        with eu.rt.db.session() as s:
            bob = s.scalar(select(User).where(User.username_key == "bob"))
        assert bob is not None
        with us.rt.db.transaction() as s:  # an operator's mistake: copying an eu account into us
            s.add(User(id=bob.id, region="eu", username="bob", username_key="bob", password_hash=bob.password_hash,
                       created_at=bob.created_at))  # fmt: skip
    assert main(args) == 1
    assert "an account of another region" in capsys.readouterr().out


@pytest.mark.usefixtures("ffmpeg")
def test_operator_lookups_stay_in_their_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "c.mp4", duration_s=1.0)
    with two_regions(tmp_path) as (us, eu):
        signup(us.client, "ana")
        bob = signup(eu.client, "bob")
        bob_id = eu.client.get("/api/me", headers=bob).json()["id"]
        upload(eu.client, bob, clip, "Fjord #travel")
        assert process_all(eu.rt) == 1
        pull_from_peer(us.rt, "eu", fetch_from(eu, "us"))
    deployment = deployment_settings(tmp_path)
    monkeypatch.setenv("SOVEREEL_REGIONS", json.dumps(deployment.regions))  # type: ignore[attr-defined]
    base = ["--data-dir", str(tmp_path / "data"), "--region", "us", "user", "show"]
    assert main([*base, "ana", "--reason", "support ticket 12"]) == 0
    assert '"username": "ana"' in capsys.readouterr().out
    assert main([*base, "bob@eu", "--reason", "curious"]) == 3
    assert main([*base, "bob@eu".upper(), "--reason", "curious"]) == 3
    assert main([*base, bob_id, "--reason", "curious"]) == 3  # eu's account id
    assert "refused (403 wrong_region)" in capsys.readouterr().out
    with two_regions(tmp_path) as (us, _eu), us.rt.db.session() as s:
        kinds = [e.kind for e in s.scalars(select(AuditEntry).order_by(AuditEntry.idx))]
    assert kinds.count("access.personal_data") == 1 and kinds.count("residency.refused") == 3


def test_only_public_content_is_offered(sqlite_rt: RegionRuntime) -> None:
    """Private or suspended accounts', age-restricted, non-public, unready, removed and received videos are never
    offered."""
    now = time.time()
    with sqlite_rt.db.transaction() as s:
        for uid, private, suspended in (("u1", False, None), ("u2", True, None), ("u3", False, now)):
            s.add(User(id=uid, region=sqlite_rt.region, username=uid, username_key=uid, password_hash="x",
                       is_private=private, suspended_at=suspended, created_at=now))  # fmt: skip
        s.add(User(id="xstub", region="eu", origin_region="eu", username="z@eu", username_key="z@eu",
                   password_hash="", role="stub", created_at=now))  # fmt: skip
        s.flush()
        cases: dict[str, dict[str, Any]] = {
            "ok": {}, "agegate": {"age_restricted": True}, "privacct": {"creator_id": "u2"},
            "friends": {"visibility": "followers"}, "pending": {"status": "processing"},
            "removed": {"moderation_state": "removed"}, "received": {"creator_id": "xstub", "origin_region": "eu"},
            "suspended": {"creator_id": "u3"},
        }  # fmt: skip
        for vid, extra in cases.items():
            fields: dict[str, Any] = {"creator_id": "u1", "visibility": "public", "status": "ready", **extra}
            s.add(Video(id=vid, region=sqlite_rt.region, caption=vid, renditions={}, created_at=now, ready_at=now,
                        **fields))  # fmt: skip
    offered = do_offer_videos(sqlite_rt.db, since=0.0, limit=50, peer="eu")
    assert [v["id"] for v in offered["videos"]] == ["ok"]
    assert set(offered["videos"][0]) == {"id", "caption", "hashtags", "duration_s", "width", "height", "created_at",
                                         "ready_at", "creator", "renditions", "poster"}  # fmt: skip
    assert offered["videos"][0]["creator"] == {"handle": "u1", "display_name": ""}
    assert still_offered(sqlite_rt.db, list(cases)) == ["ok"]
    assert do_offer_videos(sqlite_rt.db, since=now, limit=50, peer="eu")["videos"] == []  # the cursor is exclusive
    with sqlite_rt.db.session() as s:
        assert [(t.direction, t.peer_region) for t in s.scalars(select(ExchangeTransfer))] == [("out", "eu")]
