"""The installable app in a real browser: the manifest and its icons, the service worker's offline start, and that
nothing personal ever lands in Cache Storage.

The system Chromium, driven by Playwright, against a real uvicorn server with one ready video (a tiny clip
transcoded by ffmpeg before the server starts), so the feed page really calls the API and loads media. Offline is
the browser's own (`context.set_offline`), which the service worker sees too. Without Chromium this skips with the
reason, and fails under CI=true.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from sovereel.api.app import create_app
from sovereel.runtime.region import open_runtime
from tests.support.api import process_all
from tests.support.browser import ApiUser, screenshot, serve_in_thread
from tests.support.media_clips import make_clip
from tests.support.settings import make_settings, require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow, pytest.mark.timeout(240)]

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
VIEWER = "pia_pwa"
PASSWORD = "correct horse"
# Every URL in every cache the page's origin holds, as [cache name, URL] pairs.
CACHED_URLS_JS = """async () => {
  const out = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) out.push([name, request.url]);
  }
  return out;
}"""

WAIT_ACTIVATED_JS = """() => navigator.serviceWorker.ready.then((registration) => new Promise((resolve) => {
  const worker = registration.active;
  if (worker.state === 'activated') return resolve(true);
  worker.addEventListener('statechange', () => { if (worker.state === 'activated') resolve(true); });
}))"""


@dataclass
class Site:
    base_url: str
    video_id: str


@pytest.fixture(scope="module")
def site(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A served region with one creator's ready video and a viewer, `pia_pwa`."""
    require(bool(shutil.which("ffmpeg") and shutil.which("ffprobe")), "ffmpeg/ffprobe are not installed")
    tmp = tmp_path_factory.mktemp("pwa")
    rt = open_runtime(make_settings(tmp))
    clip = make_clip(tmp / "clip.mp4", width=160, height=288, duration_s=1.5)
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt)) as base_url:
            creator = ApiUser.signup(base_url, "cleo_pwa", "Cleo")
            video_id = creator.upload(clip, "Offline-first #pwa")
            creator.close()
            assert process_all(rt) == 1
            ApiUser.signup(base_url, VIEWER, "Pia").close()
            yield Site(base_url, video_id)
    finally:
        rt.close()


def new_context(browser: Browser, site: Site, *, sign_in: bool = False) -> BrowserContext:
    """A fresh browser profile (no worker, no caches yet), signed in as the viewer if asked."""
    context = browser.new_context(base_url=site.base_url, **PHONE)
    context.set_default_timeout(15_000)
    if sign_in:
        r = context.request.post("/api/auth/login", data={"username": VIEWER, "password": PASSWORD})
        assert r.ok, r.text()
    return context


def install_app(context: BrowserContext, path: str = "/") -> Page:
    """Open a page and wait until the service worker is active and controls it."""
    page = context.new_page()
    page.goto(path)
    wait_activated(page)
    return page


def wait_activated(page: Page) -> None:
    """Wait until the page's worker has finished activating (old caches cleared) and controls the page."""
    page.evaluate(WAIT_ACTIVATED_JS)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def png_size(body: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (which must come first)."""
    assert body[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert body[12:16] == b"IHDR"
    width, height = struct.unpack(">II", body[16:24])
    return width, height


def assert_offline_page(page: Page) -> None:
    """The app's own offline state, styled by app.css — not Chromium's dino page."""
    page.get_by_test_id("offline").wait_for()
    assert page.get_by_role("heading", name="You are offline").is_visible()
    assert "ERR_INTERNET_DISCONNECTED" not in page.content()
    retry = page.get_by_test_id("offline-retry")
    # .btn-primary from app.css: the accent colour (#ff2d55) on black.
    assert retry.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(255, 45, 85)"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(0, 0, 0)"


def test_manifest_is_linked_valid_and_its_icons_are_pngs_of_their_size(browser: Browser, site: Site) -> None:
    context = new_context(browser, site)
    try:
        page = install_app(context)
        href = page.locator("link[rel=manifest]").get_attribute("href")
        assert href == "/manifest.webmanifest"
        response = context.request.get(href)
        assert response.ok and response.headers["content-type"] == "application/manifest+json"
        manifest: dict[str, Any] = response.json()
        for key, value in {"start_url": "/", "scope": "/", "display": "standalone", "orientation": "portrait"}.items():
            assert manifest[key] == value, key
        assert manifest["name"] and manifest["short_name"]
        # The colours match the page: the theme-color meta and app.css's background.
        theme = page.locator("meta[name=theme-color]").get_attribute("content")
        assert manifest["theme_color"] == theme == manifest["background_color"] == "#000000"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(0, 0, 0)"

        icons = manifest["icons"]
        sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in icons}
        assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
        apple = page.locator("link[rel=apple-touch-icon]").get_attribute("href")
        for src, size in [(icon["src"], icon["sizes"]) for icon in icons] + [(apple, "180x180")]:
            assert src
            r = context.request.get(src)
            assert r.ok and r.headers["content-type"] == "image/png", src
            assert "x".join(map(str, png_size(r.body()))) == size, src

        # Chromium's own reading: the manifest parses cleanly and the app is installable.
        cdp = context.new_cdp_session(page)
        try:
            parsed = cdp.send("Page.getAppManifest")
            assert parsed["url"].endswith("/manifest.webmanifest")
            assert parsed["errors"] == [], parsed["errors"]
            installability = cdp.send("Page.getInstallabilityErrors")
            # Playwright's contexts are incognito profiles, where Chromium never offers to install; nothing else.
            errors = [e["errorId"] for e in installability["installabilityErrors"] if e["errorId"] != "in-incognito"]
            assert errors == [], installability
        finally:
            cdp.detach()
    finally:
        context.close()


def test_offline_start_shows_the_offline_page_and_retry_brings_the_app_back(browser: Browser, site: Site) -> None:
    context = new_context(browser, site)
    try:
        page = install_app(context)
        context.set_offline(True)
        page.reload()
        assert_offline_page(page)
        assert page.url == f"{site.base_url}/"  # the address stays the one asked for
        screenshot(page, "pwa-offline-phone")
        page.goto("/search?q=pwa")  # another page, never visited: the offline page too
        assert_offline_page(page)
        page.get_by_test_id("offline-retry").click()  # still offline: stays on the offline page
        assert_offline_page(page)

        context.set_offline(False)
        page.get_by_test_id("offline-retry").click()
        page.get_by_test_id("nav").wait_for()
        assert page.get_by_test_id("offline").count() == 0
        assert page.url == f"{site.base_url}/search?q=pwa"
        assert "Search · sovereel" in page.evaluate("document.title")
    finally:
        context.close()


def test_no_api_media_or_personal_response_is_ever_cached(browser: Browser, site: Site) -> None:
    context = new_context(browser, site, sign_in=True)
    seen: list[str] = []
    try:
        page = install_app(context)
        page.on("request", lambda request: seen.append(request.url))
        page.reload()  # now under the worker's control from the start
        page.locator("[data-testid=feed-item]").first.wait_for()
        # What a session does: the feed, a profile, a video, the API (incl. a media file), all signed in.
        page.evaluate(
            """async (id) => {
              for (const url of ['/api/feed/foryou', '/api/me', `/api/videos/${id}`,
                                 `/api/videos/${id}/media/poster`]) await fetch(url);
            }""",
            site.video_id,
        )
        page.goto(f"/@{VIEWER}")
        page.goto(f"/v/{site.video_id}")
        page.goto("/")
        assert any("/api/" in url for url in seen), seen
        cached = page.evaluate(CACHED_URLS_JS)
        assert cached, "the worker cached no shell at all"
        shell = site.base_url + "/"
        for name, url in cached:
            assert name.startswith("sovereel-shell-"), name
            path = url.removeprefix(shell.rstrip("/"))
            assert path in ("/offline", "/manifest.webmanifest") or path.startswith("/static/"), url
            assert "?" not in path, url
        # The cached offline page is the anonymous one: it names no viewer.
        offline_html = page.evaluate("caches.match('/offline').then(r => r.text())")
        assert VIEWER not in offline_html and "You are offline" in offline_html
    finally:
        context.close()


def test_a_new_worker_deletes_old_shell_caches(browser: Browser, site: Site) -> None:
    context = new_context(browser, site)
    try:
        page = install_app(context)
        page.evaluate(
            "caches.open('sovereel-shell-0000000000000000').then(c => c.put('/static/app.css', new Response('')))"
        )
        # A fresh install of the worker (as after a deploy) activates and clears every other shell version.
        page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.unregister())")
        page.reload()
        wait_activated(page)
        names = page.evaluate("caches.keys()")
        assert (
            len(names) == 1 and names[0].startswith("sovereel-shell-") and names[0] != "sovereel-shell-0000000000000000"
        )
    finally:
        context.close()
