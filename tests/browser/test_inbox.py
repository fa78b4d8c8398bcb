"""The inbox, live, in a real browser: the creator's inbox page is open; another user likes the creator's video
through the API; the item and the nav's unread badge appear without a reload; Mark read clears the badge; on
another page the badge still updates live.

The system Chromium under Playwright against a real uvicorn server (its outbox relay and bus running as served)
with a real transcoded clip. Screenshots land in test-artifacts/screenshots/inbox-*.png. Without Chromium this
skips with the reason, and fails under CI=true.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.runtime.region import open_runtime
from tests.support.api import process_all
from tests.support.browser import ApiUser, PageErrors, screenshot
from tests.support.media_clips import make_clip
from tests.support.settings import make_settings, require

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow, pytest.mark.timeout(240)]

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 860}, "device_scale_factor": 1}


@dataclass
class Site:
    base_url: str
    video_id: str


@pytest.fixture(scope="module")
def site(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A served region where `ivy_in` has one ready video."""
    require(bool(shutil.which("ffmpeg") and shutil.which("ffprobe")), "ffmpeg/ffprobe are not installed")
    tmp = tmp_path_factory.mktemp("inbox")
    rt = open_runtime(make_settings(tmp, rate_limits=False))
    clip = make_clip(tmp / "clip.mp4", width=160, height=288, duration_s=1.0)
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt)) as base_url:
            creator = ApiUser.signup(base_url, "ivy_in", "Ivy")
            video_id = creator.upload(clip, "Ivy paints #art")
            creator.close()
            process_all(rt)
            yield Site(base_url, video_id)
    finally:
        rt.close()


def test_a_like_shows_in_the_creators_inbox_live(browser: Browser, site: Site) -> None:
    from playwright.sync_api import expect  # here: without playwright the module still collects, and skips

    leo, max_ = ApiUser.signup(site.base_url, "leo_in", "Leo"), ApiUser.signup(site.base_url, "max_in", "Max")
    context = browser.new_context(base_url=site.base_url, **DESKTOP)
    context.set_default_timeout(15_000)
    r = context.request.post("/api/auth/login", data={"username": "ivy_in", "password": "correct horse"})
    assert r.ok, r.text()
    page = context.new_page()
    errors = PageErrors(page)
    try:
        page.goto("/inbox")
        page.get_by_text("Nothing here yet.").wait_for()
        badge = page.get_by_test_id("unread-badge")
        assert badge.is_hidden()
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads or navigates

        assert leo.client.post(f"/api/videos/{site.video_id}/like").status_code == 200
        item = page.get_by_test_id("inbox-item").first
        item.get_by_text("@leo_in liked your video").wait_for()
        expect(badge).to_have_text("1")  # polled by Playwright: a predicate string would meet the page's CSP
        assert badge.is_visible() and page.evaluate("window.__sameDocument === true")

        assert max_.client.post(f"/api/videos/{site.video_id}/like").status_code == 200
        item.get_by_text("@max_in and 1 other liked your video").wait_for()
        assert page.get_by_test_id("inbox-item").count() == 1 and badge.inner_text() == "1"
        screenshot(page, "inbox-live-like")

        item.get_by_test_id("mark-read").click()
        badge.wait_for(state="hidden")
        assert page.evaluate("window.__sameDocument === true")

        # On any other page the badge is live too.
        page.goto("/search")
        assert badge.is_hidden()
        assert leo.client.post("/api/users/ivy_in/follow").status_code == 200
        expect(badge).to_have_text("1")  # polled by Playwright: a predicate string would meet the page's CSP
        screenshot(page, "inbox-live-badge")
        assert errors.errors == []
    finally:
        leo.close()
        max_.close()
        context.close()
