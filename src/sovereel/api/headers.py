"""Response headers every answer carries: no MIME sniffing, no framing, no referrer to other sites, and no caching
of anything the route did not mark cacheable.

Pages set their own full Content-Security-Policy (web/render.py) and media routes their own Cache-Control
(`private, max-age=…`); this middleware only fills in what a response lacks, so those stay as the route set
them. A response to a request that carries credentials is never `public`: a shared cache must not keep it.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sovereel.api.deps import SESSION_COOKIE

DEFAULTS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def carries_credentials(scope: Scope) -> bool:
    """Whether the request says who it is (a bearer token or the session cookie)."""
    headers = Headers(scope=scope)
    return bool(headers.get("authorization")) or f"{SESSION_COOKIE}=" in headers.get("cookie", "")


def private_cache_control(value: str) -> str:
    """`value` with `public` turned into `private` (a shared cache must not keep a personal answer)."""
    directives = [d.strip() for d in value.split(",") if d.strip()]
    kept = ["private" if d.lower() == "public" else d for d in directives]
    return ", ".join(dict.fromkeys(kept))


class SecurityHeadersMiddleware:
    """Adds the headers in DEFAULTS to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        credentialed = carries_credentials(scope)

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULTS.items():
                    if name not in headers:
                        headers[name] = value
                if credentialed:
                    headers["Cache-Control"] = private_cache_control(headers["Cache-Control"])
            await send(message)

        await self.app(scope, receive, add_headers)
