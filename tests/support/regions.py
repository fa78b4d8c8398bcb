"""Two regions side by side for tests: separate runtimes, stores and apps, joined only by the content exchange."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from sovereel.api.app import create_app
from sovereel.governance.http_signatures import sign_request
from sovereel.governance.regions import introduce_region_keys, settings_for
from sovereel.governance.signing import keys_for_dir
from sovereel.runtime.exchange_puller import Fetch
from sovereel.runtime.region import RegionRuntime, open_runtime
from tests.support.settings import PG_URL, make_settings


@dataclass
class Region:
    name: str
    rt: RegionRuntime
    client: TestClient


def deployment_settings(tmp_path: Path, **overrides: object) -> object:
    """A two-region deployment (us, eu) in the embedded layout under tmp_path."""
    regions = {
        "us": {"public_url": "http://127.0.0.1:18000", "database_url": f"sqlite:///{tmp_path}/data/us/sovereel.db"},
        "eu": {"public_url": "http://localhost:18001", "database_url": f"sqlite:///{tmp_path}/data/eu/sovereel.db"},
    }
    return make_settings(tmp_path, regions=regions, exchange_every_s=0.0, **overrides)


@contextmanager
def two_regions(tmp_path: Path, backend: str = "sqlite") -> Iterator[tuple[Region, Region]]:
    """Open us and eu, each with its own runtime and app (never a shared session).

    On PostgreSQL each region gets its own schema, standing in for its own database."""
    deployment = deployment_settings(tmp_path)
    opened: list[Region] = []
    stack = []
    schemas: dict[str, str] = {}
    admin = create_engine(PG_URL) if backend == "postgres" else None
    introduce_region_keys(deployment, ["us", "eu"])  # type: ignore[arg-type]  # the exchange is signed
    try:
        for name in ("us", "eu"):
            settings = settings_for(deployment, name)  # type: ignore[arg-type]
            if admin is not None:
                schemas[name] = f"t_{name}_{secrets.token_hex(5)}"
                with admin.begin() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{schemas[name]}"'))
                settings = settings.model_copy(update={"database_url": PG_URL})
            rt = open_runtime(settings, db_schema=schemas.get(name))
            client = TestClient(create_app(settings, runtime=rt, start_background=False))
            client.__enter__()
            stack.append(client)
            opened.append(Region(name, rt, client))
        yield opened[0], opened[1]
    finally:
        for client in stack:
            client.__exit__(None, None, None)
        for region in opened:
            region.rt.close()
        if admin is not None:
            with admin.begin() as conn:
                for schema in schemas.values():
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def fetch_from(peer: Region, asking: str) -> Fetch:
    """A Fetch that reads the peer's public HTTP API signed as region `asking` (as `ExchangePuller` does)."""
    keys = keys_for_dir(asking, peer.rt.settings.data_dir / asking)  # the asking region's own key file

    def fetch(path: str) -> bytes:
        headers = {"X-Sovereel-Region": asking, **sign_request(keys, "GET", f"http://testserver{path}")}
        r = peer.client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.content

    return fetch


def watch(client: TestClient, headers: dict[str, str], video_id: str, kind: str = "complete") -> None:
    """Report one watch event for the viewer."""
    event = {
        "client_id": uuid.uuid4().hex,
        "kind": kind,
        "video_id": video_id,
        "ts": time.time() * 1000,
        "watched_s": 1.0,
    }
    r = client.post("/api/events", headers=headers, json={"events": [event]})
    assert r.status_code == 200, r.text
