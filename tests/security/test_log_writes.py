"""Issue 14 item 7: anonymous requests never grow the append-only logs, and public log endpoints do bounded work.

What is written to the audit log and the exchange log is authenticated: a region-to-region call is signed with the
calling region's Ed25519 key (RFC 9421 HTTP Message Signatures); unauthenticated refusals are counted and at most
summarised (one `residency.refused_summary` per window), never appended one by one.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import event, func, select

from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.governance.audit import append_audit
from sovereel.governance.http_signatures import sign_request
from sovereel.governance.signing import RegionKeys
from sovereel.runtime.exchange_puller import ExchangePuller
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import AuditEntry, ExchangeTransfer, User, Video
from tests.support.api import signup
from tests.support.regions import Region, two_regions

FEED = "/api/exchange/videos?since=0.0&limit=50"


def audit_size(rt: RegionRuntime) -> int:
    with rt.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def audit_text(rt: RegionRuntime) -> str:
    with rt.db.session() as s:
        return str([(e.kind, e.subject, e.detail) for e in s.scalars(select(AuditEntry))])


def exchange_rows(rt: RegionRuntime) -> list[tuple[str, str, str]]:
    with rt.db.session() as s:
        return [(t.direction, t.peer_region, t.video_id) for t in s.scalars(select(ExchangeTransfer))]


def add_public_video(rt: RegionRuntime, vid: str = "pubvid1") -> str:
    """A ready public video of a public account, as the exchange offers it (rows only: no media needed here)."""
    now = time.time()
    with rt.db.transaction() as s:
        s.add(User(id=f"u{vid}", region=rt.region, username=f"maker{vid}", username_key=f"maker{vid}",
                   password_hash="x", created_at=now))  # fmt: skip
        s.flush()
        s.add(Video(id=vid, region=rt.region, creator_id=f"u{vid}", caption="lake", visibility="public",
                    status="ready", renditions={}, created_at=now, ready_at=now))  # fmt: skip
    return vid


def signed(keys: RegionKeys, path: str, **kw: Any) -> dict[str, str]:
    return sign_request(keys, "GET", "http://testserver" + path, **kw)


def refusal_count(reason: str) -> float:
    return REGISTRY.get_sample_value("sovereel_unauthenticated_refusals_total", {"reason": reason}) or 0.0


def test_bogus_tokens_and_made_up_regions_do_not_grow_the_audit_log(tmp_path: Path) -> None:
    with two_regions(tmp_path) as (_us, eu):
        before = audit_size(eu.rt)
        bad_tokens_before = refusal_count("bad_token")
        statuses = set()
        for i in range(200):
            made_up = f"zz{secrets.token_hex(3)}"
            token = ["zz.x", f"{made_up}.{secrets.token_urlsafe(8)}", "us.forged", f"us.{i}"][i % 4]
            r = eu.client.get("/api/me", headers={"Authorization": f"Bearer {token}", "X-Sovereel-Region": made_up})
            statuses.add(r.status_code)
            r = eu.client.get(FEED, headers={"X-Sovereel-Region": made_up})
            statuses.add(r.status_code)
            r = eu.client.get(f"/api/users/bob@{'us' if i % 2 else made_up}")  # anonymous, naming a foreign user
            statuses.add(r.status_code)
        assert statuses <= {401, 403, 404}
        assert audit_size(eu.rt) - before <= 1  # one summary at most, never one entry per request
        assert "zz" not in audit_text(eu.rt)  # made-up region names are written nowhere
        with eu.rt.db.session() as s:
            kinds = set(s.scalars(select(AuditEntry.kind).where(AuditEntry.idx >= before)))
        assert kinds <= {"residency.refused_summary"}
        assert refusal_count("bad_token") - bad_tokens_before >= 100  # counted, by a bounded reason


def test_a_signed_in_users_refusal_is_still_audited(tmp_path: Path) -> None:
    with two_regions(tmp_path) as (us, _eu):
        ana = signup(us.client, "ana")
        before = audit_size(us.rt)
        assert us.client.get("/api/users/bob@eu", headers=ana).status_code == 403
        with us.rt.db.session() as s:
            entry = s.scalar(select(AuditEntry).where(AuditEntry.idx >= before, AuditEntry.kind == "residency.refused"))
        assert entry is not None and entry.detail["requested_region"] == "eu"


@contextmanager
def exchange_pair(tmp_path: Path) -> Iterator[tuple[Region, Region, str]]:
    with two_regions(tmp_path) as (us, eu):
        yield us, eu, add_public_video(eu.rt)


def test_unsigned_or_badly_signed_exchange_requests_are_refused_and_log_nothing(tmp_path: Path) -> None:
    with exchange_pair(tmp_path) as (us, eu, _vid):
        keys = us.rt.learner.gate.keys
        stranger = RegionKeys(region="us", private=Ed25519PrivateKey.generate(), trusted={})
        made_up = RegionKeys(region="atlantis", private=Ed25519PrivateKey.generate(), trusted={})
        replay = signed(keys, FEED)
        assert eu.client.get(FEED, headers=replay).status_code == 200  # the genuine request
        rows = exchange_rows(eu.rt)
        audit = audit_size(eu.rt)
        attempts: list[tuple[str, dict[str, str]]] = [
            (FEED, {}),  # anonymous
            (FEED, {"X-Sovereel-Region": "us"}),  # naming a region is not being it
            (FEED, replay),  # the same signed request again
            (FEED, signed(stranger, FEED)),  # another key claiming to be us
            (FEED, signed(made_up, FEED)),  # a region of no deployment
            (FEED, signed(keys, FEED, created=time.time() - 600)),  # expired
            (FEED, signed(keys, FEED, created=time.time() + 600)),  # from the future
            ("/api/exchange/videos?since=0.0&limit=200", signed(keys, FEED)),  # signed for another query
            (FEED, {**signed(keys, FEED), "Signature": "sig1=:AAAA:"}),  # a broken signature
            (FEED, {"Signature-Input": "garbage((", "Signature": "x"}),  # malformed
            ("/api/exchange/offered?ids=pubvid1", {}),
        ]
        for path, headers in attempts:
            r = eu.client.get(path, headers=headers)
            assert r.status_code == 401, (path, headers, r.status_code, r.text)
            assert r.json()["error"]["code"] == "peer_not_authenticated"
        assert exchange_rows(eu.rt) == rows  # nothing was transferred, nothing was logged
        assert audit_size(eu.rt) - audit <= 1
        assert "atlantis" not in audit_text(eu.rt)


def test_a_signed_peer_gets_the_feed_and_only_real_transfers_are_logged(tmp_path: Path) -> None:
    with exchange_pair(tmp_path) as (us, eu, vid):
        keys = us.rt.learner.gate.keys
        assert exchange_rows(eu.rt) == []
        page = eu.client.get(FEED, headers=signed(keys, FEED)).json()
        assert [v["id"] for v in page["videos"]] == [vid]
        assert exchange_rows(eu.rt) == [("out", "us", vid)]  # logged under the region the signature proves
        offered = "/api/exchange/offered?ids=" + vid
        assert eu.client.get(offered, headers=signed(keys, offered)).json()["offered"] == [vid]
        assert exchange_rows(eu.rt) == [("out", "us", vid)]


def test_the_puller_signs_its_requests_over_real_http(tmp_path: Path) -> None:
    """`ExchangePuller` over the network: the signature covers the host, path and query the peer really sees."""
    with exchange_pair(tmp_path) as (us, eu, vid):
        app = create_app(eu.rt.settings, runtime=eu.rt, start_background=False)
        with serve_in_thread(app) as url:
            results = ExchangePuller(us.rt, {"eu": url}, 0).run_once()
        assert [r.received for r in results] == [[vid]]
        assert exchange_rows(eu.rt) == [("out", "us", vid)]
        assert exchange_rows(us.rt) == [("in", "eu", vid)]


class VMSteps:
    """Counts SQLite virtual-machine steps on an engine's connections: the database work a request does."""

    def __init__(self) -> None:
        self.steps = 0

    def tick(self) -> int:
        self.steps += 1
        return 0

    def attach(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if isinstance(dbapi_conn, sqlite3.Connection):
            dbapi_conn.set_progress_handler(self.tick, 100)


def add_entries(rt: RegionRuntime, n: int) -> None:
    with rt.db.transaction() as s:
        for i in range(n):
            append_audit(s, region=rt.region, kind="settings.changed", actor_id=None, subject=f"setting:{i}",
                         detail={"setting": f"s{i}", "old": i, "new": i + 1})  # fmt: skip


def test_the_public_checkpoint_does_bounded_work_per_request(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime
) -> None:
    meter = VMSteps()
    event.listen(sqlite_rt.db.engine, "checkout", meter.attach)

    def fifty_calls() -> tuple[int, list[Any]]:
        sqlite_client.get("/api/audit/checkpoint")  # the first call after growth may read the new entries
        meter.steps = 0
        answers = [sqlite_client.get("/api/audit/checkpoint").json() for _ in range(50)]
        return meter.steps, answers

    add_entries(sqlite_rt, 20)
    small, answers = fifty_calls()
    assert answers[0]["size"] == 20 and all(a == answers[0] for a in answers)
    add_entries(sqlite_rt, 3000)
    big, answers = fifty_calls()
    assert answers[0]["size"] == 3020 and all(a == answers[0] for a in answers)
    # Work per call does not grow with the log: 150 times the entries, about the same database work.
    assert big < 3 * small + 1000, (small, big)
    # The proofs are public too: they are answered from the verified tree, not by re-reading every leaf.
    meter.steps = 0
    for i in range(50):
        assert sqlite_client.get("/api/audit/proof/inclusion", params={"index": i, "size": 3020}).status_code == 200
    assert meter.steps < 3 * small + 1000, (small, meter.steps)
