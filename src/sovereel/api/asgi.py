"""The app as an ASGI factory for process managers: `uvicorn --factory sovereel.api.asgi:app_from_env`.

Every worker process calls it and so opens its own region runtime (database pool, bus consumers, learner)
from the SOVEREEL_* environment; `sovereel up` starts the API this way with `--workers N`.
"""

from __future__ import annotations

from fastapi import FastAPI

from sovereel.api.app import create_app
from sovereel.settings import load_settings


def app_from_env() -> FastAPI:
    """Build the app from the environment's settings (one call per worker process)."""
    return create_app(load_settings())
