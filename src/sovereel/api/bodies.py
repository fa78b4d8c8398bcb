"""The one reader of request bodies: a byte cap, a nesting-depth cap and a strict JSON parse, before any route.

Every request body except video uploads (multipart, streamed to disk under their own limit, see api/upload.py)
is read here, at most `limit_for(path)` bytes: a larger Content-Length is refused before a byte is read, and
a chunked body is refused as soon as it passes the cap (413 `body_too_large`). A body that is JSON (its
content type says so, or it is text/plain or absent: the event route parses those as JSON too) is then checked without
recursing (brackets outside strings are counted iteratively; deeper than `MAX_DEPTH` is 422 `body_too_deep`)
and parsed strictly: UTF-8 only, no NaN or Infinity, no number too large for a float, no duplicate keys
(two parsers could keep different ones), else 422 `invalid_json`. The parsed value is kept in the scope
(`parsed_json`) so the rate limiter reads the same parse the route is given; the route re-reads the same,
now known-good bytes from a replay. A malformed body is therefore a 4xx on every route, never a 5xx.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sovereel.api.errors import send_error

MAX_DEPTH = 32
DEFAULT_LIMIT = 64 * 1024
# Routes whose bodies are legitimately bigger than the default; the first match wins.
ROUTE_LIMITS: list[tuple[re.Pattern[str], int]] = [
    (re.compile(r"^/api/events/?\Z"), 1024 * 1024),  # a batch of up to 500 watch events (routes/events.py)
    (re.compile(r"^/api/me/avatar/?\Z"), 5 * 1024 * 1024 + 64 * 1024),  # a 5 MB image (routes/auth.py) and its form
]
# Multipart uploads to these routes stream to disk under the route's own limit (api/upload.py, max_upload_mb).
STREAMED_UPLOADS = re.compile(r"^/api/videos/?\Z")
SCOPE_KEY = "sovereel.json_body"

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class BodyRefused(Exception):
    """A body this module will not pass on: the status and error code to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def limit_for(path: str) -> int:
    """The largest body, in bytes, accepted on `path`."""
    for pattern, limit in ROUTE_LIMITS:
        if pattern.match(path):
            return limit
    return DEFAULT_LIMIT


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects deeper than `limit`, found without recursion (strings skipped)."""
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"the key {key[:40]!r} appears twice")
        obj[key] = value
    return obj


def parse_json(body: bytes) -> Any:
    """Parse a request body as strict JSON, or raise BodyRefused (422); never recurses past `MAX_DEPTH`."""
    if too_deep(body):
        raise BodyRefused(422, "body_too_deep", f"the JSON body nests deeper than {MAX_DEPTH} levels")
    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BodyRefused(422, "invalid_json", f"the body is not valid JSON: {str(exc)[:120]}") from None


def is_json(content_type: str) -> bool:
    """Whether a body of this content type is parsed as JSON.

    Besides the JSON types, a body with no content type and text/plain count: the event route reads its raw
    body as JSON, and `navigator.sendBeacon` sends the page's event batches as text/plain.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("", "application/json", "text/plain"):
        return True
    return media.startswith("application/") and media.endswith("+json")


def parsed_json(scope: Scope) -> Any:
    """The JSON value of this request's body as parsed by `BodyMiddleware` (None when there was none)."""
    return scope.get(SCOPE_KEY)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


async def read_capped(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body, refusing (413) past `limit` bytes; None if the client went away first."""
    length = _header(scope, b"content-length")
    if length.isdigit() and int(length) > limit:
        raise BodyRefused(413, "body_too_large", f"the request body is larger than {limit // 1024} KB")
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise BodyRefused(413, "body_too_large", f"the request body is larger than {limit // 1024} KB")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_refusal(send: Send, refusal: BodyRefused) -> None:
    """Answer with the error envelope; the connection closes, as the rest of the body may be unread."""
    await send_error(send, refusal.status, refusal.code, refusal.message, [(b"connection", b"close")])


class BodyMiddleware:
    """Reads, caps and parses every non-multipart request body before routing (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = _header(scope, b"content-type")
        multipart = content_type.lower().startswith("multipart/form-data")
        if scope["type"] != "http" or (multipart and STREAMED_UPLOADS.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_capped(scope, receive, limit_for(scope["path"]))
            if body is None:
                return
            if body and is_json(content_type):
                scope[SCOPE_KEY] = parse_json(body)
        except BodyRefused as refusal:
            await send_refusal(send, refusal)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
