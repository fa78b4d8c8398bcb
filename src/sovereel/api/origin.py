"""Cross-origin writes: an unsafe request that the session cookie authenticates must prove it comes from this site.

SameSite=Lax keeps the cookie off cross-site requests, but not off requests from a sibling subdomain or another
port of the same host (those are "same-site"). So every POST/PUT/PATCH/DELETE carried by the cookie needs
`Sec-Fetch-Site: same-origin` (or `none`: typed by the user) or, from a browser that does not send that header,
an `Origin` equal to this site's own origin; anything else is 403 `cross_origin`. Requests authenticated by an
`Authorization: Bearer` header are not affected: a browser never adds that header by itself.

Sign-up and sign-in set the cookie (login CSRF signs a victim into the attacker's account), so a browser request
to them that says it is cross-origin is refused too; a client that sends neither header (an app, a script) is
not a browser page and may use them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from sovereel.api.deps import SESSION_COOKIE
from sovereel.api.errors import send_error

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SETS_COOKIE = re.compile(r"^/api/auth/(login|signup)/?\Z")
DEFAULT_PORTS = {"http": 80, "https": 443}
MESSAGE = (
    "This request came from another site (its Origin / Sec-Fetch-Site headers do not name this one), so it was "
    "refused: changes made with the sign-in cookie must come from this site's own pages."
)


def normalise_origin(value: str) -> str | None:
    """`scheme://host[:port]` with the default port dropped and lower case, or None if it is not an origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def own_origins(scope: Scope, headers: Headers, public_url: str) -> set[str]:
    """The origins this request may come from: the configured public URL, and the one it was sent to."""
    origins: set[str] = set()
    if public_url and (configured := normalise_origin(public_url)):
        origins.add(configured)
    host = headers.get("host")
    if host:
        scheme = str(scope.get("scheme", "http"))
        if sent_to := normalise_origin(f"{scheme}://{host}"):
            origins.add(sent_to)
        if scheme == "http" and (behind_tls := normalise_origin(f"https://{host}")):
            # A TLS-terminating proxy that does not forward the scheme: the page was https on the same host.
            origins.add(behind_tls)
    return origins


def _cookie_authenticated(headers: Headers) -> bool:
    if headers.get("authorization", "").lower().startswith("bearer "):
        return False  # the bearer token wins over the cookie (see deps.request_token)
    cookie = headers.get("cookie", "")
    return any(part.strip().startswith(f"{SESSION_COOKIE}=") for part in cookie.split(";"))


def verdict(scope: Scope, public_url: str) -> bool:
    """True when the request may go on."""
    if scope["method"] not in UNSAFE_METHODS:
        return True
    headers = Headers(scope=scope)
    strict = _cookie_authenticated(headers)
    if not strict and not SETS_COOKIE.match(scope["path"]):
        return True  # no cookie, nothing a foreign page could ride on
    fetch_site = headers.get("sec-fetch-site", "").strip().lower()
    if fetch_site:
        return fetch_site in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return not strict  # an older browser always sends Origin on a cookie-carrying POST; no header, no proof
    return normalise_origin(origin) in own_origins(scope, headers, public_url)


class SameOriginMiddleware:
    """Refuses cookie-authenticated unsafe requests (and sign-in/up) that do not come from this origin."""

    def __init__(self, app: ASGIApp, public_url: str = "") -> None:
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or verdict(scope, self.public_url):
            await self.app(scope, receive, send)
            return
        await send_error(send, 403, "cross_origin", MESSAGE, [(b"vary", b"Origin, Sec-Fetch-Site")])
