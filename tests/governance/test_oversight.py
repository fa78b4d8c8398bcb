"""The overseer: a read-only role with the audit log, model cards, "How For You works" and exact replay."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sovereel.actions.audit import do_checkpoint
from sovereel.actions.oversight import do_make_overseer
from sovereel.cli.main import main as cli_main
from sovereel.feed.params import default_params, load_params
from sovereel.foryou.training import train_version
from sovereel.governance.audit import append_audit
from sovereel.governance.lineage import source_digest
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import FeedImpression, User
from tests.support.api import signup
from tests.support.foryou import TOPICS, deliver, seed_ready_videos

PASSWORD = "correct horse battery"
MARKER_NAMES = ("zqviewerone", "zqviewertwo")  # distinctive usernames: any leak is found by a plain search


def login(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def make_overseer(client: TestClient, rt: RegionRuntime, username: str = "auditor") -> dict[str, str]:
    do_make_overseer(rt.db, rt.settings.secret_key, username, PASSWORD)
    return login(client, username)


def watch(client: TestClient, headers: dict[str, str], video_id: str, kind: str, watched_s: float) -> None:
    ts = int(time.time() * 1000)
    events = [
        {"client_id": uuid.uuid4().hex, "kind": k, "video_id": video_id, "ts": ts, "watched_s": w}
        for k, w in (("impression", 0.0), ("play", 0.0), (kind, watched_s))
    ]
    r = client.post("/api/events", headers=headers, json={"events": events})
    assert r.status_code == 200, r.text


def build_world(client: TestClient, rt: RegionRuntime) -> dict[str, Any]:
    """Creators with ready videos in four topics, two viewers with watch histories, an overseer."""
    creators, creator_headers = {}, {}
    for topic in TOPICS:
        for k in range(2):
            headers = creator_headers[f"{topic}{k}"] = signup(client, f"{topic}{k}")
            creators[f"{topic}{k}"] = client.get("/api/me", headers=headers).json()["id"]
    topic_of = seed_ready_videos(rt, creators)
    # The region's history a model is trained on: each creator finishes one topic's videos and skips the rest.
    for name, headers in creator_headers.items():
        for vid, topic in topic_of.items():
            liked = topic == name[:-1]
            watch(client, headers, vid, "complete" if liked else "skip", 10.0 if liked else 0.5)
    viewers = {name: signup(client, name) for name in MARKER_NAMES}
    for n, headers in enumerate(viewers.values()):
        for vid, topic in list(topic_of.items())[:10]:
            liked = topic == TOPICS[n]
            watch(client, headers, vid, "complete" if liked else "skip", 10.0 if liked else 0.5)
    deliver(rt)
    return {"viewers": viewers, "topic_of": topic_of, "overseer": make_overseer(client, rt)}


def serve_page(client: TestClient, headers: dict[str, str], limit: int = 8) -> list[dict[str, Any]]:
    r = client.get("/api/feed/foryou", params={"limit": limit}, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def impression_ids(rt: RegionRuntime) -> list[int]:
    with rt.db.session() as s:
        return list(s.scalars(select(FeedImpression.id).order_by(FeedImpression.id)))


def api_routes(client: TestClient) -> dict[str, set[str]]:
    """Every API path and its methods, from the app's own OpenAPI document (a new endpoint is covered at once)."""
    doc: dict[str, Any] = client.app.openapi()  # type: ignore[attr-defined]
    return {path: {m.upper() for m in ops} for path, ops in doc["paths"].items()}


def oversight_get_routes(client: TestClient, impression: int, version: str) -> list[str]:
    """Every oversight API path, filled in; each must be GET-only."""
    paths = []
    for path, methods in api_routes(client).items():
        if path.startswith("/api/oversight"):
            assert methods <= {"GET", "HEAD"}, f"{path} must be read-only, has {methods}"
            paths.append(path.format(impression_id=impression, version=version))
    assert len(paths) >= 6
    return paths


OVERSIGHT_PAGES = ("/oversight", "/oversight/audit", "/oversight/models", "/oversight/for-you", "/oversight/replay")


def test_replay_of_a_served_page_gives_the_same_scores_term_by_term(client: TestClient, rt: RegionRuntime) -> None:
    world = build_world(client, rt)
    viewer, overseer = world["viewers"]["zqviewerone"], world["overseer"]
    # Untrained model (the fixed prior), then a trained version, then that version after online updates.
    served = [serve_page(client, viewer)]
    version, _ = train_version(rt.db, rt.settings.region_dir, epochs=1)
    rt.learner.swap_to(version)
    served.append(serve_page(client, viewer))
    watch(client, viewer, served[-1][0]["id"], "complete", 10.0)
    deliver(rt)
    assert "+" in rt.learner.scorer.version  # online events moved the live model past the registry version
    served.append(serve_page(client, viewer))
    # The non-personalised feed (EU DSA Art. 38): region popularity only, replayed from its logged inputs.
    r = client.put("/api/me/feed-settings", headers=viewer, json={"personalised": False})
    assert r.status_code == 200, r.text
    served.append(serve_page(client, viewer, limit=4))
    # Retrain: the earlier version's impressions still replay from the registry.
    rt.learner.swap_to(train_version(rt.db, rt.settings.region_dir, epochs=1)[0])
    ids = impression_ids(rt)
    assert len(ids) == sum(len(page) for page in served) > 10
    models = set()
    for impression in ids:
        r = client.get(f"/api/oversight/impressions/{impression}/replay", headers=overseer)
        assert r.status_code == 200, r.text
        body = r.json()
        replay = body["replay"]
        assert replay["equal"], replay
        assert replay["logged_score"] == replay["replayed_score"]
        assert all(t["equal"] and t["logged_term"] == t["replayed_term"] for t in replay["terms"])
        if replay["personalised"]:
            names = [t["name"] for t in replay["terms"]]
            assert names == ["complete", "watch_time", "like", "share", "comment", "follow"]
            assert len(replay["features"]) > 20
            models.add(replay["model_version"])
        else:
            assert [t["name"] for t in replay["terms"]] == ["popularity"] and not replay["features"]
            models.add("non-personalised")
    assert (
        "non-personalised" in models
        and any(m.startswith("untrained") for m in models)
        and any(m.startswith(version) for m in models)
        and any("+" in m for m in models)
    )


def test_replay_detects_a_tampered_record_and_a_missing_model_version(client: TestClient, rt: RegionRuntime) -> None:
    world = build_world(client, rt)
    version, _ = train_version(rt.db, rt.settings.region_dir, epochs=1)
    rt.learner.swap_to(version)
    serve_page(client, world["viewers"]["zqviewerone"], limit=3)
    first, second = impression_ids(rt)[:2]
    # A version whose manifest was edited after signing is not used for replay.
    manifest = rt.settings.region_dir / "models" / version / "manifest.json"
    original = manifest.read_text()
    manifest.write_text(json.dumps({**json.loads(original), "metrics": {"ndcg@10": 0.99}}))
    r = client.get(f"/api/oversight/impressions/{second}/replay", headers=world["overseer"])
    assert r.status_code == 409 and "bad_signature" in r.json()["error"]["message"], r.text
    manifest.write_text(original)
    assert client.get(f"/api/oversight/impressions/{second}/replay", headers=world["overseer"]).json()["replay"][
        "equal"
    ]
    with rt.db.transaction() as s:
        row = s.get(FeedImpression, first)
        assert row is not None
        reason = json.loads(json.dumps(row.reason))
        reason["terms"]["like"] += 1e-9  # a logged score edited after the fact
        row.reason = reason
    body = client.get(f"/api/oversight/impressions/{first}/replay", headers=world["overseer"]).json()
    assert body["replay"]["equal"] is False
    assert [t["name"] for t in body["replay"]["terms"] if not t["equal"]] == ["like"]
    model_dir = rt.settings.region_dir / "models" / version
    model_dir.rename(model_dir.with_name("moved-away"))
    r = client.get(f"/api/oversight/impressions/{second}/replay", headers=world["overseer"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "replay_unavailable"
    assert client.get("/api/oversight/impressions/999999/replay", headers=world["overseer"]).status_code == 404


def test_only_the_overseer_reaches_oversight_and_it_is_read_only(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime
) -> None:
    client, rt = sqlite_client, sqlite_rt
    world = build_world(client, rt)
    viewer, overseer = world["viewers"]["zqviewerone"], world["overseer"]
    serve_page(client, viewer, limit=3)
    version, _ = train_version(rt.db, rt.settings.region_dir, epochs=1)
    paths = oversight_get_routes(client, impression_ids(rt)[0], version)
    for path in paths:
        assert client.get(path).status_code == 401, path
        r = client.get(path, headers=viewer)
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_overseer", path
        assert client.get(path, headers=overseer).status_code == 200, path
    for page in OVERSIGHT_PAGES:
        assert client.get(page, headers=viewer).status_code == 403, page
        assert client.get(page, headers=overseer).status_code == 200, page
        r = client.get(page, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), page
    # No state-changing API call of any kind is open to the overseer (signing in and out aside).
    video_id = next(iter(world["topic_of"]))
    refused = 0
    for template, methods in api_routes(client).items():
        if template in ("/api/auth/login", "/api/auth/logout"):
            continue
        for method in methods - {"GET", "HEAD"}:
            path = re.sub(r"\{[^}]+\}", video_id, template)
            r = client.request(method, path, headers=overseer, json={})
            assert r.status_code == 403 and r.json()["error"]["code"] == "read_only_role", (method, path, r.text)
            refused += 1
    assert refused > 10
    with rt.db.session() as s:
        assert s.scalar(select(User.role).where(User.username_key == "auditor")) == "overseer"
    # Personal endpoints give the overseer its own data only: another viewer's "Why this video?" stays theirs.
    served = serve_page(client, viewer, limit=1)[0]["id"]
    assert client.get(f"/api/videos/{served}/why", headers=viewer).status_code == 200
    assert client.get(f"/api/videos/{served}/why", headers=overseer).status_code == 404


def test_oversight_responses_hold_no_raw_user_ids_or_usernames(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime
) -> None:
    client, rt = sqlite_client, sqlite_rt
    world = build_world(client, rt)
    for headers in world["viewers"].values():
        serve_page(client, headers, limit=4)
    version, _ = train_version(rt.db, rt.settings.region_dir, epochs=1)
    with rt.db.session() as s:
        people = {u.id: u.username for u in s.scalars(select(User))}
    viewer_ids = [uid for uid, name in people.items() if name in MARKER_NAMES]
    with rt.db.transaction() as s:  # an entry written by another feature that names an account by its raw id
        detail = {"username": "zqviewerone", "to": "user"}
        append_audit(s, region=rt.region, kind="moderation.role", actor_id=viewer_ids[1],
                     subject=f"account:{viewer_ids[0]}", detail=detail)  # fmt: skip
    overseer = world["overseer"]
    bodies = [
        client.get(p, headers=overseer).text for p in oversight_get_routes(client, impression_ids(rt)[-1], version)
    ]
    bodies += [client.get(p, headers=overseer).text for p in OVERSIGHT_PAGES]
    bodies += [client.get(f"/oversight/replay/{i}", headers=overseer).text for i in impression_ids(rt)[:3]]
    bodies.append(client.get(f"/oversight/models/{version}", headers=overseer).text)
    card = client.get(f"/api/oversight/models/{version}", headers=overseer).json()
    assert card["signature"] == "verified" and card["lineage"][0]["version"] == version
    assert card["training_data"]["events"] > 0 and len(card["training_data"]["events_merkle_root"]) == 64
    assert card["code_sha256"] == source_digest()
    listed_models = client.get("/api/oversight/models", headers=overseer).json()["models"]
    assert [m["signature"] for m in listed_models] == ["verified"]
    text = "\n".join(bodies)
    assert "p_" in text and "zqviewer" not in text.lower()
    for uid, name in people.items():
        if name != "auditor":  # the overseer's own page header names the overseer
            assert uid not in text, f"raw id of {name} in an oversight response"
    # The pseudonym is stable: the same viewer has the same one in the impressions list and the audit log.
    listed = client.get("/api/oversight/impressions", headers=overseer).json()["items"]
    audit = client.get("/api/oversight/audit", headers=overseer).json()
    tagged = next(e for e in audit["entries"] if e["kind"] == "moderation.role")
    assert tagged["subject"].split(":")[1] in {i["user"] for i in listed}
    assert all(e["leaf_ok"] for e in audit["entries"])


def test_audit_view_gives_each_entry_an_inclusion_proof(sqlite_client: TestClient, sqlite_rt: RegionRuntime) -> None:
    from sovereel.governance import merkle

    overseer = make_overseer(sqlite_client, sqlite_rt)
    with sqlite_rt.db.transaction() as s:
        for i in range(6):
            append_audit(s, region=sqlite_rt.region, kind="settings.changed", actor_id=None, subject=f"setting:{i}",
                         detail={"setting": f"s{i}", "old": i, "new": i + 1})  # fmt: skip
    body = sqlite_client.get("/api/oversight/audit", headers=overseer).json()
    assert body["size"] == 7 and len(body["entries"]) == 7
    root = bytes.fromhex(body["tree_root"])
    for e in body["entries"]:
        path = [bytes.fromhex(p) for p in e["proof"]["path"]]
        assert merkle.verify_inclusion(bytes.fromhex(e["leaf_hash"]), e["index"], e["proof"]["tree_size"], path, root)
        assert e["proof_ok"] is True
    assert body["checkpoint"] is None and body["checkpoint_signature"] is None
    # A signed checkpoint: its signature is verified with the region's key; later entries wait for the next one.
    do_checkpoint(sqlite_rt.db, sqlite_rt.learner.gate.keys)
    with sqlite_rt.db.transaction() as s:
        append_audit(s, region=sqlite_rt.region, kind="settings.changed", actor_id=None, subject="setting:late",
                     detail={"setting": "late", "old": 0, "new": 1})  # fmt: skip
    body = sqlite_client.get("/api/oversight/audit", headers=overseer).json()
    assert body["checkpoint"]["size"] == 7 and body["checkpoint_signature"] == "verified"
    assert body["checkpoint_matches"] and [e["proof_ok"] for e in body["entries"]] == [True] * 7 + [None]
    assert "✓ verified with the region" in sqlite_client.get("/oversight/audit", headers=overseer).text
    assert sqlite_client.get("/api/oversight/audit?limit=0", headers=overseer).status_code == 422


def test_how_for_you_works_is_generated_from_the_live_parameter_file(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path
) -> None:
    page = sqlite_client.get("/about/for-you")
    assert page.status_code == 200  # for everyone, signed in or not
    text = page.text
    assert "weight 5" in text and "Any 3 videos in a row come from 3 different creators" in text
    assert "About 10% of the places in your feed" in text and "Personalised For You" in text
    raw = default_params().to_dict()
    raw["weights"]["share"] = 7.5
    raw["rerank"]["creator_window"] = 4
    raw["exploration"]["share"] = 0.25
    raw["quotas"]["content"] = 0
    changed = tmp_path / "params.json"
    changed.write_text(json.dumps(raw))
    sqlite_rt.learner.recommender.params = load_params(changed)
    text = sqlite_client.get("/about/for-you").text
    assert "The prediction that weighs most is that you will share it (weight 7.5)" in text
    assert "Any 4 videos in a row come from 4 different creators" in text and "About 25% of the places" in text
    assert "Switched off in this parameter set: videos whose caption and hashtags are similar" in text
    about = sqlite_client.get("/api/about/for-you").json()
    assert about["params_version"] == load_params(changed).version != default_params().version
    assert about["parameters"]["weights"]["share"] == 7.5


def test_cli_creates_and_promotes_the_overseer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = str(tmp_path / "data")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli_main(["--data-dir", data, "user", "create-overseer", "auditor", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli_main(["--data-dir", data, "user", "create-overseer", "auditor", "--password-stdin"]) == 0  # idempotent
    assert cli_main(["--data-dir", data, "user", "create-overseer", "newbie", "--password-stdin"]) == 1  # no password
    from sovereel.settings import load_settings
    from sovereel.storage.db import RegionDB, open_engine

    settings = load_settings(data_dir=data)
    engine = open_engine(settings.effective_database_url)
    try:
        db = RegionDB(settings.region, engine)
        with db.session() as s:
            roles = dict(s.execute(select(User.username, User.role)).all())
        assert roles == {"auditor": "overseer"}
    finally:
        engine.dispose()


def test_row_scoring_is_batch_invariant_and_agrees_with_the_model() -> None:
    from dataclasses import replace

    import numpy as np

    from sovereel.feed.model import FeedModel
    from sovereel.feed.row_scoring import predict_with_features, predictions_from_features, serving_ranker
    from tests.feed.test_model import SMALL
    from tests.feed.test_model import world as model_world

    videos, events = model_world()
    for model in (FeedModel(SMALL), FeedModel(replace(SMALL, ensemble=2))):
        if model.config.ensemble == 2:
            model.fit(events, videos)
        preds, feats = predict_with_features(model, "u5", videos, 20_000.0)
        reference = model.predict("u5", videos, 20_000.0)  # torch, batched: equal up to float rounding
        for task, values in preds.items():
            assert np.allclose(values, reference[task], atol=1e-6)
        for i in range(len(videos)):  # one row alone, from its JSON-logged floats: bit for bit the same
            logged = np.asarray([float(x) for x in feats[i]], dtype=np.float32)
            alone = predictions_from_features(serving_ranker(model), logged)
            assert all(np.array_equal(alone[t], preds[t][i : i + 1]) for t in preds)
