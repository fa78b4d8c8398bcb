"""Helpers for the browser tests: launching the system Chromium, an API client, swipes and screenshots."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from sovereel.api.server import serve_in_thread  # noqa: F401 — the tests import it from here
from tests.support.settings import require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = os.environ.get("SOVEREEL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=user-gesture-required",  # as on a real phone: only muted video may start by itself
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"


def launch_chromium(playwright: Playwright) -> Browser:
    """The system Chromium, headless (never a downloaded one); fails under CI=true, else skips, if missing."""
    require(Path(CHROMIUM).is_file(), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def screenshot(page: Page, name: str, *, settle: bool = False) -> Path:
    """Save a screenshot under test-artifacts/screenshots/ (a folder git ignores); with `settle`, finite CSS
    animations and transitions (a sheet sliding in) are shown at their end."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled" if settle else "allow")
    return path


def swipe_up(page: Page, fraction: float = 0.6) -> None:
    """A finger flicking up over the middle of the screen: raw touch events, so the page's own touch
    scrolling, fling and scroll-snap decide where it lands."""
    size = page.viewport_size or {"width": 390, "height": 844}
    x, start = size["width"] // 2 - 40, int(size["height"] * 0.75)
    distance, steps = size["height"] * fraction, 8
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": start}]})
        for i in range(1, steps + 1):
            point = {"x": x, "y": start - distance * i / steps}
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
            page.wait_for_timeout(16)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


@dataclass
class ApiUser:
    """A user acting through the JSON API with a bearer token."""

    base_url: str
    username: str
    token: str = ""
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url, timeout=30)

    @classmethod
    def signup(cls, base_url: str, username: str, display_name: str = "") -> ApiUser:
        user = cls(base_url, username)
        r = user.client.post(
            "/api/auth/signup",
            json={
                "username": username,
                "password": "correct horse",
                "display_name": display_name,
                "birth_date": "1990-05-17",
            },
        )
        assert r.status_code == 201, r.text
        user.token = r.json()["token"]
        user.client.cookies.clear()
        user.client.headers["Authorization"] = f"Bearer {user.token}"
        return user

    def upload(self, path: Path, caption: str) -> str:
        with path.open("rb") as fh:
            r = self.client.post("/api/videos", files={"file": (path.name, fh, "video/mp4")}, data={"caption": caption})
        assert r.status_code == 202, r.text
        video_id: str = r.json()["id"]
        return video_id

    def get(self, path: str) -> Any:
        r = self.client.get(path)
        assert r.status_code == 200, r.text
        return r.json()

    def wait_ready(self, video_id: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.get(f"/api/videos/{video_id}")["status"]
            assert status != "failed", f"video {video_id} failed to process"
            if status == "ready":
                return
            time.sleep(0.2)
        raise AssertionError(f"video {video_id} was not ready after {timeout_s}s")

    def close(self) -> None:
        self.client.close()


class PageErrors:
    """Uncaught exceptions and console errors on a page (a test fails on any)."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            self.errors.append(f"console: {msg.text}")
