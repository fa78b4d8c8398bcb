"""The audit log on SQLite and PostgreSQL: gap-free concurrent appends, tamper evidence, checkpoints, CLI, API."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, text, update

from sovereel.actions.audit import do_checkpoint
from sovereel.cli.main import main
from sovereel.errors import AppError
from sovereel.governance import merkle
from sovereel.governance.audit import append_audit, pseudonym, read_records
from sovereel.governance.checkpoint import CheckpointError, verify_log
from sovereel.governance.logcheck import AuditRecord, check_records
from sovereel.governance.signing import region_keys
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import AuditEntry, User
from tests.support.api import signup
from tests.support.concurrency import run_in_threads
from tests.support.settings import make_settings


def add(rt: RegionRuntime, n: int, kind: str = "settings.changed") -> list[int]:
    out = []
    for i in range(n):
        with rt.db.transaction() as s:
            out.append(
                append_audit(s, region=rt.region, kind=kind, actor_id=None, subject="setting:x", detail={"n": i})
            )
    return out


def test_concurrent_appends_get_gap_free_indexes_and_rolled_back_ones_leave_no_hole(rt: RegionRuntime) -> None:
    def worker(w: int) -> None:
        for i in range(15):
            try:
                with rt.db.transaction() as s:
                    append_audit(s, region=rt.region, kind="settings.changed", actor_id=f"w{w}",
                                 subject=f"setting:{w}", detail={"i": i, "ratio": i / 7})  # fmt: skip
                    if i % 5 == 4:
                        raise KeyError("the action failed after appending")
            except KeyError:
                pass

    assert run_in_threads(worker, [(w,) for w in range(6)]) == []  # a lost update or a deadlock fails here
    with rt.db.session() as s:
        records = read_records(s)
    assert [r.index for r in records] == list(range(6 * 12))  # 3 of each 15 rolled back, without holes
    _, report = check_records(records, region=rt.region)
    assert report.ok, report.describe()
    assert all(r.detail["i"] % 5 != 4 for r in records)


def test_editing_or_deleting_any_row_fails_verification_naming_the_first_bad_entry(rt: RegionRuntime) -> None:
    add(rt, 10)
    keys = region_keys(rt.settings)
    cp = do_checkpoint(rt.db, keys)
    assert cp["size"] == 10

    def verify() -> tuple[bool, int | None, str]:
        with rt.db.session() as s:
            report = verify_log(read_records(s), cp, keys.public_key_for)
        return report.ok, report.first_bad, report.describe()

    assert verify()[0]
    with rt.db.transaction() as s:  # an edit of the detail, as someone with database access would make it
        s.execute(update(AuditEntry).where(AuditEntry.idx == 4).values(detail={"n": 400}))
    ok, first_bad, why = verify()
    assert (ok, first_bad) == (False, 4) and "entry 4" in why
    with rt.db.session() as s:  # rewriting the leaf hash too does not hide it: entry 5 recorded the old one
        rec = read_records(s, start=4, limit=1)[0]
    with rt.db.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.idx == 4).values(leaf_hash=rec.computed_leaf().hex()))
    ok, first_bad, _ = verify()
    assert (ok, first_bad) == (False, 4)
    with pytest.raises(Exception, match="fails verification"):
        do_checkpoint(rt.db, keys)  # a tampered log is never signed over
    with rt.db.transaction() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.idx == 2))
    ok, first_bad, why = verify()
    assert (ok, first_bad) == (False, 2) and "missing" in why
    with rt.db.transaction() as s:  # truncation: the newest rows gone
        s.execute(delete(AuditEntry).where(AuditEntry.idx >= 2))
    ok, first_bad, why = verify()
    assert (ok, first_bad) == (False, 2) and "truncated" in why


def test_a_checkpoint_from_a_different_log_is_refused(rt: RegionRuntime, tmp_path: Path) -> None:
    add(rt, 3)
    keys = region_keys(rt.settings)
    other = region_keys(make_settings(tmp_path / "elsewhere"))  # another deployment's "default" region
    cp = do_checkpoint(rt.db, keys)
    with rt.db.session() as s:
        records = read_records(s)
    with pytest.raises(CheckpointError, match="different log"):
        verify_log(records, cp, other.public_key_for)
    forged = {**cp, "size": 2}  # a checkpoint whose signed fields were changed
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_log(records, forged, keys.public_key_for)
    foreign = {**cp, "region": "eu"}
    with pytest.raises(CheckpointError, match="no key is trusted"):
        verify_log(records, foreign, keys.public_key_for)


def test_bad_kinds_and_details_are_refused(sqlite_rt: RegionRuntime) -> None:
    with sqlite_rt.db.transaction() as s:
        for kind in ("", "model", "payments.refund", "model.Trained"):
            with pytest.raises(ValueError, match="audit kind"):
                append_audit(s, region="default", kind=kind, actor_id=None, subject="x", detail={})
        with pytest.raises(ValueError):
            append_audit(s, region="default", kind="model.trained", actor_id=None, subject="x",
                         detail={"loss": float("nan")})  # fmt: skip
    assert pseudonym("k", "user-1") == pseudonym("k", "user-1") != pseudonym("k2", "user-1")
    assert "user-1" not in pseudonym("k", "user-1")


def test_cli_checkpoint_export_and_offline_verify(
    sqlite_rt: RegionRuntime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add(sqlite_rt, 5)
    base = ["--data-dir", str(sqlite_rt.settings.data_dir)]
    cp_file, log_file = tmp_path / "cp.json", tmp_path / "log.jsonl"
    assert main([*base, "audit", "checkpoint", "--out", str(cp_file)]) == 0
    add(sqlite_rt, 2)  # the log grows after the checkpoint: still consistent with it
    assert main([*base, "audit", "export", "--out", str(log_file)]) == 0
    assert main([*base, "audit", "verify", "--checkpoint", str(cp_file)]) == 0
    pub = tmp_path / "default.pub"
    pub.write_text(region_keys(sqlite_rt.settings).public.hex())
    assert main(["--data-dir", str(tmp_path / "nowhere"), "audit", "verify", "--checkpoint", str(cp_file),
                 "--log", str(log_file), "--public-key", str(pub)]) == 0  # fmt: skip
    assert "OK: 7 entries" in capsys.readouterr().out
    lines = log_file.read_text().splitlines()
    short = tmp_path / "short.jsonl"
    short.write_text("\n".join(lines[:4]) + "\n")  # header + 3 entries: fewer than the checkpoint's 5
    assert main([*base, "audit", "verify", "--checkpoint", str(cp_file), "--log", str(short)]) == 1
    out = capsys.readouterr().out
    assert "truncated" in out and "first bad entry: 3" in out
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines)[:-25])  # a file cut mid-line
    assert main([*base, "audit", "verify", "--checkpoint", str(cp_file), "--log", str(cut)]) == 1
    assert "cut short" in capsys.readouterr().out
    edited = tmp_path / "edited.jsonl"
    entry = json.loads(lines[2])
    entry["subject"] = "setting:y"
    edited.write_text("\n".join([*lines[:2], json.dumps(entry), *lines[3:]]) + "\n")
    assert main([*base, "audit", "verify", "--checkpoint", str(cp_file), "--log", str(edited)]) == 1
    assert "first bad entry: 1" in capsys.readouterr().out
    # Rewritten wholesale: entry 1 changed and every later entry re-chained and re-hashed, so each link holds.
    rewritten, prev = [lines[0]], ""
    for line in lines[1:]:
        rec = AuditRecord.from_json(json.loads(line))
        rec = replace(rec, subject="setting:y" if rec.index == 1 else rec.subject, prev_hash=prev, leaf_hash="")
        prev = rec.computed_leaf().hex()
        rewritten.append(json.dumps(replace(rec, leaf_hash=prev).to_json()))
    edited.write_text("\n".join(rewritten) + "\n")
    assert main([*base, "audit", "verify", "--checkpoint", str(cp_file), "--log", str(edited)]) == 1
    assert "the first 5 entries were rewritten" in capsys.readouterr().out
    other_cp = tmp_path / "other.json"
    other = make_settings(tmp_path / "other")
    assert main(["--data-dir", str(other.data_dir), "audit", "checkpoint", "--out", str(other_cp)]) == 0
    assert main([*base, "audit", "verify", "--checkpoint", str(other_cp)]) == 1
    assert "different log" in capsys.readouterr().out


def test_api_checkpoint_and_proofs_are_public_entries_are_for_overseers(client: TestClient, rt: RegionRuntime) -> None:
    add(rt, 6)
    first = client.get("/api/audit/checkpoint").json()
    assert first["size"] == 6 and first["region"] == rt.region
    add(rt, 5)
    cp = client.get("/api/audit/checkpoint").json()
    assert cp["size"] == 11
    r = client.get("/api/audit/proof/inclusion", params={"index": 3, "size": 11}).json()
    assert merkle.verify_inclusion(bytes.fromhex(r["leaf_hash"]), 3, 11, [bytes.fromhex(p) for p in r["proof"]],
                                   bytes.fromhex(cp["root"]))  # fmt: skip
    r = client.get("/api/audit/proof/consistency", params={"first": 6, "second": 11}).json()
    assert merkle.verify_consistency(6, 11, bytes.fromhex(first["root"]), bytes.fromhex(cp["root"]),
                                     [bytes.fromhex(p) for p in r["proof"]])  # fmt: skip
    for params in ({"index": 11}, {"index": 0, "size": 12}, {"index": -1}):
        bad = client.get("/api/audit/proof/inclusion", params=params)
        assert bad.status_code == 422 and "error" in bad.json()
    assert client.get("/api/audit/proof/consistency", params={"first": 12}).status_code == 422
    assert client.get("/api/audit/entries").status_code == 401
    viewer = signup(client, "viewer")
    assert client.get("/api/audit/entries", headers=viewer).status_code == 403
    auditor = signup(client, "auditor")
    with rt.db.transaction() as s:
        s.execute(update(User).where(User.username_key == "auditor").values(role="admin"))
    body = client.get("/api/audit/entries", params={"start": 9}, headers=auditor).json()
    assert body["size"] == 11 and [e["index"] for e in body["entries"]] == [9, 10]
    with rt.db.transaction() as s:  # a tampered log: no head is ever signed over it
        s.execute(text("UPDATE audit_entries SET subject = 'setting:z' WHERE idx = 1"))
    # The public endpoint does bounded work per call (issue 14): it keeps serving the head it verified and
    # signed, without re-reading old entries; the full check (`sovereel audit checkpoint` / `verify`) refuses.
    assert client.get("/api/audit/checkpoint").json() == cp
    with pytest.raises(AppError, match="fails verification"):
        do_checkpoint(rt.db, rt.learner.gate.keys)


def test_a_process_logs_its_settings_when_they_change_with_secrets_as_digests(sqlite_rt: RegionRuntime) -> None:
    from sovereel.actions.audit import do_record_settings

    first = sqlite_rt.settings
    assert do_record_settings(sqlite_rt.db, first) is not None
    assert first_values(sqlite_rt)["max_upload_mb"] == 200
    assert do_record_settings(sqlite_rt.db, first) is None  # unchanged: nothing logged
    changed = first.model_copy(update={"max_upload_mb": 50, "secret_key": "s3cret-value-of-production"})
    assert do_record_settings(sqlite_rt.db, changed) is not None
    with sqlite_rt.db.session() as s:
        logged = [r for r in read_records(s) if r.kind == "settings.changed"]
    assert len(logged) == 2 and logged[0].detail["first"] and logged[1].detail["changes"]["max_upload_mb"] == [200, 50]
    old, new = logged[1].detail["changes"]["secret_key"]
    assert old.startswith("sha256:") and new.startswith("sha256:") and old != new
    assert "s3cret" not in json.dumps([r.detail for r in logged])


def first_values(rt: RegionRuntime) -> dict[str, object]:
    with rt.db.session() as s:
        return dict(read_records(s, kind="settings.changed")[0].detail["values"])
