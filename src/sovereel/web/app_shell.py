"""The installable app: the web app manifest, the service worker at /sw.js and the offline page it falls back to.

The service worker caches the *app shell* only — the offline page, the stylesheet, the script modules, the icons —
under a cache named after a digest of those files, so a deploy that changes any of them replaces the cache. Nothing
personal is ever cached: the worker stores a fixed list of anonymous static files at install and nothing else.

The icons are PNGs rendered once from favicon.svg (and a full-bleed variant for maskable and Apple touch icons) with
`ffmpeg -width N -height N -i favicon.svg -frames:v 1 icon-N.png`, and committed: nothing is drawn at run time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import Response

from sovereel.web.render import PAGE_HEADERS, STATIC_DIR

OFFLINE_PATH = "/offline"
MANIFEST_PATH = "/manifest.webmanifest"
# Static files that make up the shell; sw.js itself is served from the root, not precached.
SHELL_SUFFIXES = (".css", ".js", ".svg", ".png")
WORKER_SOURCE = "sw.js"
# Browsers must always ask for the worker, the manifest and the offline page again (a cheap 304 when unchanged), so a
# deploy reaches installed apps on their next start.
REVALIDATE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class AppShell:
    """The shell's files (URL paths), its version, and the bodies of the three routes."""

    files: tuple[str, ...]
    version: str
    worker: bytes
    manifest: bytes
    offline: bytes


def load_shell(static_dir: Path = STATIC_DIR) -> AppShell:
    """Read the shell files from the package and derive the cache version from their bytes."""
    static = sorted(
        p for p in static_dir.iterdir() if p.is_file() and p.suffix in SHELL_SUFFIXES and p.name != WORKER_SOURCE
    )
    manifest = (static_dir / "manifest.webmanifest").read_bytes()
    offline = (static_dir / "offline.html").read_bytes()
    source = (static_dir / WORKER_SOURCE).read_bytes()
    digest = hashlib.sha256()
    for name, body in [
        *((f"/static/{p.name}", p.read_bytes()) for p in static),
        (MANIFEST_PATH, manifest),
        (OFFLINE_PATH, offline),
        ("/sw.js", source),
    ]:
        digest.update(f"{name}\0{len(body)}\0".encode())
        digest.update(body)
    version = digest.hexdigest()[:16]
    files = (OFFLINE_PATH, MANIFEST_PATH, *(f"/static/{p.name}" for p in static))
    # The worker learns its version and file list from one line the server puts before its source.
    config = json.dumps({"version": version, "files": files, "offline": OFFLINE_PATH})
    worker = f"const SHELL = {config};\n".encode() + source
    return AppShell(files=files, version=version, worker=worker, manifest=manifest, offline=offline)


def build_router(shell: AppShell) -> APIRouter:
    """The three root-level routes of the installable app."""
    router = APIRouter(include_in_schema=False)

    @router.get("/sw.js")
    async def service_worker() -> Response:
        # Served from the root so its scope is the whole site; the page CSP also bounds what the worker may fetch.
        headers = {**REVALIDATE, "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"]}
        return Response(shell.worker, media_type="text/javascript; charset=utf-8", headers=headers)

    @router.get(MANIFEST_PATH)
    async def manifest() -> Response:
        return Response(shell.manifest, media_type="application/manifest+json", headers=REVALIDATE)

    @router.get(OFFLINE_PATH)
    async def offline_page() -> Response:
        # The same page for everyone (no viewer in it): it is what the worker shows when the network is gone.
        headers = {**PAGE_HEADERS, **REVALIDATE}
        return Response(shell.offline, media_type="text/html; charset=utf-8", headers=headers)

    return router


def install(app: FastAPI) -> None:
    """Serve /sw.js, /manifest.webmanifest and /offline."""
    app.include_router(build_router(load_shell()))
