"""Pulling other regions' public videos: the signed HTTP client, one pull from a peer, and the scheduled thread.

A pull asks the peer for its public videos newer than the newest one held from it (`/api/exchange/videos`),
copies each new one's media through the peer's public media URLs and stores it (`actions.exchange`), then asks
which held copies the peer still offers (`/api/exchange/offered`) and withdraws the rest. The rules of the
exchange are in `governance.exchange`.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sovereel.actions.exchange import do_store_exchanged_video, do_withdraw_exchanged_video
from sovereel.governance.exchange import MEDIA_NAMES, PAGE, check_answer
from sovereel.governance.http_signatures import sign_request
from sovereel.governance.signing import RegionKeys
from sovereel.queries.exchange import held_from, holds_video, pull_cursor

if TYPE_CHECKING:
    from sovereel.runtime.region import RegionRuntime

log = logging.getLogger(__name__)

Fetch = Callable[[str], bytes]  # GET a path (with query) on the peer's public base URL; raises on failure


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


def pull_from_peer(
    rt: RegionRuntime, peer: str, fetch: Fetch, *, base_url: str = "", max_pages: int = 20
) -> PullResult:
    """Pull `peer`'s new public videos into this region (idempotent: known videos are skipped)."""
    result = PullResult(peer=peer)
    since = pull_cursor(rt.db, peer)
    for _ in range(max_pages):
        page = json.loads(fetch(f"/api/exchange/videos?since={since!r}&limit={PAGE}"))
        check_answer(page, peer)
        videos = page.get("videos") or []
        for item in videos:
            media: dict[str, bytes] = {}
            if holds_video(rt.db, str(item["id"])):
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


def withdraw_missing(rt: RegionRuntime, peer: str, fetch: Fetch, batch: int = 200) -> list[str]:
    """Remove the copies of `peer`'s videos that it no longer offers (deleted, erased, made private, removed)."""
    held = held_from(rt.db, peer)
    gone: list[str] = []
    for i in range(0, len(held), batch):
        chunk = held[i : i + batch]
        answer = json.loads(fetch(f"/api/exchange/offered?ids={','.join(chunk)}"))
        check_answer(answer, peer)
        offered = set(answer.get("offered") or [])
        for vid in chunk:
            if vid not in offered and do_withdraw_exchanged_video(rt.db, rt.blobs, peer=peer, video_id=vid):
                gone.append(vid)
    return gone


class ExchangePuller:
    """Pulls every peer's public videos on a schedule (`SOVEREEL_EXCHANGE_EVERY_S`), inside `serve`."""

    def __init__(self, rt: RegionRuntime, peers: dict[str, str], every_s: float) -> None:
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
        """Start the pulling thread: a first pull soon after start, then one every `every_s` seconds."""

        def loop() -> None:
            wait = min(3.0, self.every_s)  # the first pull soon after start, then on the schedule
            while not self._stop.wait(wait):
                self.run_once()
                wait = self.every_s

        self._thread = threading.Thread(target=loop, name="exchange-pull", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (waiting up to 5 seconds for a pull in progress)."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
