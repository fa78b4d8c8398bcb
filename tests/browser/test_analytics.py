"""Creator analytics in a real browser: twelve viewers' watch events go through the API and the running relay
and analytics consumer; the creator follows the Analytics link from their profile, opens a video's page and
sees the retention curve drawn as an SVG path from those events; a video with fewer than ten viewers shows no
breakdown and says why; another user gets the 404 page.

The system Chromium under Playwright, against a real uvicorn server with its background relay running.
Screenshots land in test-artifacts/screenshots/analytics-*.png.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.runtime.region import RegionRuntime, open_runtime
from sovereel.storage.models import Event
from tests.support.api import process_all
from tests.support.browser import ApiUser, PageErrors, screenshot
from tests.support.counters import ready_video
from tests.support.media_clips import make_clip
from tests.support.settings import make_settings, require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
PASSWORD = "correct horse"
DESKTOP = {"viewport": {"width": 1100, "height": 900}}


@dataclass
class Site:
    base_url: str
    rt: RegionRuntime
    popular: str  # watched by 12 people
    quiet: str  # watched by 3
    tmp: Path


def watch(user: ApiUser, video_id: str, watched_s: float, complete: bool) -> None:
    now = int(time.time() * 1000)
    kinds = [("play", None), ("progress", min(1.0, watched_s)), ("complete" if complete else "skip", watched_s)]
    batch = [
        {"client_id": uuid.uuid4().hex, "kind": k, "video_id": video_id, "ts": now, "source": "foryou"}
        | ({"watched_s": w} if w is not None else {})
        for k, w in kinds
    ]
    r = user.client.post("/api/events", json={"events": batch})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def site(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("analytics")
    rt = open_runtime(make_settings(tmp))
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt)) as base_url:
            creator = ApiUser.signup(base_url, "studio_ana", "Ana")
            creator_id = creator.get("/api/me")["id"]
            popular = ready_video(rt, creator_id, duration_s=12.0, caption="Sunset timelapse")
            quiet = ready_video(rt, creator_id, duration_s=8.0, caption="Quiet morning")
            for i in range(12):
                viewer = ApiUser.signup(base_url, f"watcher{i}")
                # Half watch to the end; the others leave at 3 s.
                watch(viewer, popular, 12.0 if i % 2 == 0 else 3.0, complete=i % 2 == 0)
                if i < 3:
                    watch(viewer, quiet, 4.0, complete=False)
                viewer.close()
            ApiUser.signup(base_url, "studio_ben", "Ben").close()
            deadline = time.monotonic() + 30
            while creator.get(f"/api/videos/{popular}/analytics")["unique_viewers"] < 12:
                assert time.monotonic() < deadline, "the analytics consumer did not fold the events"
                time.sleep(0.2)
            creator.close()
            yield Site(base_url, rt, popular, quiet, tmp)
    finally:
        rt.close()


def session(browser: Browser, site: Site, username: str) -> tuple[BrowserContext, Page, PageErrors]:
    context = browser.new_context(base_url=site.base_url, **DESKTOP)
    context.set_default_timeout(15_000)
    r = context.request.post("/api/auth/login", data={"username": username, "password": PASSWORD})
    assert r.ok, r.text()
    page = context.new_page()
    return context, page, PageErrors(page)


def test_creator_sees_the_retention_curve_drawn_from_real_events(browser: Browser, site: Site) -> None:
    context, page, errors = session(browser, site, "studio_ana")
    page.goto("/@studio_ana")
    page.get_by_test_id("analytics-link").click()
    page.wait_for_url("**/studio")
    assert "updated" in page.get_by_test_id("analytics-freshness").inner_text()
    assert page.get_by_test_id("views-chart").locator("rect.chart-bar").count() == 60
    screenshot(page, "analytics-account")
    page.locator(f"[data-testid=analytics-video-link][data-video-id='{site.popular}']").click()
    page.wait_for_url(f"**/studio/videos/{site.popular}")
    assert page.get_by_test_id("fig-viewers").inner_text() == "12"
    assert page.get_by_test_id("fig-completion").inner_text() == "50%"
    path = page.get_by_test_id("retention-chart-path")
    d = path.get_attribute("d") or ""
    points = [(float(x), float(y)) for x, y in re.findall(r"([\d.]+),([\d.]+)", d)]
    assert d.startswith("M") and len(points) >= 13  # one point per second (0–12 s), plus the steps
    top, bottom = points[0][1], points[-1][1]
    assert bottom > top  # half the viewers left: the curve ends lower (a larger y) than it starts
    chart_height = page.get_by_test_id("retention-chart").bounding_box()
    assert chart_height and chart_height["height"] > 100  # drawn, not collapsed
    assert page.locator("[data-testid=sources] [data-source=foryou]").count() == 1
    screenshot(page, "analytics-video")
    assert errors.errors == []
    context.close()


def test_few_viewers_show_no_breakdown_and_others_get_404(browser: Browser, site: Site) -> None:
    context, page, errors = session(browser, site, "studio_ana")
    page.goto(f"/studio/videos/{site.quiet}")
    assert page.get_by_test_id("fig-viewers").inner_text() == "3"
    note = page.get_by_test_id("breakdown-hidden")
    assert "at least 10" in note.inner_text()
    assert page.get_by_test_id("retention-chart").count() == 0
    screenshot(page, "analytics-hidden")
    assert errors.errors == []
    context.close()
    other, page, _errors = session(browser, site, "studio_ben")
    response = page.goto(f"/studio/videos/{site.popular}")
    assert response is not None and response.status == 404
    assert page.get_by_test_id("not-found").count() == 1
    other.close()


def creator_video(site: Site, username: str) -> str:
    """A new creator's one video, really transcoded and ready."""
    creator = ApiUser.signup(site.base_url, username, username.title())
    vid = creator.upload(make_clip(site.tmp / f"{username}.mp4", width=180, height=320, duration_s=3.0), "A test")
    creator.close()
    assert process_all(site.rt) == 1
    return vid


def test_a_video_opened_from_a_profile_reports_that_source(browser: Browser, site: Site, has_ffmpeg: bool) -> None:
    """The real page: a viewer opens a (really transcoded) video from its creator's profile grid and watches."""
    require(has_ffmpeg, "ffmpeg/ffprobe are not installed")
    vid = creator_video(site, "studio_cam")
    context, page, errors = session(browser, site, "studio_ben")
    page.goto("/@studio_cam")
    page.locator(f"[data-testid=grid-item][data-video-id='{vid}']").click()
    page.wait_for_url(f"**/v/{vid}")
    page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.currentTime > 0.5; }")
    page.goto("/search")  # leaving hands the queued events to the browser (keepalive), and /search resends a copy

    def sources() -> set[str | None]:
        with site.rt.db.session() as s:
            rows = s.scalars(select(Event.source).where(Event.video_id == vid, Event.kind == "play"))
            return set(rows)

    deadline = time.monotonic() + 20
    while not sources():
        assert time.monotonic() < deadline, "no play event arrived"
        time.sleep(0.2)
    assert sources() == {"profile"}
    assert errors.errors == []
    context.close()


def test_events_a_leaving_page_could_not_send_arrive_with_the_next_page(
    browser: Browser, site: Site, has_ffmpeg: bool
) -> None:
    """A leaving page's last requests that the browser never sends (Chromium drops them now and then; keepalive
    requests also ignore Playwright's offline switch, so the page's fetch is made to fail here): the skip reported
    on leaving waits in the browser and arrives with the viewer's next page. Signing out leaves none of it behind."""
    require(has_ffmpeg, "ffmpeg/ffprobe are not installed")
    vid = creator_video(site, "studio_dee")
    context, page, errors = session(browser, site, "studio_ben")
    stored = "() => Object.keys(localStorage).filter((k) => k.startsWith('sovereel.events.'))"

    def kinds() -> set[str]:
        with site.rt.db.session() as s:
            return set(s.scalars(select(Event.kind).where(Event.video_id == vid)))

    context.add_init_script(
        """const realFetch = window.fetch;
        window.fetch = (url, init) => (window.dropEvents && String(url).endsWith('/api/events')
          ? Promise.reject(new TypeError('Failed to fetch')) : realFetch(url, init));"""
    )
    page.goto(f"/v/{vid}")
    page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.currentTime > 0.5; }")
    page.evaluate("window.dropEvents = true")
    page.goto("about:blank")  # leaving reports a skip, whose request fails
    time.sleep(1.0)
    assert "skip" not in kinds()
    page.goto("/search")  # any page of the site sends what the last one left
    deadline = time.monotonic() + 20
    while not {"impression", "play", "skip"} <= kinds():
        assert time.monotonic() < deadline, f"the left-behind events did not arrive: {kinds()}"
        time.sleep(0.2)
    page.wait_for_function(f"() => ({stored})().length === 0")  # delivered, so no longer kept

    # Signing out forgets whatever still waits (a shared device keeps no one's watching).
    page.evaluate(
        """(owner) => localStorage.setItem('sovereel.events.' + owner, JSON.stringify(
             [{client_id: 'leftover0001', kind: 'play', video_id: 'x', ts: Date.now()}]))""",
        page.evaluate("JSON.parse(document.getElementById('viewer-data').textContent).id"),
    )
    page.get_by_test_id("logout").click()
    page.wait_for_function("() => document.getElementById('viewer-data').textContent === 'null'")
    assert page.evaluate(stored) == []
    assert errors.errors == []
    context.close()
