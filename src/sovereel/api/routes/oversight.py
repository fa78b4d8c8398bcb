"""The overseer's read-only API and pages (/api/oversight/…, /oversight/…) and the public /about/for-you page.

Only an account with the `overseer` role reaches the oversight routes (401 signed out, 403 for anyone else),
and every one of them is a GET. `ReadOnlyOverseer` makes the role read-only everywhere: an overseer's
request that would change state (any non-GET API call but signing in and out) is refused with 403.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sovereel.actions.accounts import user_for_token
from sovereel.actions.audit import latest_checkpoint
from sovereel.api.deps import OptionalUser, RuntimeDep, request_token
from sovereel.errors import AppError, Forbidden, Unauthorized
from sovereel.foryou.learner import current_version, registry_dir
from sovereel.governance.checkpoint import CheckpointError, verify_checkpoint_signature
from sovereel.governance.manifest import Verdict, check_signature
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
from sovereel.governance.registry import check_version
from sovereel.governance.replay import RankerCache, load_archived_params, replay_reason
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import User
from sovereel.web.render import PageRenderer

router = APIRouter(prefix="/api/oversight", tags=["oversight"])
public_router = APIRouter(prefix="/api/about", tags=["oversight"])
pages = APIRouter(include_in_schema=False)
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


def _rankers(request: Request, rt: RegionRuntime) -> RankerCache:
    caches: dict[Path, RankerCache] = request.app.state.oversight_rankers
    registry = registry_dir(rt.settings.region_dir)
    if registry not in caches:

        def check(version: str) -> str | None:
            verdict = check_version(rt.db, rt.settings.region_dir, version, rt.learner.gate.keys)
            return None if verdict.ok else _verdict_words(verdict)

        caches[registry] = RankerCache(registry, check)  # a version is checked once, when its ranker is loaded
    return caches[registry]


# -- plain reads shared by the API and the pages --------------------------------------------------------------
def impressions_json(rt: RegionRuntime, limit: int, before: int | None) -> dict[str, Any]:
    """The impressions list (users pseudonymised)."""
    with rt.db.session() as s:
        return list_impressions(s, _names(rt), limit=limit, before=before)


def replay_json(rt: RegionRuntime, rankers: RankerCache, impression_id: int) -> dict[str, Any]:
    """One impression (redacted) and its replay, term by term."""
    names = _names(rt)
    with rt.db.session() as s:
        row = get_impression(s, impression_id)
        summary = impression_summary(row, names)
        reason = dict(row.reason or {})
    live = rt.learner.recommender.params
    params = load_archived_params(rt.settings.region_dir, str(reason.get("params_version", "")), live)
    result = replay_reason(reason, params, rankers)
    return {"impression": summary, "reason": redacted_reason(reason, names), "replay": result.as_dict()}


def _verdict_words(verdict: Verdict) -> str:
    return "verified" if verdict.ok else f"{verdict.code}: {verdict.reason}"


def models_json(rt: RegionRuntime) -> dict[str, Any]:
    """The region's model registry as model cards (each manifest's signature checked with the region's keys)."""
    current = current_version(rt.settings.region_dir)
    keys = rt.learner.gate.keys

    def check(_directory: Path, manifest: dict[str, Any]) -> str:
        return _verdict_words(check_signature(manifest, keys))

    return {
        "current": current,
        "serving": rt.learner.scorer.version,
        "models": list_models(registry_dir(rt.settings.region_dir), current, check),
    }


def model_json(rt: RegionRuntime, version: str) -> dict[str, Any]:
    """One model card with its lineage; the whole version is checked (signature, file digests, licence)."""

    def check(_directory: Path, _manifest: dict[str, Any]) -> str:
        return _verdict_words(check_version(rt.db, rt.settings.region_dir, version, rt.learner.gate.keys))

    return get_model(registry_dir(rt.settings.region_dir), version, current_version(rt.settings.region_dir), check)


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
@router.get("/impressions", summary="Logged For You impressions, newest first (users pseudonymised)")
async def impressions(
    _: OverseerDep, rt: RuntimeDep, limit: int = Query(50, ge=1, le=200), before: int | None = Query(None, ge=0)
) -> dict[str, Any]:
    return await run_in_threadpool(impressions_json, rt, limit, before)


@router.get("/impressions/{impression_id}/replay", summary="Re-run one impression's scoring and compare term by term")
async def replay(request: Request, impression_id: int, _: OverseerDep, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(replay_json, rt, _rankers(request, rt), impression_id)


@router.get("/models", summary="Model versions in the region's registry, as model cards")
async def models(_: OverseerDep, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(models_json, rt)


@router.get("/models/{version}", summary="One model card with its lineage")
async def model(version: str, _: OverseerDep, rt: RuntimeDep) -> dict[str, Any]:
    return await run_in_threadpool(model_json, rt, version)


@router.get("/algorithm", summary="How For You works, generated from the live parameter set")
async def algorithm(_: OverseerDep, rt: RuntimeDep) -> dict[str, Any]:
    return algorithm_json(rt)


@router.get("/audit", summary="Audit log entries with inclusion proofs against the newest signed checkpoint")
async def audit(
    _: OverseerDep, rt: RuntimeDep, start: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=200)
) -> dict[str, Any]:
    return await run_in_threadpool(audit_json, rt, start, limit)


@public_router.get("/for-you", summary="How For You works (EU DSA Art. 27), for everyone")
async def about_for_you(rt: RuntimeDep) -> dict[str, Any]:
    return algorithm_json(rt)


# -- the pages ------------------------------------------------------------------------------------------------
def build_pages(render: PageRenderer) -> APIRouter:
    """The /oversight pages and the public /about/for-you page."""

    def gate(request: Request, viewer: User | None) -> Response | None:
        if viewer is None:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if viewer.role != OVERSEER:
            message = "This page is for the overseer role only."
            return render(request, "oversight.html", title="Oversight", viewer=viewer, section="denied",
                          message=message, status_code=403)  # fmt: skip
        return None

    def page(request: Request, viewer: User, section: str, title: str, **context: Any) -> Response:
        return render(
            request, "oversight.html", title=title, viewer=viewer, nav="oversight", section=section, **context
        )

    @pages.get("/oversight")
    async def home(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        data = await run_in_threadpool(models_json, rt)
        return page(request, viewer, "home", "Oversight", models=data, region=rt.region)

    @pages.get("/oversight/audit")
    async def audit_page(request: Request, viewer: OptionalUser, rt: RuntimeDep, start: int = 0) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        data = await run_in_threadpool(audit_json, rt, max(0, start), 50)
        return page(request, viewer, "audit", "Audit log", audit=data)

    @pages.get("/oversight/models")
    async def models_page(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        return page(request, viewer, "models", "Model versions", models=await run_in_threadpool(models_json, rt))

    @pages.get("/oversight/models/{version}")
    async def model_page(request: Request, version: str, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        try:
            card = await run_in_threadpool(model_json, rt, version)
        except AppError as exc:
            return page(request, viewer, "error", "Model version", message=exc.message, status_code=exc.status)
        return page(request, viewer, "model", f"Model {version}", card=card)

    @pages.get("/oversight/for-you")
    async def algorithm_page(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        return page(request, viewer, "for_you", "How For You works", about=algorithm_json(rt))

    @pages.get("/oversight/replay")
    async def replay_list(
        request: Request, viewer: OptionalUser, rt: RuntimeDep, before: int | None = None
    ) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        data = await run_in_threadpool(impressions_json, rt, 50, before if before and before > 0 else None)
        return page(request, viewer, "replay_list", "Replay", impressions=data)

    @pages.get("/oversight/replay/{impression_id}")
    async def replay_page(request: Request, impression_id: int, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        if (denied := gate(request, viewer)) is not None or viewer is None:
            return denied or RedirectResponse("/login", status_code=303)
        try:
            data = await run_in_threadpool(replay_json, rt, _rankers(request, rt), impression_id)
        except AppError as exc:
            return page(request, viewer, "error", "Replay", message=exc.message, status_code=exc.status)
        return page(request, viewer, "replay", f"Replay of impression {impression_id}", data=data)

    @pages.get("/about/for-you")
    async def about_page(request: Request, viewer: OptionalUser, rt: RuntimeDep) -> Response:
        return render(request, "oversight_about_page.html", title="How For You works", viewer=viewer,
                      about=algorithm_json(rt))  # fmt: skip

    return pages


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
    """Add the oversight API, its pages, /about/for-you, and the overseer's read-only guard."""
    app.state.oversight_rankers = {}
    app.include_router(router)
    app.include_router(public_router)
    app.include_router(build_pages(PageRenderer()))
    app.add_middleware(ReadOnlyOverseer)
