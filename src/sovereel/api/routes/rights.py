"""User data rights and the content exchange over HTTP.

- `POST /api/me/exports` starts "Download my data" (202); `GET /api/me/exports/{id}` shows its progress and,
  when ready, a signed link valid for `SOVEREEL_EXPORT_LINK_S`; `GET /api/exports/{id}/download` serves the
  zip to its owner only (403 for anyone else, 410 once the link has expired).
- `DELETE /api/me` erases the account (the password must be entered again).
- `GET /api/exchange/videos` is this region's public content exchange feed (public videos, no personal data),
  and `GET /api/exchange/offered` says which copies are still offered; both answer requests signed by a peer
  region's key only (401 and nothing written otherwise; `governance.http_signatures`).
- `GET /account/data` is the page with the export's progress bar and the delete-account form.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from sovereel.actions.exchange import do_offer_videos
from sovereel.actions.refusals import record_unauthenticated
from sovereel.actions.rights import do_delete_account, do_request_export, run_export
from sovereel.api.deps import SESSION_COOKIE, CurrentUser, RuntimeDep
from sovereel.api.media_range import blob_response
from sovereel.api.schemas.common import binary_responses, errors
from sovereel.api.schemas.rights import AccountErased, ExchangeFeed, ExchangeOffered, ExportList, ExportPublic
from sovereel.errors import AppError, Forbidden, NotFound
from sovereel.governance.http_signatures import NONCE_TTL_S, PeerNotAuthenticated, verify_request
from sovereel.governance.rights import link_is_signed, sign_link
from sovereel.governance.signing import trusted_dir, trusted_key
from sovereel.queries.exchange import still_offered
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import DataExport

router = APIRouter(tags=["user rights"])


class Gone(AppError):
    """A link that has expired (410)."""

    status = 410
    code = "link_expired"


class DeleteAccountIn(BaseModel):
    password: str = Field(min_length=1, max_length=256, description="your password, entered again")


def export_json(rt: RegionRuntime, job: DataExport) -> dict[str, Any]:
    """An export as its owner sees it; `download_url` is a signed link while it is valid."""
    out: dict[str, Any] = {
        "id": job.id,
        "state": job.state,
        "progress": job.progress,
        "step": job.step,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "expires_at": job.expires_at,
        "size_bytes": job.size_bytes,
        "error": job.error,
        "download_url": None,
    }
    if job.state == "ready" and job.expires_at and job.expires_at > time.time():
        expires = int(job.expires_at)
        sig = sign_link(rt.settings.secret_key, job.id, job.user_id, expires)
        out["download_url"] = f"/api/exports/{job.id}/download?expires={expires}&sig={sig}"
    elif job.state == "ready":
        out["state"] = "expired"
    return out


def owned_export(rt: RegionRuntime, export_id: str, user_id: str) -> DataExport:
    """The export, if it is the user's: 404 when there is none, 403 when it is someone else's."""
    with rt.db.session() as s:
        job = s.get(DataExport, export_id)
    if job is None:
        raise NotFound("no such export")
    if job.user_id != user_id:
        raise Forbidden("that export is not yours", code="not_owner")
    return job


def start_export(rt: RegionRuntime, export_id: str) -> None:
    """Build the export in a background thread (the page polls its progress)."""

    def build() -> None:
        try:
            run_export(rt, export_id)
        except Exception:  # recorded in the row as failed; nothing more to do here
            return

    threading.Thread(target=build, name=f"export-{export_id}", daemon=True).start()


@router.post(
    "/api/me/exports",
    status_code=202,
    summary="Start building a download of all your data",
    response_model=ExportPublic,
    responses=errors(409),
)
async def request_export(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    job = await run_in_threadpool(do_request_export, rt.db, user.id)
    if job.state == "queued":
        start_export(rt, job.id)
    return export_json(rt, job)


@router.get(
    "/api/me/exports",
    summary="Your data exports, newest first",
    response_model=ExportList,
    responses=errors(),
)
async def list_exports(user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    def rows() -> list[dict[str, Any]]:
        with rt.db.session() as s:
            jobs = s.scalars(
                select(DataExport).where(DataExport.user_id == user.id).order_by(DataExport.created_at.desc())
            )
            return [export_json(rt, j) for j in jobs]

    return {"exports": await run_in_threadpool(rows)}


@router.get(
    "/api/me/exports/{export_id}",
    summary="An export's progress, and its download link when ready",
    response_model=ExportPublic,
    responses=errors(404),
)
async def get_export(export_id: str, user: CurrentUser, rt: RuntimeDep) -> dict[str, Any]:
    job = await run_in_threadpool(owned_export, rt, export_id, user.id)
    return export_json(rt, job)


@router.get(
    "/api/exports/{export_id}/download",
    summary="Download an export (owner only, signed link)",
    response_class=Response,
    responses=binary_responses("application/zip", description="The export, a zip file", statuses=(404, 410)),
)
async def download_export(
    export_id: str,
    request: Request,
    user: CurrentUser,
    rt: RuntimeDep,
    expires: int = Query(...),
    sig: str = Query(...),
) -> Response:
    job = await run_in_threadpool(owned_export, rt, export_id, user.id)
    if not link_is_signed(rt.settings.secret_key, job.id, job.user_id, expires, sig):
        raise Forbidden("this download link is not valid", code="bad_signature")
    if expires < time.time() or (job.expires_at is not None and job.expires_at < time.time()):
        raise Gone("this download link has expired; start a new export")
    if job.state != "ready" or not job.blob_key:
        raise NotFound("the export is not ready")
    response = blob_response(request, rt.blobs, job.blob_key, "application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="sovereel-data-{user.username}.zip"'
    return response


@router.delete(
    "/api/me",
    summary="Delete your account and all your data (enter your password again)",
    response_model=AccountErased,
    responses=errors(body=True),
)
async def delete_me(body: DeleteAccountIn, user: CurrentUser, rt: RuntimeDep) -> Response:
    erasure = await run_in_threadpool(do_delete_account, rt, user.id, body.password)
    response = JSONResponse({"erased": True, "erasure_id": erasure.id})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def signed_peer(request: Request, rt: RuntimeDep) -> str:
    """The peer region whose key signed this request (RFC 9421); otherwise 401, counted, never logged one by one."""
    settings = rt.settings
    peers = [name for name in settings.regions if name != settings.region]
    folder = trusted_dir(settings)

    def first_use(region: str, nonce: str) -> bool:
        return rt.hot.hit(f"peer-nonce:{region}:{nonce}", NONCE_TTL_S)[0] == 1

    try:
        return verify_request(
            request.method,
            str(request.url),
            request.headers.items(),
            peers=peers,
            key_for=lambda region: trusted_key(folder, region),
            first_use=first_use,
        )
    except PeerNotAuthenticated as exc:
        record_unauthenticated(rt.db, exc.reason)
        raise


PeerRegion = Annotated[str, Depends(signed_peer)]


@router.get(
    "/api/exchange/videos",
    summary="This region's public videos for other regions (content exchange)",
    response_model=ExchangeFeed,
    responses=errors(),
)
async def exchange_feed(
    rt: RuntimeDep, peer: PeerRegion, since: float = Query(0.0, ge=0), limit: int = Query(50, ge=1, le=200)
) -> dict[str, Any]:
    return await run_in_threadpool(lambda: do_offer_videos(rt.db, since=since, limit=limit, peer=peer))


@router.get(
    "/api/exchange/offered",
    summary="Which of these videos this region still offers (content exchange)",
    response_model=ExchangeOffered,
    responses=errors(),
)
async def exchange_offered(rt: RuntimeDep, _peer: PeerRegion, ids: str = Query(..., max_length=6000)) -> dict[str, Any]:
    wanted = [i for i in ids.split(",") if i.isascii() and i.isalnum() and len(i) <= 32][:200]
    return {"region": rt.region, "offered": await run_in_threadpool(still_offered, rt.db, wanted)}


def latest_export_json(rt: RegionRuntime, user_id: str) -> dict[str, Any] | None:
    """The user's newest data export as the API shows it, or None when they never asked for one."""
    with rt.db.session() as s:
        job = s.scalar(
            select(DataExport).where(DataExport.user_id == user_id).order_by(DataExport.created_at.desc()).limit(1)
        )
        return export_json(rt, job) if job else None
