"""Time-sortable, globally unique ids (ULID layout: 48-bit ms time + 80 random bits, Crockford base32).

An account id also says which region it lives in: its last two characters are the home region's tag
(`region_tag`, 10 bits of the region name's SHA-256) in place of 10 of the random bits. So a region that is
asked for an account id it does not hold can tell "another region's account" (refused, 403, audited) from
"no such account" (404) without holding anything of the other region.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(now: float | None = None) -> str:
    """A 26-character id that sorts by creation time."""
    ms = int((time.time() if now is None else now) * 1000)
    value = (ms << 80) | secrets.randbits(80)
    out = []
    for _ in range(26):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


TAG_LEN = 2
_ID_RE = re.compile(f"^[{_ALPHABET}]{{26}}\\Z")  # \Z, not $: "$" also matches before a final newline


def region_tag(region: str) -> str:
    """The two id characters that name `region` in its accounts' ids."""
    value = int.from_bytes(hashlib.sha256(region.encode()).digest()[:2], "big") >> (16 - 5 * TAG_LEN)
    return "".join(_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(TAG_LEN)))


def new_user_id(region: str, now: float | None = None) -> str:
    """A new account id of `region`: a `new_id` whose last characters are the region's tag."""
    return new_id(now)[:-TAG_LEN] + region_tag(region)


def id_tag(value: str) -> str | None:
    """The region tag an id carries, or None when `value` is not shaped like an id."""
    return value[-TAG_LEN:] if _ID_RE.fullmatch(value) else None
