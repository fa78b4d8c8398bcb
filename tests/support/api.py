"""Helpers for API tests: signing up users and uploading generated clips through the real endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sovereel.runtime.media_worker import MediaWorker
from sovereel.runtime.region import RegionRuntime

ADULT_BIRTH_DATE = "1990-05-17"  # sign-up asks for a birth date; most tests need an adult


def signup(
    client: TestClient, username: str, password: str = "correct horse battery", birth_date: str = ADULT_BIRTH_DATE
) -> dict[str, str]:
    """Create a user and return bearer headers for it."""
    r = client.post("/api/auth/signup", json={"username": username, "password": password, "birth_date": birth_date})
    assert r.status_code == 201, r.text
    client.cookies.clear()  # tests act through explicit bearer headers, not the last signup's cookie
    return {"Authorization": f"Bearer {r.json()['token']}"}


def upload(
    client: TestClient, headers: dict[str, str], path: Path, caption: str = "", visibility: str = "public"
) -> Any:
    with path.open("rb") as f:
        return client.post(
            "/api/videos",
            headers=headers,
            files={"file": (path.name, f, "video/mp4")},
            data={"caption": caption, "visibility": visibility},
        )


def process_all(rt: RegionRuntime) -> int:
    """Run every due transcode job now, in this thread."""
    return MediaWorker(rt).run_until_idle()
