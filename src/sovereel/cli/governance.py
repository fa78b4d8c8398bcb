"""`sovereel audit …` and `sovereel model …`: checkpoints, offline log verification, model verify/export/promote.

Each command exits 0 on success and 1 with the reason when a check fails or an action is refused.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from sovereel.errors import AppError
from sovereel.settings import Settings, load_settings
from sovereel.storage.db import open_region_db

Settle = Callable[[argparse.Namespace], Settings]


def cmd_audit_checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    from sovereel.actions.audit import do_checkpoint
    from sovereel.governance.signing import region_keys

    db = open_region_db(settings)
    try:
        cp = do_checkpoint(db, region_keys(settings))
    finally:
        db.dispose()
    Path(args.out).write_text(json.dumps(cp, indent=2, sort_keys=True) + "\n")
    print(f"region {settings.region}: checkpoint of {cp['size']} entries, root {cp['root']} -> {args.out}")
    return 0


def cmd_audit_export(settings: Settings, args: argparse.Namespace) -> int:
    from sovereel.governance.audit import export_log

    db = open_region_db(settings)
    try:
        with db.session() as s:
            n = export_log(s, Path(args.out), settings.region)
    finally:
        db.dispose()
    print(f"region {settings.region}: {n} audit entries -> {args.out}")
    return 0


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from sovereel.governance.audit import read_log_file, read_records
    from sovereel.governance.checkpoint import CheckpointError, verify_log
    from sovereel.governance.signing import region_keys

    try:
        cp = json.loads(Path(args.checkpoint).read_text())
    except (OSError, ValueError) as exc:
        print(f"FAIL: cannot read the checkpoint {args.checkpoint}: {exc}")
        return 1
    if args.public_key:
        raw = bytes.fromhex(Path(args.public_key).read_text().strip())
        lookup: Callable[[str], bytes | None] = lambda region: raw if region == cp.get("region") else None  # noqa: E731
    else:
        lookup = region_keys(settings).public_key_for
    if args.log:
        try:
            _header, records = read_log_file(Path(args.log))
        except (OSError, ValueError) as exc:
            print(f"FAIL: {exc}")
            return 1
    else:
        db = open_region_db(settings)
        try:
            with db.session() as s:
                records = read_records(s)
        finally:
            db.dispose()
    try:
        report = verify_log(records, cp, lookup)
    except CheckpointError as exc:
        print(f"FAIL: {exc}")
        return 1
    if report.ok:
        print(f"OK: {report.size} entries; the first {cp['size']} match the checkpoint root {cp['root']}")
        return 0
    if report.first_bad is not None:
        print(f"FAIL: first bad entry: {report.first_bad}")
    else:  # every entry and link checks out, yet the prefix's root differs: rewritten wholesale and re-chained
        print(f"FAIL: the first {cp['size']} entries were rewritten (each consistent, the whole not the signed one)")
    print(report.describe())
    return 1


def cmd_model_verify(settings: Settings, args: argparse.Namespace) -> int:
    from sovereel.governance.lineage import verify_model
    from sovereel.governance.signing import region_keys

    db = open_region_db(settings)
    try:
        report = verify_model(db, settings.region_dir, args.version, region_keys(settings))
    finally:
        db.dispose()
    for line in report.checks:
        print(f"ok    {line}")
    for line in report.problems:
        print(f"FAIL  {line}")
    return 0 if report.ok else 1


def dest_side_settings(settings: Settings, region: str) -> Settings:
    """Settings for another region's store in this deployment (embedded default: data_dir/<region>)."""
    regions = getattr(settings, "regions", {}) or {}
    url = str((regions.get(region) or {}).get("database_url") or "")
    return load_settings(data_dir=settings.data_dir, region=region, database_url=url, media_url="")


def cmd_model_export(settings: Settings, args: argparse.Namespace) -> int:
    from sovereel.actions.models import RegionSide, do_export_model
    from sovereel.governance.signing import region_keys, trusted_dir

    dest_settings = dest_side_settings(settings, args.to)
    src_db, dest_db = open_region_db(settings), open_region_db(dest_settings)
    try:
        result = do_export_model(
            RegionSide(src_db, settings.region_dir, trusted_dir(settings)),
            RegionSide(dest_db, dest_settings.region_dir, dest_settings.region_dir / "trusted_keys"),
            version=args.version,
            licence=args.licence,
            keys=region_keys(settings),
        )
    except AppError as exc:
        print(f"REFUSED: {exc.message}")
        return 1
    finally:
        src_db.dispose()
        dest_db.dispose()
    print(f"model {args.version} exported {settings.region} -> {args.to} under licence {args.licence}")
    print(f"copied to {result['path']}; recorded in both regions' audit logs")
    if result["key_trusted_now"]:
        print(f"{args.to} now trusts {settings.region}'s public key")
    return 0


def cmd_model_promote(settings: Settings, args: argparse.Namespace) -> int:
    from sovereel.actions.models import do_promote
    from sovereel.governance.signing import region_keys

    db = open_region_db(settings)
    try:
        do_promote(db, settings.region_dir, args.version, region_keys(settings))
    except AppError as exc:
        print(f"REFUSED: {exc.message}")
        return 1
    finally:
        db.dispose()
    print(f"region {settings.region}: model {args.version} is current; running servers swap it in")
    return 0


def add_governance_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], settle: Settle) -> None:
    """Register `audit` and `model` with their subcommands."""

    def bind(fn: Callable[[Settings, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        return lambda args: fn(settle(args), args)

    audit = sub.add_parser("audit", help="the region's audit log: checkpoints, export, verification")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    cp = asub.add_parser("checkpoint", help="sign a checkpoint (tree head) of the log and save it")
    cp.add_argument("--out", required=True)
    cp.set_defaults(func=bind(cmd_audit_checkpoint))
    ex = asub.add_parser("export", help="write the whole log to a JSON Lines file")
    ex.add_argument("--out", required=True)
    ex.set_defaults(func=bind(cmd_audit_export))
    ver = asub.add_parser("verify", help="verify the live log (or an exported one) against an earlier checkpoint")
    ver.add_argument("--checkpoint", required=True)
    ver.add_argument("--log", help="an exported log file instead of the live database")
    ver.add_argument("--public-key", help="a file with the region's public key (hex), for offline checks")
    ver.set_defaults(func=bind(cmd_audit_verify))

    model = sub.add_parser("model", help="model versions: verify, export under licence, promote")
    msub = model.add_subparsers(dest="model_command", required=True)
    mv = msub.add_parser("verify", help="check a version's signature, weights and training events")
    mv.add_argument("version")
    mv.set_defaults(func=bind(cmd_model_verify))
    me = msub.add_parser("export", help="send a version to another region under a recorded licence")
    me.add_argument("--version", required=True)
    me.add_argument("--to", required=True, help="the destination region")
    me.add_argument("--licence", required=True, help="the export licence id")
    me.set_defaults(func=bind(cmd_model_export))
    mp = msub.add_parser("promote", help="make a verified (own or licensed) version current")
    mp.add_argument("version")
    mp.set_defaults(func=bind(cmd_model_promote))
