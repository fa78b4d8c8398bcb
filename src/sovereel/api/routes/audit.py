"""The audit log over HTTP: the signed checkpoint and Merkle proofs (public), the entries (overseer and admin).

Proofs are over the stored leaf hashes; a client checks them against a checkpoint it holds
(`sovereel.governance.merkle.verify_inclusion` / `verify_consistency`, or any RFC 9162 verifier).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from sovereel.actions.audit import do_checkpoint
from sovereel.api.deps import CurrentUser, RuntimeDep
from sovereel.errors import Forbidden, Invalid
from sovereel.governance import merkle
from sovereel.governance.audit import log_size, read_records, stored_leaves
from sovereel.runtime import RegionRuntime

router = APIRouter(prefix="/api/audit", tags=["audit"])
READER_ROLES = frozenset({"overseer", "admin"})
MAX_ENTRIES = 500


def _checkpoint(rt: RegionRuntime) -> dict[str, Any]:
    return do_checkpoint(rt.db, rt.learner.gate.keys)


@router.get("/checkpoint", summary="A signed tree head of the audit log as it is now (public)")
async def checkpoint(rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(_checkpoint, rt)


def _entries(rt: RegionRuntime, start: int, limit: int, kind: str | None) -> dict[str, Any]:
    with rt.db.session() as s:
        size = log_size(s)
        records = read_records(s, start=start, limit=limit, kind=kind)
    return {"size": size, "entries": [r.to_json() for r in records]}


@router.get("/entries", summary="Audit entries in index order (overseer and admin roles)")
async def entries(
    user: CurrentUser,
    rt: RuntimeDep,
    start: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = 100,
    kind: Annotated[str | None, Query(max_length=48)] = None,
) -> dict[str, Any]:
    if user.role not in READER_ROLES:
        raise Forbidden("only the overseer and admin roles may read audit entries", code="not_auditor")
    return await run_in_threadpool(_entries, rt, start, limit, kind)


def _leaves(rt: RegionRuntime, size: int | None) -> tuple[list[bytes], int]:
    with rt.db.session() as s:
        total = log_size(s)
        if size is not None and size > total:
            raise Invalid(f"the log has {total} entries; size {size} is beyond it", code="bad_size")
        return stored_leaves(s, size), total


def _inclusion(rt: RegionRuntime, index: int, size: int | None) -> dict[str, Any]:
    leaves, _ = _leaves(rt, size)
    n = len(leaves)
    if index >= n:
        raise Invalid(f"index {index} is not in a tree of size {n}", code="bad_index")
    proof = merkle.inclusion_proof(leaves, index, n)
    return {
        "index": index,
        "size": n,
        "leaf_hash": leaves[index].hex(),
        "proof": [p.hex() for p in proof],
        "root": merkle.root(leaves).hex(),
    }


@router.get("/proof/inclusion", summary="The audit path of entry `index` in the tree of the first `size` entries")
async def inclusion(
    rt: RuntimeDep, index: Annotated[int, Query(ge=0)], size: Annotated[int | None, Query(ge=1)] = None
) -> dict[str, Any]:
    return await run_in_threadpool(_inclusion, rt, index, size)


def _consistency(rt: RegionRuntime, first: int, second: int | None) -> dict[str, Any]:
    leaves, _ = _leaves(rt, second)
    n = len(leaves)
    if first > n:
        raise Invalid(f"first ({first}) must not exceed second ({n})", code="bad_size")
    proof = merkle.consistency_proof(leaves, first, n)
    return {
        "first": first,
        "second": n,
        "first_root": merkle.root(leaves[:first]).hex(),
        "second_root": merkle.root(leaves).hex(),
        "proof": [p.hex() for p in proof],
    }


@router.get("/proof/consistency", summary="Proof that the first `first` entries are a prefix of the first `second`")
async def consistency(
    rt: RuntimeDep, first: Annotated[int, Query(ge=1)], second: Annotated[int | None, Query(ge=1)] = None
) -> dict[str, Any]:
    return await run_in_threadpool(_consistency, rt, first, second)
