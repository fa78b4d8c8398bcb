"""Shared fixtures: a region runtime on real SQLite, and on the real PostgreSQL when it is reachable.

Under CI=true a missing PostgreSQL, ffmpeg or Chromium fails the run instead of skipping.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from sovereel.api.app import create_app
from sovereel.runtime.region import RegionRuntime, open_runtime
from tests.support.settings import PG_URL, make_settings, postgres_available, require


@pytest.fixture(scope="session")
def has_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


@pytest.fixture
def ffmpeg(has_ffmpeg: bool) -> None:
    require(has_ffmpeg, "ffmpeg/ffprobe are not installed (apt-get install ffmpeg)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres":
        require(postgres_available(), f"PostgreSQL is not reachable at {PG_URL}")
    return name


@pytest.fixture
def rt(backend: str, tmp_path: Path) -> Iterator[RegionRuntime]:
    """A migrated region runtime on the chosen backend (a fresh schema per test on PostgreSQL)."""
    if backend == "sqlite":
        runtime = open_runtime(make_settings(tmp_path))
        yield runtime
        runtime.close()
        return
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    runtime = open_runtime(make_settings(tmp_path, database_url=PG_URL), db_schema=schema)
    try:
        yield runtime
    finally:
        runtime.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_rt(tmp_path: Path) -> Iterator[RegionRuntime]:
    """A runtime on SQLite only, for tests whose subject is not the storage backend."""
    runtime = open_runtime(make_settings(tmp_path))
    yield runtime
    runtime.close()


@pytest.fixture
def client(rt: RegionRuntime) -> Iterator[TestClient]:
    app = create_app(rt.settings, runtime=rt, start_background=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def sqlite_client(sqlite_rt: RegionRuntime) -> Iterator[TestClient]:
    app = create_app(sqlite_rt.settings, runtime=sqlite_rt, start_background=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """The system Chromium under Playwright, shared by a browser test module (fails under CI when missing)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright package is not installed (pip install -e '.[dev]')")
        raise
    from tests.support.browser import launch_chromium

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
