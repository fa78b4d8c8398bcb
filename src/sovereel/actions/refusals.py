"""Unauthenticated refusals: counted, and summarised into the audit log at most once per window.

A request that proves nothing (a bad session token, another region's token this region cannot check, an
anonymous look-up of another region's user, a peer call without a valid signature) must not grow the
append-only audit log: anyone could fill it at no cost. Each such refusal increments
`sovereel_unauthenticated_refusals_total{reason}` and a per-process tally; the first refusal after
`SUMMARY_WINDOW_S` of quiet writes one `residency.refused_summary` entry with the counts since the last one.
Labels and counts are keyed by `REASONS` and by this deployment's own region names only, so nothing an
attacker typed (a made-up region name) is ever written anywhere.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from sovereel.governance.audit import append_audit
from sovereel.governance.per_store import PerStore
from sovereel.storage.db import RegionDB
from sovereel.telemetry import UNAUTHENTICATED_REFUSALS

SUMMARY_WINDOW_S = 300.0
REASONS = frozenset(
    {
        "bad_token",  # a bearer token that is no session here (including one naming a made-up region)
        "foreign_token",  # a token naming another region of the deployment: unverifiable here, so unauthenticated
        "foreign_user",  # an anonymous request naming another region's user
        "unsigned",  # a peer call without signature headers
        "malformed_signature",
        "unknown_peer",  # signed as a region that is not a peer of this deployment
        "untrusted_peer",  # a peer whose public key this region does not trust (yet)
        "bad_signature",
        "expired_signature",
        "replayed",
    }
)
OTHER = "other"


@dataclass
class _Tally:
    counts: Counter[str] = field(default_factory=Counter)
    regions: Counter[str] = field(default_factory=Counter)
    since: float = 0.0
    last_summary: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_TALLIES: PerStore[_Tally] = PerStore(_Tally)


def record_unauthenticated(
    db: RegionDB,
    reason: str,
    *,
    region: str | None = None,
    known_regions: Collection[str] = (),
    clock: Callable[[], float] = time.time,
) -> None:
    """Count one unauthenticated refusal; write a summary entry only when the last one is a window old."""
    reason = reason if reason in REASONS else OTHER
    UNAUTHENTICATED_REFUSALS.labels(reason=reason).inc()
    tally = _TALLIES.get(db)
    now = clock()
    with tally.lock:
        if not tally.counts:
            tally.since = now
        tally.counts[reason] += 1
        if region is not None:
            tally.regions[region if region in known_regions else OTHER] += 1
        if tally.last_summary is not None and now - tally.last_summary < SUMMARY_WINDOW_S:
            return
        detail = {
            "since": round(tally.since, 3),
            "until": round(now, 3),
            "window_s": SUMMARY_WINDOW_S,
            "counts": dict(sorted(tally.counts.items())),
            "requested_regions": dict(sorted(tally.regions.items())),
        }
        tally.counts.clear()
        tally.regions.clear()
        tally.last_summary = now
    with db.transaction() as s:
        append_audit(s, region=db.region, kind="residency.refused_summary", actor_id=None,
                     subject="unauthenticated", detail=detail)  # fmt: skip
