"""The "known device" cookie: proof that this browser has signed in to an account before.

The login throttle (api/ratelimit.py) never refuses a known device because of attempts made elsewhere, so
an attacker guessing an account's password cannot lock its owner out. The cookie holds a random device id
and, per account that signed in from it, an HMAC of (device id, account) under the region's secret: it
cannot be forged for an account without signing in to it, and it says nothing readable about the accounts.
It is sent only to /api/auth, is HttpOnly, and outlives sessions (signing out does not forget the device).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata

from starlette.types import Scope

DEVICE_COOKIE = "sovereel_device"
DEVICE_COOKIE_DAYS = 365
MAX_ACCOUNTS = 8  # accounts remembered per browser, most recent first
_HEX = re.compile(r"[0-9a-f]{32}")


def account_digest(username: str) -> str:
    """A stable key for the account a sign-in names (case and compatibility forms folded; never stored raw)."""
    folded = unicodedata.normalize("NFKC", username).strip().casefold()
    return hashlib.sha256(folded.encode()).hexdigest()[:32]


def _mac(secret: str, device_id: str, account: str) -> str:
    message = f"known-device|{device_id}|{account}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def _parts(value: str | None) -> tuple[str | None, list[str]]:
    items = (value or "").split(".")
    if not items or not _HEX.fullmatch(items[0]):
        return None, []
    return items[0], [m for m in items[1 : MAX_ACCOUNTS + 1] if _HEX.fullmatch(m)]


def cookie_value(scope: Scope) -> str | None:
    """The known-device cookie sent with a request, if any."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, raw in headers:
        if key.lower() != b"cookie":
            continue
        for part in raw.decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == DEVICE_COOKIE and value:
                return value
    return None


def known_device(value: str | None, secret: str, account: str) -> str | None:
    """The device id when the cookie proves an earlier sign-in to `account` from this browser, else None."""
    device_id, macs = _parts(value)
    if device_id is None:
        return None
    expected = _mac(secret, device_id, account)
    return device_id if any(hmac.compare_digest(expected, m) for m in macs) else None


def remember(value: str | None, secret: str, account: str) -> str:
    """The cookie value after a successful sign-in to `account` (the device id is kept when there is one)."""
    device_id, macs = _parts(value)
    device_id = device_id or secrets.token_hex(16)
    mac = _mac(secret, device_id, account)
    kept = [mac] + [m for m in macs if m != mac]
    return ".".join([device_id, *kept[:MAX_ACCOUNTS]])


def set_cookie_header(value: str, *, secure: bool) -> tuple[bytes, bytes]:
    """The Set-Cookie header that stores the known-device cookie."""
    attrs = f"{DEVICE_COOKIE}={value}; Max-Age={DEVICE_COOKIE_DAYS * 86400}; Path=/api/auth; HttpOnly; SameSite=Lax"
    return b"set-cookie", (attrs + ("; Secure" if secure else "")).encode("latin-1")
