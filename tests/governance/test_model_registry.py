"""Signed model lineage and the export gate: training signs, serving refuses what is not signed, intact and licensed."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from sovereel.cli.main import main
from sovereel.errors import NotFound
from sovereel.feed.params import default_params, params_from_dict
from sovereel.foryou.learner import Learner
from sovereel.foryou.training import train_version
from sovereel.governance.audit import read_records
from sovereel.governance.lineage import source_digest, verify_model
from sovereel.governance.manifest import sign_manifest
from sovereel.governance.model_registry import ModelRefused, ModelRegistry, check_version
from sovereel.governance.signing import keys_for_dir, region_keys
from sovereel.ids import new_id
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.db import RegionDB, open_region_db
from sovereel.storage.models import Event, User, Video
from tests.support.settings import make_settings


def seed(db: RegionDB, *, users: int = 6, videos: int = 12, tag: str = "a") -> None:
    """Users of the region, ready videos and a watch log in which each user finishes half the videos."""
    now = time.time()
    with db.transaction() as s:
        uids = [new_id(now) for _ in range(users)]
        for i, uid in enumerate(uids):
            s.add(User(id=uid, region=db.region, username=f"{tag}u{i}", username_key=f"{tag}u{i}",
                       password_hash="x", created_at=now))  # fmt: skip
        s.flush()
        vids = [new_id(now - i) for i in range(videos)]
        for i, vid in enumerate(vids):
            s.add(Video(id=vid, region=db.region, creator_id=uids[i % users], caption=f"clip {i}", status="ready",
                        visibility="public", duration_s=10.0, width=720, height=1280, renditions={},
                        created_at=now - 3600 * i, ready_at=now))  # fmt: skip
        s.flush()
        for u, uid in enumerate(uids):
            for i, vid in enumerate(vids):
                done = (i + u) % 2 == 0
                kind, watched = ("complete", 10.0) if done else ("skip", 0.5)
                s.add(Event(region=db.region, user_id=uid, client_id=f"{tag}{u}-{i}", kind=kind, video_id=vid,
                            client_ts=now - 100 + i, received_at=now, watched_s=watched))  # fmt: skip


@pytest.fixture
def trained(sqlite_rt: RegionRuntime) -> Iterator[tuple[RegionRuntime, str]]:
    seed(sqlite_rt.db)
    version, _ = train_version(sqlite_rt.db, sqlite_rt.settings.region_dir, epochs=1)
    sqlite_rt.learner.swap_to(version)
    yield sqlite_rt, version


def kinds(db: RegionDB) -> list[str]:
    with db.session() as s:
        return [r.kind for r in read_records(s)]


def test_training_signs_its_lineage_and_verify_recomputes_it(
    trained: tuple[RegionRuntime, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rt, version = trained
    manifest = ModelRegistry(rt.settings.region_dir).manifest(version)
    lineage = manifest["lineage"]
    assert manifest["signature"]["region"] == "default" and manifest["signature"]["alg"] == "ed25519"
    assert lineage["region"] == "default" and lineage["events"]["count"] == 72
    assert lineage["events"]["first_seq"] == 1 and lineage["events"]["last_seq"] == 72
    assert len(lineage["config_sha256"]) == len(lineage["params_sha256"]) == 64
    assert lineage["code_sha256"] == source_digest() and len(source_digest()) == 64  # the exact source that trained it
    assert kinds(rt.db)[-2:] == ["model.trained", "model.promoted"]
    key_file = rt.settings.region_dir / "signing_key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert main(["--data-dir", str(rt.settings.data_dir), "model", "verify", version]) == 0
    out = capsys.readouterr().out
    assert "72 training events (seq 1..72) match the Merkle root" in out
    assert f"source sha256 {source_digest()} (the same as this installation's)" in out
    seed(rt.db, tag="b")  # a second version learns from more events; its parent is the first
    second, manifest2 = train_version(rt.db, rt.settings.region_dir, epochs=1)
    assert manifest2["lineage"]["parent_version"] == version and manifest2["lineage"]["events"]["count"] == 144
    # Someone edits one training event, then moves one into another region: verify names both.
    with rt.db.transaction() as s:
        s.execute(update(Event).where(Event.seq == 5).values(watched_s=99.0))
    report = verify_model(rt.db, rt.settings.region_dir, second, region_keys(rt.settings))
    assert not report.ok and "training events changed" in report.problems[0]
    with rt.db.transaction() as s:
        s.execute(update(Event).where(Event.seq == 7).values(region="eu"))
    report = verify_model(rt.db, rt.settings.region_dir, second, region_keys(rt.settings))
    assert any("1 training events and 0 social actions belong to another region" in p for p in report.problems)
    assert main(["--data-dir", str(rt.settings.data_dir), "model", "verify", second]) == 1


def test_serving_refuses_tampered_unsigned_and_foreign_signed_versions_and_logs_it(
    trained: tuple[RegionRuntime, str], tmp_path: Path
) -> None:
    rt, version = trained
    folder = ModelRegistry(rt.settings.region_dir).version_dir(version)
    keys = region_keys(rt.settings)
    pristine = {p.name: p.read_bytes() for p in folder.iterdir()}

    def refused(code: str) -> ModelRefused:
        learner = rt.learner
        learner.gate._refused.clear()
        with pytest.raises(ModelRefused) as info:
            learner.swap_to(version)
        assert info.value.verdict.code == code, info.value.message
        for name, data in pristine.items():
            (folder / name).write_bytes(data)
        return info.value

    manifest = json.loads(pristine["manifest.json"])
    (folder / "manifest.json").write_text(json.dumps({**manifest, "data_to": 1.0}))
    assert "changed after it was signed" in refused("bad_signature").message
    weights = bytearray(pristine["model.safetensors"])
    weights[-3] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(weights))
    assert "model.safetensors does not match" in refused("tampered").message
    (folder / "manifest.json").write_text(json.dumps({k: v for k, v in manifest.items() if k != "signature"}))
    refused("unsigned")
    eu_keys = keys_for_dir("eu", tmp_path / "eu")  # another region's key signs a manifest that names "default"
    forged = sign_manifest({k: v for k, v in manifest.items() if k != "signature"}, eu_keys)
    forged["signature"]["region"] = "default"
    (folder / "manifest.json").write_text(json.dumps(forged))
    assert f"signed by key {eu_keys.key_id}" in refused("bad_signature").message
    with rt.db.session() as s:
        logged = [r for r in read_records(s) if r.kind == "model.refused"]
    assert [r.detail["code"] for r in logged] == ["bad_signature", "tampered", "unsigned", "bad_signature"]
    assert rt.learner.scorer.model.version.startswith(version)  # still serving the good one
    # After a restart with a tampered CURRENT version the server starts untrained rather than serve it.
    (folder / "ids.json").write_text("{}")
    fresh = Learner(rt.db, rt.settings.region_dir, keys)
    assert fresh.scorer.model.version == "untrained"
    assert check_version(rt.db, ModelRegistry(rt.settings.region_dir), version, keys).code == "tampered"


def test_export_needs_a_licence_for_exactly_that_version_and_is_logged_in_both_regions(
    trained: tuple[RegionRuntime, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rt, v1 = trained
    data = str(rt.settings.data_dir)
    eu = make_settings(Path(data).parent, region="eu")
    eu_db = open_region_db(eu)
    try:
        # A version copied across by hand, without a licence, is refused there (and the refusal is logged).
        here, there = ModelRegistry(rt.settings.region_dir), ModelRegistry(eu.region_dir)
        shutil.copytree(here.version_dir(v1), there.version_dir(v1))
        eu_learner_keys = region_keys(eu)
        assert check_version(eu_db, ModelRegistry(eu.region_dir), v1, eu_learner_keys).code == "untrusted_region"
        (eu.region_dir / "trusted_keys").mkdir()
        (eu.region_dir / "trusted_keys" / "default.pub").write_text(region_keys(rt.settings).public.hex())
        assert main(["--data-dir", data, "--region", "eu", "model", "promote", v1]) == 1
        assert "no export licence is recorded here" in capsys.readouterr().out
        shutil.rmtree(ModelRegistry(eu.region_dir).version_dir(v1))
        # The licensed export: copied, recorded in both logs, and then eu may serve it.
        assert main(["--data-dir", data, "model", "export", "--version", v1, "--to", "eu", "--licence", "LIC-1"]) == 0
        assert (ModelRegistry(eu.region_dir).version_dir(v1) / "licence.json").is_file()
        assert kinds(rt.db)[-1] == "model.exported"
        assert kinds(eu_db)[-2:] == ["model.refused", "model.imported"]
        assert check_version(eu_db, ModelRegistry(eu.region_dir), v1, region_keys(eu)).ok
        assert main(["--data-dir", data, "--region", "eu", "model", "promote", v1]) == 0
        assert ModelRegistry(eu.region_dir).current() == v1 and kinds(eu_db)[-1] == "model.promoted"
        assert main(["--data-dir", data, "--region", "eu", "model", "verify", v1]) == 0
        # A second version under the first version's licence: refused on export, and refused when smuggled in.
        seed(rt.db, tag="b")
        v2, _ = train_version(rt.db, rt.settings.region_dir, epochs=1)
        capsys.readouterr()
        assert main(["--data-dir", data, "model", "export", "--version", v2, "--to", "eu", "--licence", "LIC-1"]) == 1
        assert f"licence LIC-1 is already recorded for model {v1}" in capsys.readouterr().out
        with rt.db.session() as s:
            last = read_records(s)[-1]
        assert last.kind == "model.refused" and last.detail["code"] == "licence_mismatch"
        smuggled = ModelRegistry(eu.region_dir).version_dir(v2)
        shutil.copytree(ModelRegistry(rt.settings.region_dir).version_dir(v2), smuggled)
        (smuggled / "licence.json").write_text(json.dumps({"licence": "LIC-1", "version": v2}))
        verdict = check_version(eu_db, ModelRegistry(eu.region_dir), v2, region_keys(eu))
        assert verdict.code == "no_licence" and f"LIC-1 (for {v1})" in verdict.reason
        # Bad requests: unknown version, same region, malformed licence id.
        for argv in (["--version", "nope", "--to", "eu", "--licence", "L2"],
                     ["--version", v1, "--to", "default", "--licence", "L2"],
                     ["--version", v1, "--to", "eu", "--licence", "../x y"]):  # fmt: skip
            assert main(["--data-dir", data, "model", "export", *argv]) == 1
        with eu_db.session() as s:
            assert s.scalar(select(User).limit(1)) is None  # no personal data crossed with the model
    finally:
        eu_db.dispose()


def test_lineage_is_recomputed_from_the_event_log_on_every_backend(rt: RegionRuntime) -> None:
    seed(rt.db, users=4, videos=6)
    version, manifest = train_version(rt.db, rt.settings.region_dir, epochs=1)
    keys = region_keys(rt.settings)
    assert manifest["lineage"]["events"]["count"] == 24
    assert verify_model(rt.db, rt.settings.region_dir, version, keys).ok
    rt.learner.swap_to(version)  # the gate admits it on this backend's licence table too
    with rt.db.transaction() as s:
        s.execute(update(Event).where(Event.seq == manifest["lineage"]["events"]["last_seq"]).values(kind="like"))
    report = verify_model(rt.db, rt.settings.region_dir, version, keys)
    assert not report.ok and "training events changed" in report.problems[0]


def test_the_registry_alone_reads_and_writes_its_folder_in_the_fixed_formats(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    assert registry.current() is None and registry.version_names() == [] and registry.trained_log_size() == 0
    with pytest.raises(NotFound):
        registry.version_dir("../elsewhere")
    assert not registry.has_version("../elsewhere")
    (registry.root / "v1").mkdir(parents=True)
    (registry.root / "half").mkdir()  # a folder without a manifest (an interrupted save) is not a version
    manifest = {"version": "v1", "data_to": 5.0, "event_log_size": 7}
    registry.write_manifest("v1", manifest)
    registry.set_current("v1")
    # The bytes replay and signatures depend on: the pointer holds the bare id, the manifest sorted, indented JSON.
    assert (registry.root / "CURRENT").read_bytes() == b"v1"
    assert (registry.root / "v1" / "manifest.json").read_text() == json.dumps(manifest, indent=2, sort_keys=True)
    assert registry.current() == "v1" and registry.version_names() == ["v1"]
    assert list(registry.manifests()) == [("v1", manifest)]
    assert registry.trained_until("v1") == 5.0 and registry.trained_log_size() == 7
    assert registry.trained_until("untrained") == 0.0
    params = default_params()
    path = registry.archive_params(params)
    assert path == tmp_path / "params" / f"{params.version}.json"
    assert params_from_dict(registry.archived_params(params.version) or {}).version == params.version
    assert registry.archived_params("0" * 16) is None
