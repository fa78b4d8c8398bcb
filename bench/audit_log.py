"""Speed of the audit log: appends, signing a checkpoint, and building proofs, on SQLite and PostgreSQL.

    python bench/audit_log.py [--entries 20000] [--postgres postgresql://postgres@127.0.0.1:5432/test]
    # writes bench/results/audit_log.json

Measures per backend: one append per transaction (ms), appends in transactions of 500 (µs each),
`do_checkpoint` over the whole log (re-verifies every entry, then signs), reading the leaves and
building one inclusion proof, and one consistency proof.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from sovereel.actions.audit import do_checkpoint
from sovereel.governance import merkle
from sovereel.governance.audit import append_audit, stored_leaves
from sovereel.governance.signing import keys_for_dir
from sovereel.storage.db import RegionDB, open_engine
from sovereel.storage.migrate import upgrade

RESULTS = Path(__file__).resolve().parent / "results" / "audit_log.json"


def append(db: RegionDB, per_txn: int, txns: int) -> float:
    """Seconds per entry."""
    start = time.perf_counter()
    for _ in range(txns):
        with db.transaction() as s:
            for i in range(per_txn):
                append_audit(s, region=db.region, kind="settings.changed", actor_id=None, subject="setting:x",
                             detail={"i": i})  # fmt: skip
    return (time.perf_counter() - start) / (per_txn * txns)


def measure(db: RegionDB, entries: int, workdir: Path) -> dict[str, Any]:
    keys = keys_for_dir(db.region, workdir)
    single = append(db, 1, 1000)
    batched = append(db, 500, max(1, (entries - 1000) // 500))
    start = time.perf_counter()
    cp = do_checkpoint(db, keys)
    checkpoint_s = time.perf_counter() - start
    start = time.perf_counter()
    with db.session() as s:
        leaves = stored_leaves(s)
    merkle.inclusion_proof(leaves, len(leaves) // 3, len(leaves))
    inclusion_s = time.perf_counter() - start
    start = time.perf_counter()
    merkle.consistency_proof(leaves, len(leaves) // 2, len(leaves))
    consistency_s = time.perf_counter() - start
    return {
        "entries": cp["size"],
        "append_own_txn_ms": round(single * 1e3, 3),
        "append_500_per_txn_us": round(batched * 1e6, 1),
        "checkpoint_s": round(checkpoint_s, 3),
        "inclusion_proof_ms": round(inclusion_s * 1e3, 1),
        "consistency_proof_ms": round(consistency_s * 1e3, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        engine = open_engine(f"sqlite:///{work / 'audit.db'}")
        upgrade(engine)
        out["sqlite"] = measure(RegionDB("bench", engine), args.entries, work)
        engine.dispose()
        if args.postgres:
            schema = f"bench_{secrets.token_hex(4)}"
            admin = open_engine(args.postgres)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                engine = open_engine(args.postgres, schema=schema)
                upgrade(engine)
                out["postgresql"] = measure(RegionDB("bench", engine), args.entries, work)
                engine.dispose()
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
