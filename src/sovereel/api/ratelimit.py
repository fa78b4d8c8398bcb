"""Rate limits on sign-up, login, upload, comment and watch events: 429 with Retry-After and a clear message.

Counters live in the region's hot state (in process by default, Redis when several processes serve a region),
as fixed windows keyed by client IP or by user. Sign-ins are throttled so that guessing is slow but the owner
is never locked out by someone else's guesses:

- per account and address (or known device): after `rate_login_account` attempts without a success, that
  address may not try that account again until the window passes; a success clears its count;
- per account, from new devices: attempts from browsers without the account's known-device cookie (see
  api/known_devices.py) and from addresses that never signed in to it are counted together, and past
  `rate_login_new_device` only known devices and addresses may try, so many addresses get a bounded number
  of guesses between them, while the owner's own browser still signs in.

This is ASGI middleware so that the limits sit in one place, in front of the routes they guard. It reads the
login body as parsed by api/bodies.py (which runs first), never the raw bytes.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sovereel.api.bodies import parsed_json
from sovereel.api.errors import send_error
from sovereel.api.known_devices import account_digest, cookie_value, known_device, remember, set_cookie_header
from sovereel.hotstate.interface import HotState
from sovereel.queries.accounts import token_digest, user_for_token
from sovereel.runtime.region import RegionRuntime
from sovereel.settings import Settings, parse_rate
from sovereel.telemetry import RATE_LIMITED

SESSION_CACHE_S = 60.0


@dataclass(frozen=True)
class Rule:
    """One limit: `setting` names its COUNT/SECONDS, `scope` is what it counts by, `what` is said in the 429."""

    name: str
    setting: str
    scope: str  # ip | user
    what: str


SIGNUP = Rule("signup", "rate_signup", "ip", "sign-ups from this address")
LOGIN_IP = Rule("login_ip", "rate_login_ip", "ip", "sign-in attempts from this address")
LOGIN_ACCOUNT = Rule(
    "login_account", "rate_login_account", "account", "failed sign-ins on this account from this address or device"
)
LOGIN_NEW_DEVICE = Rule(
    "login_new_device", "rate_login_new_device", "account", "sign-in attempts on this account from new devices"
)
UPLOAD = Rule("upload", "rate_upload", "user", "uploads")
COMMENT = Rule("comment", "rate_comment", "user", "comments")
EVENTS = Rule("events", "rate_events", "user", "watch-event reports")
WRITES_IP = Rule("writes_ip", "rate_writes_ip", "ip", "uploads, comments and event reports from this address")
# Shares may be anonymous, so they are limited per address (a repeat is already counted only once a day).
SHARE_IP = Rule("share_ip", "rate_share_ip", "ip", "shares from this address")

ROUTES: list[tuple[re.Pattern[str], tuple[Rule, ...]]] = [
    (re.compile(r"^/api/auth/signup/?\Z"), (SIGNUP,)),
    (re.compile(r"^/api/auth/login/?\Z"), (LOGIN_IP,)),
    (re.compile(r"^/api/videos/?\Z"), (WRITES_IP, UPLOAD)),
    (re.compile(r"^/api/videos/[^/]+/comments/?\Z"), (WRITES_IP, COMMENT)),
    (re.compile(r"^/api/events/?\Z"), (WRITES_IP, EVENTS)),
    (re.compile(r"^/api/videos/[^/]+/share/?\Z"), (SHARE_IP,)),
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

    def login_attempt(self, account: str, ip: str, device: str | None) -> tuple[Rule, float, str] | None:
        """Count one sign-in attempt on `account`; the rule, reset and message that refuse it, or None."""
        count, window = self.limit(LOGIN_ACCOUNT)
        hits, reset = self.hot.hit(self._pair_key(account, ip, device, window), window)
        if hits > count:
            return LOGIN_ACCOUNT, reset, self.message(LOGIN_ACCOUNT, count, window, reset)
        if device is None and not self.hot.has_member(self._trusted_key(account), _ip_digest(ip)):
            allowed, reset, message = self.check(LOGIN_NEW_DEVICE, account)
            if not allowed:
                return LOGIN_NEW_DEVICE, reset, message + " Devices that signed in to it before are not affected."
        return None

    def login_succeeded(self, account: str, ip: str, device: str | None) -> None:
        """Clear this address's (or device's) count and remember the address as one the owner uses."""
        _count, window = self.limit(LOGIN_ACCOUNT)
        self.hot.delete(self._pair_key(account, ip, device, window))
        ttl = self.settings.session_days * 86400.0
        self.hot.add_members(self._trusted_key(account), [_ip_digest(ip)], ttl_s=ttl)

    def _pair_key(self, account: str, ip: str, device: str | None, window: float) -> str:
        # A known device is counted on its own, so guesses from the owner's address (a shared NAT) do not block it.
        subject = f"d{device}" if device else f"a{_ip_digest(ip)}"
        return f"rl:{LOGIN_ACCOUNT.name}:{account}:{subject}:{int(window)}"

    def _trusted_key(self, account: str) -> str:
        return f"login_ok:{account}"


def _ip_digest(ip: str) -> str:
    return hashlib.sha256(ip.encode()).hexdigest()[:24]


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
    retry = str(max(1, math.ceil(retry_after))).encode()
    await send_error(send, 429, "rate_limited", message, [(b"retry-after", retry)])


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
        if LOGIN_IP in rules or SIGNUP in rules:
            await self._sign_in(scope, receive, send, limiter, ip, throttle=LOGIN_IP in rules)
            return
        await self.app(scope, receive, send)

    async def _sign_in(
        self, scope: Scope, receive: Receive, send: Send, limiter: Limiter, ip: str, *, throttle: bool
    ) -> None:
        """Throttle sign-ins on an account (see the module docstring); a success marks this browser as known."""
        parsed = parsed_json(scope)
        username = parsed.get("username") if isinstance(parsed, dict) else None
        if not isinstance(username, str) or not username:
            await self.app(scope, receive, send)  # the route answers 422
            return
        settings = limiter.settings
        account = account_digest(username)
        cookie = cookie_value(scope)
        device = known_device(cookie, settings.secret_key, account)
        if throttle:
            refusal = await run_in_threadpool(limiter.login_attempt, account, ip, device)
            if refusal is not None:
                rule, reset, message = refusal
                await send_429(send, message, reset, rule)
                return

        async def on_success(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 201):
                if throttle:
                    await run_in_threadpool(limiter.login_succeeded, account, ip, device)
                value = remember(cookie, settings.secret_key, account)
                header = set_cookie_header(value, secure=settings.environment == "production")
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, on_success)
