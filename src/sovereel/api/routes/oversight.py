"""The overseer's read-only API (/api/oversight/…) and the public /api/about/for-you (the pages: `web.oversight_pages`).

Only an account with the `overseer` role reaches the oversight routes (401 signed out, 403 for anyone else),
and every one of them is a GET. `ReadOnlyOverseer` makes the role read-only everywhere: an overseer's
request that would change state (any non-GET API call but signing in and out) is refused with 403.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from sovereel.api.deps import OptionalUser, RuntimeDep, request_token
from sovereel.api.schemas.common import errors
from sovereel.api.schemas.oversight import (
    AlgorithmDescription,
    ImpressionList,
    ModelDetail,
    ModelList,
    OversightAudit,
    Replay,
)
from sovereel.errors import Forbidden, Unauthorized
from sovereel.governance.checkpoint import CheckpointError, verify_checkpoint_signature
from sovereel.governance.manifest import Verdict, check_signature
from sovereel.governance.model_registry import check_version
from sovereel.governance.overseer import (
    OVERSEER,
    Pseudonyms,
    audit_view,
    get_impression,
    get_model,
    impression_summary,
    list_impressions,
    list_models,
    redacted_reason,
)
from sovereel.governance.plain_words import describe_for_you
from sovereel.governance.replay import RankerCache, load_archived_params, replay_reason
from sovereel.queries.accounts import user_for_token
from sovereel.queries.audit import latest_checkpoint
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import User

router = APIRouter(prefix="/api/oversight", tags=["oversight"])
public_router = APIRouter(prefix="/api/about", tags=["oversight"])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OVERSEER_MAY_POST = frozenset({"/api/auth/login", "/api/auth/logout"})


def require_overseer(user: OptionalUser) -> User:
    """The signed-in overseer; 401 when signed out, 403 for any other account."""
    if user is None:
        raise Unauthorized("sign in first", code="not_signed_in")
    if user.role != OVERSEER:
        raise Forbidden("only the overseer role may use the oversight views", code="not_overseer")
    return user


OverseerDep = Annotated[User, Depends(require_overseer)]


def _names(rt: RegionRuntime) -> Pseudonyms:
    return Pseudonyms(rt.settings.secret_key)


def ranker_cache(request: Request, rt: RegionRuntime) -> RankerCache:
    caches: dict[Path, RankerCache] = request.app.state.oversight_rankers
    registry = rt.learner.registry
    if registry.root not in caches:

        def check(version: str) -> str | None:
            verdict = check_version(rt.db, registry, version, rt.learner.gate.keys)
            return None if verdict.ok else _verdict_words(verdict)

        caches[registry.root] = RankerCache(registry, check)  # a version is checked once, when its ranker is loaded
    return caches[registry.root]


# -- plain reads shared by the API and the pages --------------------------------------------------------------
def impressions_json(rt: RegionRuntime, limit: int, before: int | None) -> dict[str, Any]:
    """The impressions list (users pseudonymised)."""
    rt.impressions.flush()  # pages served a moment ago are listed too
    with rt.db.session() as s:
        return list_impressions(s, _names(rt), limit=limit, before=before)


def replay_json(rt: RegionRuntime, rankers: RankerCache, impression_id: int) -> dict[str, Any]:
    """One impression (redacted) and its replay, term by term."""
    names = _names(rt)
    rt.impressions.flush()  # every read of the table waits for the queued rows first (free when none wait)
    with rt.db.session() as s:
        row = get_impression(s, impression_id)
        summary = impression_summary(row, names)
        reason = dict(row.reason or {})
    live = rt.learner.recommender.params
    params = load_archived_params(rt.learner.registry, str(reason.get("params_version", "")), live)
    result = replay_reason(reason, params, rankers)
    return {"impression": summary, "reason": redacted_reason(reason, names), "replay": result.as_dict()}


def _verdict_words(verdict: Verdict) -> str:
    return "verified" if verdict.ok else f"{verdict.code}: {verdict.reason}"


def models_json(rt: RegionRuntime) -> dict[str, Any]:
    """The region's model registry as model cards (each manifest's signature checked with the region's keys)."""
    registry = rt.learner.registry
    keys = rt.learner.gate.keys

    def check(_version: str, manifest: dict[str, Any]) -> str:
        return _verdict_words(check_signature(manifest, keys))

    return {
        "current": registry.current(),
        "serving": rt.learner.scorer.version,
        "models": list_models(registry, check),
    }


def model_json(rt: RegionRuntime, version: str) -> dict[str, Any]:
    """One model card with its lineage; the whole version is checked (signature, file digests, licence)."""

    registry = rt.learner.registry

    def check(_version: str, _manifest: dict[str, Any]) -> str:
        return _verdict_words(check_version(rt.db, registry, version, rt.learner.gate.keys))

    return get_model(registry, version, check)


def algorithm_json(rt: RegionRuntime) -> dict[str, Any]:
    """The plain-words description generated from the live parameter set."""
    return describe_for_you(rt.learner.recommender.params, rt.learner.scorer.version)


def audit_json(rt: RegionRuntime, start: int, limit: int) -> dict[str, Any]:
    """Audit entries with inclusion proofs and the newest signed checkpoint."""
    with rt.db.session() as s:
        view = audit_view(s, _names(rt), start=start, limit=limit)
    view["checkpoint_signature"] = None
    if view["checkpoint"] is not None:
        keys = rt.learner.gate.keys
        signed = latest_checkpoint(rt.db, keys)
        try:
            if signed is None or signed["size"] != view["checkpoint"]["size"]:
                raise CheckpointError("a newer checkpoint was signed meanwhile; reload")
            verify_checkpoint_signature(signed, keys.public_key_for)
            view["checkpoint_signature"] = "verified"
        except CheckpointError as exc:
            view["checkpoint_signature"] = f"not verified: {exc}"
    return view


# -- the JSON API ---------------------------------------------------------------------------------------------
@router.get(
    "/impressions",
    summary="Logged For You impressions, newest first (users pseudonymised)",
    response_model=ImpressionList,
    responses=errors(),
)
async def impressions(
    _: OverseerDep, rt: RuntimeDep, limit: int = Query(50, ge=1, le=200), before: int | None = Query(None, ge=0)
) -> dict[str, Any]:
    return await run_in_threadpool(impressions_json, rt, limit, before)


@router.get(
    "/impressions/{impression_id}/replay",
    summary="Re-run one impression's scoring and compare term by term",
    response_model=Replay,
    responses=errors(404),
)
async def replay(request: Request, impression_id: int, _: OverseerDep, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(replay_json, rt, ranker_cache(request, rt), impression_id)


@router.get(
    "/models",
    summary="Model versions in the region's registry, as model cards",
    response_model=ModelList,
    responses=errors(),
)
async def models(_: OverseerDep, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(models_json, rt)


@router.get(
    "/models/{version}",
    summary="One model card with its lineage",
    response_model=ModelDetail,
    responses=errors(404),
)
async def model(version: str, _: OverseerDep, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(model_json, rt, version)


@router.get(
    "/algorithm",
    summary="How For You works, generated from the live parameter set",
    response_model=AlgorithmDescription,
    responses=errors(),
)
async def algorithm(_: OverseerDep, rt: RuntimeDep) -> dict[str, Any]:
    return algorithm_json(rt)


@router.get(
    "/audit",
    summary="Audit log entries with inclusion proofs against the newest signed checkpoint",
    response_model=OversightAudit,
    responses=errors(),
)
async def audit(
    _: OverseerDep, rt: RuntimeDep, start: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=200)
) -> dict[str, Any]:
    return await run_in_threadpool(audit_json, rt, start, limit)


@public_router.get(
    "/for-you",
    summary="How For You works (EU DSA Art. 27), for everyone",
    response_model=AlgorithmDescription,
    responses=errors(),
)
async def about_for_you(rt: RuntimeDep) -> dict[str, Any]:
    return algorithm_json(rt)


class ReadOnlyOverseer:
    """ASGI middleware: an overseer's state-changing API requests are refused (403), whatever the endpoint."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            request = Request(scope)
            path = request.url.path
            if path.startswith("/api/") and path not in OVERSEER_MAY_POST and await self._is_overseer(request):
                body = {"error": {"code": "read_only_role", "message": "the overseer role is read-only"}}
                await JSONResponse(body, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _is_overseer(request: Request) -> bool:
        token = request_token(request)
        rt: RegionRuntime | None = getattr(request.state, "rt", None)
        if not token or rt is None:
            return False
        user = await run_in_threadpool(user_for_token, rt.db, rt.settings.secret_key, token)
        return user is not None and user.role == OVERSEER


def install(app: FastAPI) -> None:
    """Add the oversight API and the overseer's read-only guard (the pages are in `web.oversight_pages`)."""
    app.state.oversight_rankers = {}
    app.include_router(router)
    app.include_router(public_router)
    app.add_middleware(ReadOnlyOverseer)
