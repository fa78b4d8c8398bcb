"""Settings and environment checks shared by every test: a test region's settings, and skip-or-fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sovereel.settings import Settings, load_settings

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("SOVEREEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def require(condition: bool, reason: str) -> None:
    """Skip with a reason on a developer machine; fail under CI, where everything must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required under CI=true: {reason}")
    pytest.skip(reason)


def postgres_available() -> bool:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "environment": "test",
        "run_workers": False,
        "job_backoff_s": 0.0,
        "x264_preset": "ultrafast",
        "rate_limits": False,  # tests sign up many users from one address; tests/api/test_ratelimit.py turns them on
    }
    base.update(overrides)
    return load_settings(**base)
