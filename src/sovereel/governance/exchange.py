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
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select

from sovereel.governance.http_signatures import sign_request
from sovereel.governance.signing import RegionKeys
from sovereel.settings import REGION_RE
from sovereel.storage.db import RegionDB
from sovereel.storage.models import ExchangeTransfer, User, Video, VideoHashtag

log = logging.getLogger(__name__)

Fetch = Callable[[str], bytes]  # GET a path (with query) on the peer's public base URL; raises on failure
PAGE = 50
MEDIA_NAMES = ("1080", "720", "360")
PUBLIC_FIELDS = ("id", "caption", "hashtags", "duration_s", "width", "height", "created_at", "ready_at")


def offered_sql() -> Any:
    """SQL condition over videos (joined to their creators): what this region offers its peers. Another region is
    an anonymous viewer who follows no one, so the one visibility rule (`queries.access`) decides: no private
    account's, 13-15-year-old's (even one made public) or suspended account's videos, nothing age-restricted
    (an age gate is this region's to enforce), only public ones; and of those, only this region's own, unmoderated."""
    from sovereel.queries.access import visible_videos_sql  # queries read storage; imported here to stay a leaf

    return and_(Video.origin_region.is_(None), Video.moderation_state == "ok", visible_videos_sql(None))


def stub_id(origin_region: str, origin_creator_handle: str) -> str:
    """The local id of another region's creator: a pseudonym derived from the public handle, never their id."""
    digest = hashlib.sha256(f"stub:{origin_region}:{origin_creator_handle.lower()}".encode()).hexdigest()
    return "x" + digest[:25]


def offered_videos(db: RegionDB, *, since: float, limit: int, peer: str) -> dict[str, Any]:
    """This region's own public, ready videos after `since` (by ready time), public fields only; logged as out."""
    peer = peer if REGION_RE.fullmatch(peer) else "unknown"
    with db.transaction() as s:
        stamp = func.coalesce(Video.ready_at, Video.created_at)
        rows = list(
            s.execute(
                select(Video, User.username, User.display_name)
                .join(User, User.id == Video.creator_id)
                .where(offered_sql(), stamp > since)  # exclusive: the puller's cursor is the newest it holds
                .order_by(stamp, Video.id)
                .limit(limit)
            )
        )
        ids = [v.id for v, _, _ in rows]
        tags: dict[str, list[str]] = {}
        for vid, tag in s.execute(
            select(VideoHashtag.video_id, VideoHashtag.tag).where(VideoHashtag.video_id.in_(ids))
        ):
            tags.setdefault(vid, []).append(tag)
        now = time.time()
        out = []
        for video, username, display_name in rows:
            out.append(
                {
                    "id": video.id,
                    "caption": video.caption,
                    "hashtags": sorted(tags.get(video.id, [])),
                    "duration_s": video.duration_s,
                    "width": video.width,
                    "height": video.height,
                    "created_at": video.created_at,
                    "ready_at": video.ready_at or video.created_at,
                    "creator": {"handle": username, "display_name": display_name},
                    "renditions": sorted(n for n in (video.renditions or {}) if n in MEDIA_NAMES),
                    "poster": bool(video.poster_key),
                }
            )
            s.add(ExchangeTransfer(direction="out", peer_region=peer, video_id=video.id, bytes=0, at=now))
    return {"region": db.region, "videos": out}


def still_offered(db: RegionDB, ids: list[str]) -> list[str]:
    """Which of `ids` this region still offers (a video deleted, made private or removed is withdrawn)."""
    with db.session() as s:
        rows = s.scalars(
            select(Video.id).join(User, User.id == Video.creator_id).where(Video.id.in_(ids), offered_sql())
        )
        return sorted(rows)


def http_fetch(base_url: str, keys: RegionKeys, timeout_s: float = 30.0) -> Fetch:
    """A Fetch over HTTP(S) from a peer's public base URL, each request signed with this region's key."""

    def fetch(path: str) -> bytes:
        url = base_url.rstrip("/") + path
        # Peers are named by operators in settings; still, only http(s) is ever opened (never file: or ftp:).
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"a peer's URL must be http(s): {base_url!r}")
        req = urllib.request.Request(url, headers={"X-Sovereel-Region": keys.region, **sign_request(keys, "GET", url)})
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # nosec B310
            data: bytes = resp.read()
            return data

    return fetch


@dataclass
class PullResult:
    """What one pull from a peer brought in."""

    peer: str
    received: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    skipped: int = 0
    bytes: int = 0


def pull_cursor(db: RegionDB, peer: str) -> float:
    """Where the next pull from `peer` starts: the newest ready time already received from it."""
    with db.session() as s:
        newest = s.scalar(select(func.max(Video.ready_at)).where(Video.origin_region == peer))
    return float(newest or 0.0)


def pull_from_peer(rt: Any, peer: str, fetch: Fetch, *, base_url: str = "", max_pages: int = 20) -> PullResult:
    """Pull `peer`'s new public videos into this region (idempotent: known videos are skipped)."""
    from sovereel.actions.exchange import do_store_exchanged_video

    result = PullResult(peer=peer)
    since = pull_cursor(rt.db, peer)
    for _ in range(max_pages):
        page = json.loads(fetch(f"/api/exchange/videos?since={since!r}&limit={PAGE}"))
        if page.get("region") != peer:
            raise ValueError(f"peer answered as region {page.get('region')!r}, expected {peer!r}")
        videos = page.get("videos") or []
        for item in videos:
            media: dict[str, bytes] = {}
            with rt.db.session() as s:
                known = s.get(Video, str(item["id"])) is not None
            if known:
                result.skipped += 1
                continue
            for name in [n for n in item.get("renditions") or [] if n in MEDIA_NAMES]:
                media[str(name)] = fetch(f"/api/videos/{item['id']}/media/{name}")
            if item.get("poster"):
                media["poster"] = fetch(f"/api/videos/{item['id']}/media/poster")
            size = do_store_exchanged_video(rt.db, rt.blobs, peer=peer, item=item, media=media, base_url=base_url)
            if size is not None:
                result.received.append(str(item["id"]))
                result.bytes += size
        if len(videos) < PAGE:
            break
        since = max(float(v.get("ready_at") or 0.0) for v in videos)
    result.withdrawn = withdraw_missing(rt, peer, fetch)
    if result.received or result.withdrawn:
        rt.wake()
    return result


def withdraw_missing(rt: Any, peer: str, fetch: Fetch, batch: int = 200) -> list[str]:
    """Remove the copies of `peer`'s videos that it no longer offers (deleted, erased, made private, removed)."""
    from sovereel.actions.exchange import do_withdraw_exchanged_video

    with rt.db.session() as s:
        held = sorted(s.scalars(select(Video.id).where(Video.origin_region == peer)))
    gone: list[str] = []
    for i in range(0, len(held), batch):
        chunk = held[i : i + batch]
        answer = json.loads(fetch(f"/api/exchange/offered?ids={','.join(chunk)}"))
        if answer.get("region") != peer:
            raise ValueError(f"peer answered as region {answer.get('region')!r}, expected {peer!r}")
        offered = set(answer.get("offered") or [])
        for vid in chunk:
            if vid not in offered and do_withdraw_exchanged_video(rt.db, rt.blobs, peer=peer, video_id=vid):
                gone.append(vid)
    return gone


class ExchangePuller:
    """Pulls every peer's public videos on a schedule (`SOVEREEL_EXCHANGE_EVERY_S`), inside `serve`."""

    def __init__(self, rt: Any, peers: dict[str, str], every_s: float) -> None:
        self.rt = rt
        self.peers = peers
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[PullResult]:
        """One pull from every peer; a peer that is down is logged and tried again next time."""
        results = []
        for peer, url in sorted(self.peers.items()):
            try:
                fetch = http_fetch(url, self.rt.learner.gate.keys)
                results.append(pull_from_peer(self.rt, peer, fetch, base_url=url))
            except Exception as exc:  # a peer being down must not stop this region
                log.warning("content exchange: pulling from %s (%s) failed: %s", peer, url, exc)
        return results

    def start(self) -> None:
        def loop() -> None:
            wait = min(3.0, self.every_s)  # the first pull soon after start, then on the schedule
            while not self._stop.wait(wait):
                self.run_once()
                wait = self.every_s

        self._thread = threading.Thread(target=loop, name="exchange-pull", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
