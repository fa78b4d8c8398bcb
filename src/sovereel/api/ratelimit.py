"""Rate limits on sign-up, login, upload, comment and watch events: 429 with Retry-After and a clear message.

Counters live in the region's hot state (in process by default, Redis when several processes serve a region),
as fixed windows keyed by client IP or by user. Logins are also throttled per account: after too many failed
attempts on one username, every attempt on it is refused until the window passes, whatever the password, so
a password cannot be guessed from many addresses at once.

This is ASGI middleware so that the limits sit in one place, in front of the routes they guard.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sovereel.actions.accounts import token_digest, user_for_token
from sovereel.api.errors import error_body
from sovereel.hotstate.interface import HotState
from sovereel.runtime import RegionRuntime
from sovereel.settings import Settings, parse_rate
from sovereel.telemetry import RATE_LIMITED

SESSION_CACHE_S = 60.0
MAX_LOGIN_BODY = 64 * 1024


@dataclass(frozen=True)
class Rule:
    """One limit: `setting` names its COUNT/SECONDS, `scope` is what it counts by, `what` is said in the 429."""

    name: str
    setting: str
    scope: str  # ip | user
    what: str


SIGNUP = Rule("signup", "rate_signup", "ip", "sign-ups from this address")
LOGIN_IP = Rule("login_ip", "rate_login_ip", "ip", "sign-in attempts from this address")
LOGIN_ACCOUNT = Rule("login_account", "rate_login_account", "account", "failed sign-ins on this account")
UPLOAD = Rule("upload", "rate_upload", "user", "uploads")
COMMENT = Rule("comment", "rate_comment", "user", "comments")
EVENTS = Rule("events", "rate_events", "user", "watch-event reports")
WRITES_IP = Rule("writes_ip", "rate_writes_ip", "ip", "uploads, comments and event reports from this address")

ROUTES: list[tuple[re.Pattern[str], tuple[Rule, ...]]] = [
    (re.compile(r"^/api/auth/signup/?$"), (SIGNUP,)),
    (re.compile(r"^/api/auth/login/?$"), (LOGIN_IP,)),
    (re.compile(r"^/api/videos/?$"), (WRITES_IP, UPLOAD)),
    (re.compile(r"^/api/videos/[^/]+/comments/?$"), (WRITES_IP, COMMENT)),
    (re.compile(r"^/api/events/?$"), (WRITES_IP, EVENTS)),
]


def rules_for(method: str, path: str) -> tuple[Rule, ...]:
    """The limits a request is subject to (only POSTs are limited)."""
    if method != "POST":
        return ()
    for pattern, rules in ROUTES:
        if pattern.match(path):
            return rules
    return ()


def describe_window(seconds: float) -> str:
    """60 → '1 minute', 3600 → '1 hour', 90 → '90 seconds'."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
    return f"{seconds:g} seconds"


class Limiter:
    """Counts hits in the hot state and says whether a request may pass."""

    def __init__(self, settings: Settings, hot: HotState) -> None:
        self.settings = settings
        self.hot = hot

    def limit(self, rule: Rule) -> tuple[int, float]:
        spec: str = getattr(self.settings, rule.setting)
        return parse_rate(spec)

    def check(self, rule: Rule, subject: str) -> tuple[bool, float, str]:
        """Count one hit; returns (allowed, seconds until the window resets, the message for a refusal)."""
        count, window = self.limit(rule)
        hits, reset = self.hot.hit(f"rl:{rule.name}:{subject}:{int(window)}", window)
        return hits <= count, reset, self.message(rule, count, window, reset)

    def message(self, rule: Rule, count: int, window: float, reset: float) -> str:
        return (
            f"Too many {rule.what}: at most {count} per {describe_window(window)}. "
            f"Try again in {max(1, math.ceil(reset))} s."
        )

    def account_key(self, username: str) -> str:
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        _count, window = self.limit(LOGIN_ACCOUNT)
        return f"rl:{LOGIN_ACCOUNT.name}:{digest}:{int(window)}"

    def account_locked(self, username: str) -> tuple[bool, float, str]:
        """Whether an account has had too many failed sign-ins in the current window (counts nothing)."""
        count, window = self.limit(LOGIN_ACCOUNT)
        key = self.account_key(username)
        failures = int(self.hot.get(key) or 0)
        reset = self.hot.expires_in(key) or 0.0
        return failures >= count, reset, self.message(LOGIN_ACCOUNT, count, window, reset)

    def login_failed(self, username: str) -> None:
        _count, window = self.limit(LOGIN_ACCOUNT)
        self.hot.hit(self.account_key(username), window)


def cached_user_id(rt: RegionRuntime, token: str) -> str | None:
    """The user a session token belongs to, looked up in the hot state first (shared by a region's processes)."""
    key = f"session:{token_digest(token, rt.settings.secret_key)}"
    cached = rt.hot.get(key)
    if cached is not None:
        return cached or None
    user = user_for_token(rt.db, rt.settings.secret_key, token)
    user_id = str(user.id) if user else None
    rt.hot.put(key, user_id or "", ttl_s=SESSION_CACHE_S)
    return user_id


def request_token(scope: Scope) -> str | None:
    raw: list[tuple[bytes, bytes]] = scope.get("headers", [])
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "sovereel_session" and value:
            return value
    return None


async def send_429(send: Send, message: str, retry_after: float, rule: Rule) -> None:
    RATE_LIMITED.labels(limit=rule.name).inc()
    body = json.dumps(error_body("rate_limited", message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(max(1, math.ceil(retry_after))).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimitMiddleware:
    """Applies `ROUTES` to every request; a no-op when `SOVEREEL_RATE_LIMITS` is off."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rt: RegionRuntime | None = scope.get("state", {}).get("rt")
        rules = rules_for(scope["method"], scope["path"])
        if rt is None or not rules or not rt.settings.rate_limits:
            await self.app(scope, receive, send)
            return
        limiter = Limiter(rt.settings, rt.hot)
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        for rule in rules:
            subject = ip
            if rule.scope == "user":
                token = request_token(scope)
                user_id = await run_in_threadpool(cached_user_id, rt, token) if token else None
                if user_id is None:
                    continue  # not signed in: the route answers 401
                subject = user_id
            allowed, reset, message = await run_in_threadpool(limiter.check, rule, subject)
            if not allowed:
                await send_429(send, message, reset, rule)
                return
        if LOGIN_IP in rules:
            await self._login(scope, receive, send, limiter)
            return
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send, limiter: Limiter) -> None:
        """Refuse sign-ins on a throttled account; count the failures (401) of the others."""
        chunks: list[bytes] = []
        more = True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                break
            chunks.append(msg.get("body", b""))
            more = bool(msg.get("more_body")) and sum(map(len, chunks)) <= MAX_LOGIN_BODY
        body = b"".join(chunks)
        username = ""
        try:
            parsed: Any = json.loads(body)
            if isinstance(parsed, dict) and isinstance(parsed.get("username"), str):
                username = parsed["username"]
        except ValueError:
            pass  # the route answers 422
        if username:
            locked, reset, message = await run_in_threadpool(limiter.account_locked, username)
            if locked:
                await send_429(send, message, reset, LOGIN_ACCOUNT)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def watch_status(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401 and username:
                await run_in_threadpool(limiter.login_failed, username)
            await send(message)

        await self.app(scope, replay, watch_status)
