"""The audit log over HTTP: the signed checkpoint and Merkle proofs (public), the entries (overseer and admin).

Proofs are over the stored leaf hashes; a client checks them against a checkpoint it holds
(`sovereel.governance.merkle.verify_inclusion` / `verify_consistency`, or any RFC 9162 verifier).
The public routes do bounded work per request: they answer from this process's verified tree
(`governance.audit_tree`), which reads each new entry once, never the whole log per call.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from sovereel.actions.audit import do_public_checkpoint
from sovereel.api.deps import CurrentUser, RuntimeDep
from sovereel.api.schemas.audit import AuditEntries, Checkpoint, ConsistencyProof, InclusionProof
from sovereel.api.schemas.common import errors
from sovereel.errors import Conflict, Forbidden, Invalid
from sovereel.governance.audit import log_size, read_records
from sovereel.governance.audit_tree import TreeTampered, VerifiedTree, read_tree
from sovereel.runtime.region import RegionRuntime

router = APIRouter(prefix="/api/audit", tags=["audit"])
READER_ROLES = frozenset({"overseer", "admin"})
MAX_ENTRIES = 500


def _checkpoint(rt: RegionRuntime) -> dict[str, Any]:
    return do_public_checkpoint(rt.db, rt.learner.gate.keys)


@router.get(
    "/checkpoint",
    summary="A signed tree head of the audit log as it is now (public)",
    response_model=Checkpoint,
    responses=errors(409),
)
async def checkpoint(rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(_checkpoint, rt)


def _entries(rt: RegionRuntime, start: int, limit: int, kind: str | None) -> dict[str, Any]:
    with rt.db.session() as s:
        size = log_size(s)
        records = read_records(s, start=start, limit=limit, kind=kind)
    return {"size": size, "entries": [r.to_json() for r in records]}


@router.get(
    "/entries",
    summary="Audit entries in index order (overseer and admin roles)",
    response_model=AuditEntries,
    responses=errors(),
)
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


def _sized(tree: VerifiedTree, size: int | None) -> int:
    if size is not None and size > tree.size:
        raise Invalid(f"the log has {tree.size} entries; size {size} is beyond it", code="bad_size")
    return tree.size if size is None else size


def _from_tree(rt: RegionRuntime, read: Any) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = read_tree(rt.db, read)
    except TreeTampered as exc:
        raise Conflict("the audit log fails verification: " + str(exc), code="audit_tampered") from exc
    return answer


def _inclusion(rt: RegionRuntime, index: int, size: int | None) -> dict[str, Any]:
    def read(tree: VerifiedTree) -> dict[str, Any]:
        n = _sized(tree, size)
        if index >= n:
            raise Invalid(f"index {index} is not in a tree of size {n}", code="bad_index")
        return {
            "index": index,
            "size": n,
            "leaf_hash": tree.leaf(index).hex(),
            "proof": [p.hex() for p in tree.inclusion_proof(index, n)],
            "root": tree.root(n).hex(),
        }

    return _from_tree(rt, read)


@router.get(
    "/proof/inclusion",
    summary="The audit path of entry `index` in the tree of the first `size` entries",
    response_model=InclusionProof,
    responses=errors(409),
)
async def inclusion(
    rt: RuntimeDep, index: Annotated[int, Query(ge=0)], size: Annotated[int | None, Query(ge=1)] = None
) -> dict[str, Any]:
    return await run_in_threadpool(_inclusion, rt, index, size)


def _consistency(rt: RegionRuntime, first: int, second: int | None) -> dict[str, Any]:
    def read(tree: VerifiedTree) -> dict[str, Any]:
        n = _sized(tree, second)
        if first > n:
            raise Invalid(f"first ({first}) must not exceed second ({n})", code="bad_size")
        return {
            "first": first,
            "second": n,
            "first_root": tree.root(first).hex(),
            "second_root": tree.root(n).hex(),
            "proof": [p.hex() for p in tree.consistency_proof(first, n)],
        }

    return _from_tree(rt, read)


@router.get(
    "/proof/consistency",
    summary="Proof that the first `first` entries are a prefix of the first `second`",
    response_model=ConsistencyProof,
    responses=errors(409),
)
async def consistency(
    rt: RuntimeDep, first: Annotated[int, Query(ge=1)], second: Annotated[int | None, Query(ge=1)] = None
) -> dict[str, Any]:
    return await run_in_threadpool(_consistency, rt, first, second)
