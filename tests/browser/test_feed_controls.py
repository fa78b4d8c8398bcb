"""The For You controls in a real browser: the "…" menu (not interested in a video, a creator, a hashtag, with
Undo), "Why this video?", and the For You settings sheet (personalisation switch, keyword filters, the
not-interested marks, Refresh For You), on a phone viewport and on desktop.

The system Chromium, driven by Playwright, against a real uvicorn server; the videos are real (tiny clips
transcoded by ffmpeg before the server starts). Each control is checked where it must take effect: in the
page, and in what `GET /api/feed/foryou` serves afterwards. Screenshots land in
test-artifacts/screenshots/controls-*.png. Without Chromium this skips with the reason, and fails under CI=true.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from sovereel.api.app import create_app
from sovereel.runtime.region import open_runtime
from tests.support.api import process_all
from tests.support.browser import ApiUser, PageErrors, screenshot, serve_in_thread
from tests.support.media_clips import make_clip
from tests.support.settings import make_settings, require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow, pytest.mark.timeout(240)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1440, "height": 900}, "device_scale_factor": 1}
PASSWORD = "correct horse"
# Two creators, three videos each; exactly one of each creator's captions says "pancakes".
CAPTIONS = {
    "cara_ctl": ["Pancakes for breakfast #cooking", "Knife skills #cooking #kitchen", "Sunday market #food"],
    "dan_ctl": ["Skate park session #skate", "Kickflip practice #skate #tricks", "Pancakes after skating #skate"],
}


@dataclass
class Site:
    base_url: str
    videos: dict[str, str]  # video id -> creator username
    captions: dict[str, str]  # video id -> caption


@pytest.fixture(scope="module")
def site(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A served region with two creators' ready videos and a viewer, `vera_ctl`, who follows nobody."""
    require(bool(shutil.which("ffmpeg") and shutil.which("ffprobe")), "ffmpeg/ffprobe are not installed")
    tmp = tmp_path_factory.mktemp("controls")
    rt = open_runtime(make_settings(tmp))
    clip = make_clip(tmp / "clip.mp4", width=160, height=288, duration_s=1.5)
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt)) as base_url:
            videos: dict[str, str] = {}
            captions: dict[str, str] = {}
            for username, texts in CAPTIONS.items():
                creator = ApiUser.signup(base_url, username, username.split("_")[0].title())
                for text in texts:
                    video_id = creator.upload(clip, text)
                    videos[video_id] = username
                    captions[video_id] = text
                creator.close()
            assert process_all(rt) == len(videos)  # transcoded here, before any page is opened
            ApiUser.signup(base_url, "vera_ctl", "Vera").close()
            yield Site(base_url, videos, captions)
    finally:
        rt.close()


def _no_watch_events(route: Route) -> None:
    route.fulfill(status=204)


def open_session(
    browser: Browser, site: Site, options: dict[str, Any], *, sign_in: bool = True
) -> tuple[BrowserContext, Page, PageErrors]:
    """A new browser context (a new session), signed in as the viewer unless told otherwise.

    Watch events are answered without being recorded: what this test checks is the controls, so the feed must
    not also change because the viewer's watch history grew while the page played.
    """
    context = browser.new_context(base_url=site.base_url, **options)
    context.set_default_timeout(15_000)
    context.route("**/api/events", _no_watch_events)
    if sign_in:
        r = context.request.post("/api/auth/login", data={"username": "vera_ctl", "password": PASSWORD})
        assert r.ok, r.text()
    page = context.new_page()
    return context, page, PageErrors(page)


def active(page: Page) -> Any:
    return page.locator("[data-testid=feed-item].active")


def shown_ids(page: Page) -> list[str]:
    ids: list[str] = page.locator("[data-testid=feed-item]").evaluate_all("els => els.map(e => e.dataset.videoId)")
    return ids


def open_feed(page: Page) -> None:
    page.goto("/")
    page.wait_for_selector("[data-testid=feed-item].active, [data-testid=feed-empty]")


def served_ids(page: Page) -> list[str]:
    """What `GET /api/feed/foryou` serves this session now (a new scroll, every page of it)."""
    ids: list[str] = []
    cursor = None
    for _ in range(10):
        url = "/api/feed/foryou?limit=50" + (f"&cursor={cursor}" if cursor else "")
        r = page.request.get(url)
        assert r.ok, r.text()
        body = r.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor or not body["items"]:
            break
    return ids


def feed_settings(page: Page) -> dict[str, Any]:
    r = page.request.get("/api/me/feed-settings")
    assert r.ok, r.text()
    settings: dict[str, Any] = r.json()
    return settings


def go_to(page: Page, wanted: Callable[[str], bool]) -> str:
    """Move down the feed with the keyboard until the active video is one `wanted` accepts; returns its id."""
    for _ in range(12):
        video_id = active(page).get_attribute("data-video-id") or ""
        if wanted(video_id):
            return video_id
        before = page.evaluate("document.getElementById('feed').dataset.activeIndex")
        page.keyboard.press("j")
        page.wait_for_function(f"() => document.getElementById('feed').dataset.activeIndex !== '{before}'")
    raise AssertionError(f"no wanted video in the feed: {shown_ids(page)}")


FEED_STATE = """() => { const f = document.getElementById('feed');
  return {scrollTop: f.scrollTop, height: f.clientHeight, active: f.dataset.activeIndex, id: f.dataset.activeId,
          items: [...f.children].map(c => [c.dataset.testid, c.dataset.videoId, c.className, c.offsetTop,
                                            (c.querySelector('.caption') || {}).textContent])}; }"""


def long_press(page: Page, x: int, y: int) -> None:
    """A finger held still on the screen for a second (raw touch events)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        page.wait_for_timeout(1000)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def open_menu(page: Page) -> Any:
    active(page).get_by_test_id("more-btn").click()
    sheet = page.get_by_test_id("more-sheet")
    sheet.wait_for()
    return sheet


def test_phone_not_interested_why_and_settings(browser: Browser, site: Site) -> None:
    context, page, errors = open_session(browser, site, PHONE)
    open_feed(page)
    assert set(shown_ids(page)) == set(site.videos), "the viewer starts with every video in For You"
    screenshot(page, "controls-phone-feed", settle=True)

    # The "…" menu on the video on screen: the video, its creator, each of its hashtags, and "Why this video?".
    first = active(page).get_attribute("data-video-id") or ""
    hidden = site.videos[first]
    kept = next(name for name in CAPTIONS if name != hidden)
    sheet = open_menu(page)
    assert sheet.get_by_test_id("not-interested-btn").is_visible()
    assert sheet.get_by_test_id("hide-creator-btn").inner_text() == f"Don't show videos from @{hidden}"
    tags = sorted(sheet.get_by_test_id("hide-tag-btn").evaluate_all("els => els.map(e => e.dataset.tag)"))
    assert tags == sorted(t.lstrip("#") for t in site.captions[first].split() if t.startswith("#"))
    assert sheet.get_by_test_id("why-menu-btn").is_visible()
    assert sheet.get_by_test_id("report-btn").is_visible()  # reporting is a menu item beside the feed controls
    screenshot(page, "controls-phone-menu", settle=True)
    page.keyboard.press("Escape")
    sheet.wait_for(state="hidden")

    # A long press on the video opens the same menu, and is not taken for a tap (which would unmute).
    long_press(page, 195, 400)
    sheet.wait_for()
    assert page.evaluate("document.getElementById('feed').classList.contains('is-muted')")
    page.keyboard.press("Escape")
    sheet.wait_for(state="hidden")

    # Don't show videos from this creator: all of theirs leave the page at once, the feed moves on, Undo is offered.
    open_menu(page).get_by_test_id("hide-creator-btn").click()
    toast = page.get_by_test_id("toast")
    toast.filter(has_text=f"@{hidden}").wait_for()
    page.wait_for_function("() => document.querySelector('[data-testid=feed-item].active')")
    assert {site.videos[v] for v in shown_ids(page)} == {kept}
    assert site.videos[active(page).get_attribute("data-video-id") or ""] == kept
    screenshot(page, "controls-phone-creator-hidden", settle=True)

    # Undo brings them back (and the server forgets the mark); marking again sticks.
    toast.get_by_test_id("toast-action").click()
    page.wait_for_function(f"() => document.querySelectorAll('[data-testid=feed-item]').length === {len(site.videos)}")
    assert active(page).get_attribute("data-video-id") == first
    assert feed_settings(page)["not_interested"] == []
    # This time by keyboard: the "…" button is a focusable button, the menu's items too.
    active(page).get_by_test_id("more-btn").focus()
    page.keyboard.press("Enter")
    sheet.get_by_test_id("hide-creator-btn").focus()
    page.keyboard.press("Enter")
    toast.filter(has_text=f"@{hidden}").wait_for()
    assert feed_settings(page)["not_interested"] == [{"kind": "creator", "value": hidden}]

    # After a reload, and in what the API serves, the creator's videos are gone; the other creator's are not.
    open_feed(page)
    assert {site.videos[v] for v in shown_ids(page)} == {kept}
    served = served_ids(page)
    assert served and {site.videos[v] for v in served} == {kept}, served

    # "Not interested" in one video (one without "pancakes", kept for the keyword filter below).
    target = go_to(page, lambda v: "pancakes" not in site.captions[v].lower())
    open_menu(page).get_by_test_id("not-interested-btn").click()
    toast.filter(has_text="fewer videos like this").wait_for()
    page.wait_for_function(f"() => !document.querySelector('[data-testid=feed-item][data-video-id=\"{target}\"]')")
    assert {"kind": "video", "value": target} in feed_settings(page)["not_interested"]
    assert target not in served_ids(page)

    # Why this video? Sentences first, then the score terms in words, the sources and the versions.
    active(page).get_by_test_id("why-btn").click()
    why = page.get_by_test_id("why-panel")
    why.get_by_test_id("why-sentences").wait_for()
    sentences = why.get_by_test_id("why-sentences").locator("li").all_inner_texts()
    assert sentences and all(s.strip() for s in sentences), sentences
    assert why.get_by_test_id("why-model").inner_text().strip() not in ("", "–")
    assert why.get_by_test_id("why-params").inner_text().strip() not in ("", "–")
    terms = why.get_by_test_id("why-terms").locator("tbody th").all_inner_texts()
    assert terms and not any("{" in t or "_" in t for t in terms), terms  # words, not raw JSON keys
    assert "{" not in why.inner_text()
    screenshot(page, "controls-phone-why", settle=True)
    why.get_by_test_id("why-panel-close").click()

    # The settings sheet, from the gear on the For You tab: switch personalisation off.
    badge = page.get_by_test_id("np-badge")
    assert badge.is_hidden()
    page.get_by_test_id("feed-settings-btn").click()
    settings = page.get_by_test_id("feed-settings")
    switch = settings.get_by_test_id("personalised-switch")
    assert switch.get_attribute("aria-checked") == "true"
    assert len(settings.get_by_test_id("mark").all()) == 2
    screenshot(page, "controls-phone-settings", settle=True)
    switch.click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=personalised-switch]').getAttribute('aria-checked') === 'false'"
    )
    assert "EU DSA Art. 38" in settings.get_by_test_id("personalised-desc").inner_text()
    assert feed_settings(page)["personalised"] is False
    badge.wait_for()  # the tab says so at once

    # A keyword filter: added as a chip, saved; the feed reloads without the videos that mention it.
    settings.get_by_test_id("keyword-input").fill("Pancakes")
    settings.get_by_test_id("keyword-add").click()
    assert settings.get_by_test_id("keyword-chip").all_inner_texts() == ["pancakes"]
    settings.get_by_test_id("keyword-save").click()
    settings.get_by_test_id("feed-settings-status").filter(has_text="saved").wait_for()
    assert feed_settings(page)["keyword_filters"] == ["pancakes"]
    screenshot(page, "controls-phone-settings-filtered", settle=True)
    settings.get_by_test_id("feed-settings-close").click()
    # The feed reloads after the sheet closes: wait for the reloaded page rather than racing the old one.
    deadline = time.monotonic() + 15
    on_page = shown_ids(page)
    while time.monotonic() < deadline and not (
        on_page and not any("pancakes" in site.captions[v].lower() for v in on_page)
    ):
        page.wait_for_timeout(200)
        on_page = shown_ids(page)
    assert on_page and not any("pancakes" in site.captions[v].lower() for v in on_page), on_page
    assert not any(site.videos[v] == hidden or v == target for v in on_page), on_page
    served = served_ids(page)
    assert served and not any("pancakes" in site.captions[v].lower() for v in served), served
    assert badge.is_visible()
    screenshot(page, "controls-phone-not-personalised", settle=True)
    assert not errors.errors, errors.errors
    context.close()

    # A new session of the same viewer: still not personalised, with the badge, from the first paint.
    context, page, errors = open_session(browser, site, PHONE)
    assert feed_settings(page)["personalised"] is False
    open_feed(page)
    assert page.get_by_test_id("np-badge").is_visible()

    # The marks can be undone from the settings sheet; Refresh For You asks first.
    page.get_by_test_id("feed-settings-btn").click()
    settings = page.get_by_test_id("feed-settings")
    creator_mark = settings.locator(f"[data-testid=mark][data-kind=creator][data-value={hidden}]")
    creator_mark.get_by_test_id("mark-undo").click()
    creator_mark.wait_for(state="detached")
    assert {"kind": "creator", "value": hidden} not in feed_settings(page)["not_interested"]
    settings.get_by_test_id("refresh-btn").click()
    settings.get_by_test_id("refresh-confirm").wait_for()
    assert feed_settings(page)["profile_reset_at"] is None  # nothing happens before the confirmation
    settings.get_by_test_id("refresh-confirm-btn").click()
    settings.wait_for(state="hidden")
    page.get_by_test_id("toast").filter(has_text="refreshed").wait_for()
    after = feed_settings(page)
    assert after["profile_reset_at"] is not None
    assert after["keyword_filters"] == ["pancakes"] and after["personalised"] is False  # filters stay
    page.wait_for_selector("[data-testid=feed-item].active, [data-testid=feed-empty]")
    assert any(site.videos[v] == hidden for v in shown_ids(page)), "the creator is back after the undo"

    # Switching personalisation on again hides the badge and reloads the feed.
    page.get_by_test_id("feed-settings-btn").click()
    settings.get_by_test_id("personalised-switch").click()
    page.get_by_test_id("np-badge").wait_for(state="hidden")
    assert feed_settings(page)["personalised"] is True
    assert not errors.errors, errors.errors
    context.close()


def test_desktop_why_panel_and_signed_out_controls(browser: Browser, site: Site) -> None:
    # Signed out: the settings gear offers sign-in; "Not interested" asks to sign in; "Why" uses the item's record.
    context, page, errors = open_session(browser, site, DESKTOP, sign_in=False)
    open_feed(page)
    page.get_by_test_id("feed-settings-btn").click()
    settings = page.get_by_test_id("feed-settings")
    settings.get_by_test_id("feed-settings-signin").wait_for()
    assert settings.get_by_role("link", name="Sign in").get_attribute("href") == "/login?next=%2F"
    assert not settings.get_by_test_id("personalised-switch").count()
    screenshot(page, "controls-desktop-signed-out-settings", settle=True)
    page.keyboard.press("Escape")
    settings.wait_for(state="hidden")
    before = shown_ids(page)
    open_menu(page).get_by_test_id("not-interested-btn").click()
    page.get_by_test_id("signin-dialog").wait_for()
    assert shown_ids(page) == before  # nothing was dismissed
    page.keyboard.press("Escape")
    active(page).get_by_test_id("why-btn").click()
    why = page.get_by_test_id("why-panel")
    why.get_by_test_id("why-sentences").wait_for()
    assert "Sign in to see the full record" in why.inner_text()
    page.keyboard.press("Escape")
    assert not errors.errors, errors.errors
    context.close()

    # Signed in on desktop: the why panel with its score table, and the settings sheet.
    context, page, errors = open_session(browser, site, DESKTOP)
    open_feed(page)
    active(page).get_by_test_id("why-btn").click()
    why = page.get_by_test_id("why-panel")
    why.get_by_test_id("why-terms").wait_for()
    box = why.bounding_box()
    assert box is not None and box["width"] <= 480 and box["height"] < 900
    screenshot(page, "controls-desktop-why", settle=True)
    why.get_by_test_id("why-panel-close").click()

    # "Not interested" in the last video: the end card takes its place; Undo brings the video back, on screen.
    count = page.locator("[data-testid=feed-item]").count()
    last = go_to(page, lambda v: shown_ids(page).index(v) == count - 1)
    open_menu(page).get_by_test_id("not-interested-btn").click()
    page.locator(f"[data-testid=feed-item][data-video-id='{last}']").wait_for(state="detached")
    end = page.get_by_test_id("feed-end").bounding_box()
    assert end is not None and end["y"] == 0, page.evaluate(FEED_STATE)  # the end card fills the screen
    assert not page.locator(".slide.active").count(), page.evaluate(FEED_STATE)
    page.wait_for_function("() => [...document.querySelectorAll('.slide video')].every(v => v.paused)")
    screenshot(page, "controls-desktop-dismissed-last", settle=True)
    page.get_by_test_id("toast-action").click()
    page.wait_for_function(f"() => document.getElementById('feed').dataset.activeId === '{last}'")
    assert shown_ids(page)[-1] == last, f"{last} {page.evaluate(FEED_STATE)}"
    assert {"kind": "video", "value": last} not in feed_settings(page)["not_interested"]

    # The context menu (right click, or a long press on a phone) opens the same menu as "…".
    active(page).get_by_test_id("feed-stage").click(button="right", position={"x": 200, "y": 300})
    page.get_by_test_id("more-sheet").wait_for()
    screenshot(page, "controls-desktop-menu", settle=True)
    page.keyboard.press("Escape")
    page.get_by_test_id("feed-settings-btn").click()
    page.get_by_test_id("feed-settings").get_by_test_id("personalised-switch").wait_for()
    screenshot(page, "controls-desktop-settings", settle=True)
    assert not errors.errors, errors.errors
    context.close()
