"""The `sovereel` commands for several regions: serving them side by side, the residency check, exchange pulls.

`sovereel serve --regions us,eu` runs one uvicorn server per region in one OS process for demonstration:
each region has its own `RegionRuntime` (its own SQLite file, media folder, bus, learner and port), built
from `settings_for(…)`, which gives it its own store URLs and only the other regions' public URLs. The
runtimes never share a session or an engine; the only traffic between them is the content exchange over
each other's public HTTP API.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from typing import Any
from urllib.parse import urlparse

from sovereel.cli.groups import CommandGroups
from sovereel.settings import Settings

log = logging.getLogger(__name__)


def _names(arg: str | None, settings: Settings) -> list[str]:
    if arg:
        return [n.strip() for n in arg.split(",") if n.strip()]
    return sorted(settings.regions) or [settings.region]


def with_regions(settings: Settings, names: list[str], host: str, port: int) -> Settings:
    """The deployment's regions: the configured ones, or the embedded demo layout for `names`."""
    from sovereel.governance.regions import demo_regions

    if settings.regions:
        missing = set(names) - set(settings.regions)
        if missing:
            raise SystemExit(f"regions {sorted(missing)} are not in SOVEREEL_REGIONS")
        return settings
    return demo_regions(settings, names, host, port)


def serve_regions(settings: Settings, names: list[str], host: str, port: int, run_workers: bool = True) -> int:
    """Serve every named region from this process, each on its own port with its own runtime."""
    import uvicorn

    from sovereel.api.app import create_app
    from sovereel.governance.regions import introduce_region_keys, settings_for
    from sovereel.runtime.region import RegionRuntime, open_runtime
    from sovereel.runtime.supervisor import KEEP_ALIVE_S

    deployment = with_regions(settings, names, host, port)
    introduce_region_keys(deployment, names)  # one operator runs them all: the exchange between them is signed
    servers: list[Any] = []
    runtimes: list[RegionRuntime] = []
    for i, name in enumerate(names):
        region_settings = settings_for(deployment, name).model_copy(update={"run_workers": run_workers})
        region_port = urlparse(region_settings.public_url).port or port + i
        # Opened one after the other: schema migrations (Alembic) must not run in two threads at once.
        rt = open_runtime(region_settings)
        runtimes.append(rt)
        app = create_app(region_settings, runtime=rt)
        config = uvicorn.Config(app, host=host, port=region_port, log_level="info", timeout_keep_alive=KEEP_ALIVE_S)
        servers.append(uvicorn.Server(config))
        print(f"region {name}: {region_settings.public_url or f'http://{host}:{region_port}'}")
    threads = [
        threading.Thread(target=srv.run, name=f"serve-{n}", daemon=True) for srv, n in zip(servers, names, strict=True)
    ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for t in threads:
        t.start()
    while not stop.wait(0.5):
        if not any(t.is_alive() for t in threads):
            break
    for srv in servers:
        srv.should_exit = True
    for t in threads:
        t.join(timeout=10)
    for rt in runtimes:
        rt.close()
    return 0


def cmd_residency_check(args: argparse.Namespace, settings: Settings) -> int:
    """Scan every region's store for personal rows of another region's users; exit 1 on any violation."""
    from sovereel.governance.regions import settings_for
    from sovereel.governance.residency import account_ids, scan_store
    from sovereel.storage.db import open_region_db

    names = _names(args.regions, settings)
    deployment = with_regions(settings, names, "127.0.0.1", 8000)
    # An operator's check: it opens each region's store in turn (read only) and compares their account ids.
    stores = {}
    for name in names:
        stores[name] = open_region_db(settings_for(deployment, name))
    accounts = {}
    for name, db in stores.items():
        with db.session() as s:
            accounts[name] = account_ids(s)
    failed = False
    for name, db in stores.items():
        foreign = set().union(*(ids for other, ids in accounts.items() if other != name))
        with db.session() as s:
            report = scan_store(s, name, foreign)
        print(report.summary())
        failed = failed or not report.ok
        db.dispose()
    print("residency check:", "FAILED" if failed else f"OK ({len(names)} regions, no personal data out of place)")
    return 1 if failed else 0


def cmd_exchange_pull(args: argparse.Namespace, settings: Settings) -> int:
    """Pull every other region's new public videos into this region now."""
    from sovereel.governance.regions import peer_urls, settings_for
    from sovereel.runtime.exchange_puller import ExchangePuller
    from sovereel.runtime.region import open_runtime

    region_settings = settings_for(settings, settings.region) if settings.regions else settings
    peers = peer_urls(region_settings)
    if not peers:
        print("no other regions configured (SOVEREEL_REGIONS)")
        return 1
    rt = open_runtime(region_settings)
    try:
        for result in ExchangePuller(rt, peers, 0).run_once():
            print(
                f"from {result.peer}: {len(result.received)} new videos ({result.bytes} bytes), {result.skipped} known"
            )
    finally:
        rt.close()
    return 0


def cmd_user_show(args: argparse.Namespace, settings: Settings) -> int:
    """An operator's look-up of one account: this region's only; another region's is refused and audited."""
    from sovereel.actions.residency import check_username, do_show_user
    from sovereel.errors import AppError
    from sovereel.governance.regions import settings_for
    from sovereel.storage.db import open_region_db

    region_settings = settings_for(settings, settings.region) if settings.regions else settings
    db = open_region_db(region_settings)
    try:
        check_username(region_settings, db, args.who, signed_in=True)  # an operator's look-up: audited
        shown = do_show_user(db, audit_secret=region_settings.secret_key, who=args.who, reason=args.reason)
        if shown is None:
            print(f"region {db.region}: no account {args.who!r}")
            return 1
        print(json.dumps(shown, indent=2, default=str))
        return 0
    except AppError as exc:
        print(f"refused ({exc.status} {exc.code}): {exc.message}")
        return 3
    finally:
        db.dispose()


def add_region_commands(groups: CommandGroups, settings_of: Any) -> None:
    """Register `residency check`, `user show` and `exchange pull` on the `sovereel` parser."""
    residency = groups.top.add_parser("residency", help="prove that personal data stays in its region")
    rsub = residency.add_subparsers(dest="residency_command", required=True)
    check = rsub.add_parser("check", help="scan every region's store for other regions' personal data")
    check.add_argument("--regions", help="comma-separated region names (default: SOVEREEL_REGIONS)")
    check.set_defaults(func=lambda a: cmd_residency_check(a, settings_of(a)))
    show = groups.user.add_parser("show", help="show one account of this region (another region's is refused)")
    show.add_argument("who", help="username, name@region, or user id")
    show.add_argument("--reason", required=True, help="why the operator reads it (kept in the audit log)")
    show.set_defaults(func=lambda a: cmd_user_show(a, settings_of(a)))
    exchange = groups.top.add_parser("exchange", help="the content exchange between regions")
    esub = exchange.add_subparsers(dest="exchange_command", required=True)
    pull = esub.add_parser("pull", help="pull other regions' new public videos into this region")
    pull.set_defaults(func=lambda a: cmd_exchange_pull(a, settings_of(a)))
