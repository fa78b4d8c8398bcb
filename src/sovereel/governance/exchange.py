"""The content exchange: the only way content crosses regions, and it carries public content only.

Region B offers its own published public videos at `GET /api/exchange/videos?since=…` with their public
metadata (caption, hashtags, size, duration, the creator's public handle and display name) — never events,
counts of who watched, or any account data. Region A pulls that feed from B's public URL, copies each
video's renditions and poster through B's public media URLs, and stores the video as a row with
`origin_region = B` and a creator stub that holds the public handle only (its id is a local pseudonym, not
B's user id). Every video offered and every video received is a row in `exchange_log`. A then serves the
video in search and in For You, ranked by A's own model on A's own data. On every pull A also asks B which
of its copies B still offers (`GET /api/exchange/offered`) and removes the rest: a video its creator
deleted, made private, or erased with their account does not live on in another region.

Both exchange endpoints answer only requests signed by a peer region's key (RFC 9421, `http_signatures`):
an anonymous or badly signed request gets 401 and writes nothing, so each `out` row of `exchange_log`
records public metadata really sent to the region the signature proves, never a name a caller typed.

Where each part lives: this module holds the exchange's rules (what a creator stub's id is, which media and
fields cross, how a peer's answer is checked); `queries.exchange` reads what is offered and held;
`actions.exchange` writes received videos, withdrawals and the `exchange_log`; `runtime.exchange_puller`
holds the HTTP client and the pulling thread.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sovereel.settings import REGION_RE

PAGE = 50  # videos a puller asks for per page of a peer's feed
MEDIA_NAMES = ("1080", "720", "360")  # the renditions that cross (with the poster); never the original upload


def stub_id(origin_region: str, origin_creator_handle: str) -> str:
    """The local id of another region's creator: a pseudonym derived from the public handle, never their id."""
    digest = hashlib.sha256(f"stub:{origin_region}:{origin_creator_handle.lower()}".encode()).hexdigest()
    return "x" + digest[:25]


def logged_peer(peer: str) -> str:
    """The peer name an `exchange_log` row records: a well-formed region name, or "unknown"."""
    return peer if REGION_RE.fullmatch(peer) else "unknown"


def check_answer(answer: dict[str, Any], peer: str) -> None:
    """Raise ValueError unless a peer's answer names the region that was asked."""
    if answer.get("region") != peer:
        raise ValueError(f"peer answered as region {answer.get('region')!r}, expected {peer!r}")
