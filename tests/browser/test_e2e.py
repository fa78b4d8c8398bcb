"""End to end in a real browser: the system Chromium, driven by Playwright, against a real uvicorn server
with the media worker on (real ffmpeg transcodes), on a phone viewport and on desktop.

Screenshots land in test-artifacts/screenshots/. Without Chromium this skips with the reason, and fails
under CI=true.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from sovereel.api.app import create_app
from sovereel.runtime.region import RegionRuntime, open_runtime
from sovereel.storage.models import Event
from tests.support.browser import ApiUser, PageErrors, screenshot, serve_in_thread, swipe_up
from tests.support.media_clips import ffmpeg, make_clip
from tests.support.settings import make_settings, require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow, pytest.mark.timeout(180)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1440, "height": 900}, "device_scale_factor": 1}
BOB_CAPTION = "Rooftop sunset <b>not bold</b> #e2e #sunset with @alice_e2e"


@dataclass
class Site:
    base_url: str
    rt: RegionRuntime
    clips: Path
    bob: ApiUser
    bob_videos: list[str]

    def events(self, video_id: str) -> set[str]:
        with self.rt.db.session() as s:
            return set(s.scalars(select(Event.kind).where(Event.video_id == video_id)))


@pytest.fixture(scope="module")
def site(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A served region with the media worker running, and `bob_e2e`, a creator with two ready videos."""
    require(bool(shutil.which("ffmpeg") and shutil.which("ffprobe")), "ffmpeg/ffprobe are not installed")
    tmp = tmp_path_factory.mktemp("e2e")
    rt = open_runtime(make_settings(tmp, run_workers=True))
    clips = tmp / "clips"
    clips.mkdir()
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt)) as base_url:
            bob = ApiUser.signup(base_url, "bob_e2e", "Bob Creator")
            first = make_clip(clips / "bob1.mp4", width=360, height=640, duration_s=3.0)
            videos = [bob.upload(first, BOB_CAPTION), bob.upload(first, "Second take #e2e")]
            yield Site(base_url, rt, clips, bob, videos)
            bob.close()
    finally:
        rt.close()


def new_page(browser: Browser, site: Site, options: dict[str, Any]) -> tuple[BrowserContext, Page, PageErrors]:
    context = browser.new_context(base_url=site.base_url, **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    return context, page, PageErrors(page)


def active(page: Page) -> Any:
    return page.locator("[data-testid=feed-item].active")


def wait_playing(page: Page) -> None:
    page.wait_for_function(
        "() => { const v = document.querySelector('.slide.active video');"
        " return v && !v.paused && v.currentTime > 0.2; }"
    )


FEED_STATE = """() => { const f = document.getElementById('feed');
  return {scrollTop: f.scrollTop, height: f.clientHeight, active: f.dataset.activeIndex,
          slides: f.querySelectorAll('[data-testid=feed-item]').length,
          ends: f.querySelectorAll('.slide-end').length}; }"""


def wait_active(page: Page, index: int) -> None:
    """Wait until the feed's active video is the one at `index`; on timeout, say where the feed is."""
    try:
        page.wait_for_function(f"() => document.getElementById('feed').dataset.activeIndex === '{index}'")
    except Exception as exc:
        raise AssertionError(f"feed did not settle on video {index}: {page.evaluate(FEED_STATE)}") from exc


def count_of(page: Page, kind: str) -> int:
    return int(active(page).locator(f"[data-testid={kind}-count]").get_attribute("data-count") or "-1")


def test_phone_sign_up_upload_watch_and_engage(browser: Browser, site: Site) -> None:
    context, page, errors = new_page(browser, site, PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base_url)

    # Sign up through the form.
    page.goto("/signup")
    page.get_by_test_id("username-input").fill("alice_e2e")
    page.get_by_test_id("display-name-input").fill("Alice")
    page.get_by_test_id("password-input").fill("correct horse")
    page.get_by_test_id("birth-date-input").fill("1990-05-17")
    page.get_by_test_id("auth-submit").click()
    page.wait_for_url(f"{site.base_url}/")

    # Upload a portrait clip: the progress bar is driven by the real XHR upload and reaches 100 %.
    clip = make_clip(site.clips / "alice.mp4", width=360, height=640, duration_s=3.5)
    page.goto("/upload")
    page.get_by_test_id("file-input").set_input_files(str(clip))
    page.get_by_test_id("caption-input").fill("My first clip #e2e <script>alert(1)</script> hi @bob_e2e")
    assert page.get_by_test_id("caption-counter").inner_text().startswith("56/")
    page.evaluate(
        """() => { window.__progress = [];
        const bar = document.querySelector('[data-testid=upload-progress]');
        new MutationObserver(() => window.__progress.push(bar.value)).observe(bar, {attributes: true}); }"""
    )
    page.get_by_test_id("upload-submit").click()
    status = page.get_by_test_id("processing-status")
    page.wait_for_function("() => document.querySelector('[data-testid=upload-progress]').value === 100")
    assert page.get_by_test_id("upload-progress-text").inner_text() == "100 %"
    seen = page.evaluate("window.__progress")
    assert seen and max(seen) == 100 and all(0 <= v <= 100 for v in seen)
    page.wait_for_function(
        "() => ['processing', 'ready'].includes("
        "document.querySelector('[data-testid=processing-status]').dataset.state)"
    )
    screenshot(page, "phone-upload-processing")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=processing-status]').dataset.state === 'ready'", timeout=90_000
    )
    assert status.inner_text() == "Your video is ready."
    href = page.get_by_test_id("watch-link").get_attribute("href")
    assert href and href.startswith("/v/")
    alice_video = href.removeprefix("/v/")
    screenshot(page, "phone-upload-ready")

    # The feed: bob's videos, the first one autoplays muted with the unmute hint.
    for video_id in site.bob_videos:
        site.bob.wait_ready(video_id)
    page.goto("/")
    page.wait_for_selector("[data-testid=feed-item].active")
    wait_playing(page)
    assert page.locator("[data-testid=feed-item]").count() == 2
    first_id = active(page).get_attribute("data-video-id")
    assert page.evaluate("document.querySelector('.slide.active video').muted") is True
    assert active(page).get_by_test_id("unmute-hint").is_visible()
    screenshot(page, "phone-feed-first")

    # Swipe up to the next video: scroll-snap settles on it and it plays.
    swipe_up(page)
    wait_active(page, 1)
    wait_playing(page)
    second_id = active(page).get_attribute("data-video-id")
    assert second_id != first_id and {first_id, second_id} == set(site.bob_videos)
    try:  # scroll-snap settles exactly on the second video
        page.wait_for_function(
            "() => { const f = document.getElementById('feed'); return Math.abs(f.scrollTop - f.clientHeight) < 1; }"
        )
    except Exception as exc:
        raise AssertionError(f"the feed did not snap to a whole video: {page.evaluate(FEED_STATE)}") from exc

    # Tap unmutes.
    active(page).get_by_test_id("feed-stage").click(position={"x": 150, "y": 300})
    page.wait_for_function("() => !document.getElementById('feed').classList.contains('is-muted')")
    assert page.evaluate("document.querySelector('.slide.active video').muted") is False

    # Like: the count changes at once and the server agrees.
    assert count_of(page, "like") == 0
    # The count changes before the server answers; the server is asked once it has.
    with page.expect_response(lambda r: r.url.endswith(f"/api/videos/{second_id}/like") and r.ok):
        active(page).get_by_test_id("like-btn").click()
    page.wait_for_function(
        "() => document.querySelector('.slide.active [data-testid=like-count]').dataset.count === '1'"
    )
    assert active(page).get_by_test_id("like-btn").get_attribute("aria-pressed") == "true"
    server = page.request.get(f"/api/videos/{second_id}").json()
    assert (server["liked"], server["like_count"]) == (True, 1)

    # Comment (HTML stays text), reply one level deep, delete the reply.
    active(page).get_by_test_id("comment-btn").click()
    drawer = page.get_by_test_id("comments-drawer")
    drawer.get_by_test_id("comment-input").fill("Lovely <b>colours</b>")
    drawer.get_by_test_id("comment-submit").click()
    body = drawer.get_by_test_id("comment-body").first
    body.wait_for()
    assert body.inner_text() == "Lovely <b>colours</b>"
    drawer.get_by_test_id("reply-btn").first.click()
    drawer.get_by_test_id("comment-input").fill("replying to myself")
    drawer.get_by_test_id("comment-submit").click()
    drawer.get_by_test_id("replies").get_by_test_id("comment-body").wait_for()
    assert drawer.get_by_test_id("comments-title").inner_text() == "2 comments"
    screenshot(page, "phone-comments")
    drawer.get_by_test_id("replies").get_by_test_id("delete-comment-btn").click()
    page.wait_for_function("() => document.querySelector('[data-testid=comments-title]').textContent === '1 comment'")
    drawer.get_by_test_id("comments-close").click()
    assert count_of(page, "comment") == 1
    assert page.request.get(f"/api/videos/{second_id}").json()["comment_count"] == 1

    # Follow the creator (a user made through the API) from the overlay.
    follow = active(page).get_by_test_id("follow-btn")
    assert follow.inner_text() == "Follow"
    with page.expect_response(lambda r: r.url.endswith("/api/users/bob_e2e/follow") and r.ok):
        follow.click()
    page.wait_for_function(
        "() => document.querySelector('.slide.active [data-testid=follow-btn]').textContent === 'Following'"
    )
    # Every slide by the same creator shows the new state.
    assert page.locator("[data-testid=follow-btn]:has-text('Following')").count() == 2
    profile = page.request.get("/api/users/bob_e2e").json()["user"]
    deadline = time.monotonic() + 5
    while not profile["followed_by_me"] and time.monotonic() < deadline:
        time.sleep(0.1)
        profile = page.request.get("/api/users/bob_e2e").json()["user"]
    assert (profile["followed_by_me"], profile["follower_count"]) == (True, 1)

    # Share copies the link and counts the share.
    active(page).get_by_test_id("share-btn").click()
    page.get_by_test_id("toast").filter(has_text="Link copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == f"{site.base_url}/v/{second_id}"
    page.wait_for_function(
        "() => document.querySelector('.slide.active [data-testid=share-count]').dataset.count === '1'"
    )
    screenshot(page, "phone-feed-engaged")

    # Keyboard moves back up.
    page.keyboard.press("k")
    wait_active(page, 0)

    # Leaving the page flushes the watch events (keepalive requests, and a copy the next page sends if the browser
    # dropped those); they reach the region's event log.
    page.goto(f"/v/{alice_video}")
    page.wait_for_selector("[data-testid=feed-item].active")
    wait_playing(page)
    caption = active(page).get_by_test_id("caption")
    assert "<script>alert(1)</script>" in caption.inner_text()
    assert caption.locator("a.tag").get_attribute("href") == "/tag/e2e"
    screenshot(page, "phone-own-video")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not {"impression", "play"} <= site.events(first_id or ""):
        time.sleep(0.2)
    first_kinds, second_kinds = site.events(first_id or ""), site.events(second_id or "")
    told = (first_kinds, second_kinds)
    assert {"impression", "play"} <= first_kinds, told
    assert first_kinds & {"skip", "complete", "loop"}, told
    assert {"impression", "play"} <= second_kinds, told

    # The creator's profile shows the follow.
    page.goto("/@bob_e2e")
    assert page.get_by_test_id("follower-count").inner_text() == "1"
    assert page.get_by_test_id("profile-follow-btn").inner_text() == "Following"
    assert page.get_by_test_id("grid-item").count() == 2
    screenshot(page, "phone-profile")
    assert not errors.errors, errors.errors
    context.close()


def test_desktop_signed_out_watch_and_prompt(browser: Browser, site: Site) -> None:
    context, page, errors = new_page(browser, site, DESKTOP)
    for video_id in site.bob_videos:
        site.bob.wait_ready(video_id)
    page.goto("/")
    page.wait_for_selector("[data-testid=feed-item].active")
    wait_playing(page)
    ids = page.locator("[data-testid=feed-item]").evaluate_all("els => els.map(e => e.dataset.videoId)")
    assert set(site.bob_videos) <= set(ids)

    # The video column is centred and at most 9:16 of the viewport height.
    box = active(page).get_by_test_id("feed-stage").bounding_box()
    assert box is not None
    assert box["height"] > 800 and abs(box["width"] - box["height"] * 9 / 16) < 2
    shell = page.get_by_test_id("feed-shell").bounding_box()
    assert shell is not None
    assert abs((box["x"] + box["width"] / 2) - (shell["x"] + shell["width"] / 2)) < 60

    # Arrow keys move to the video with HTML in its caption; it is shown as text, hashtags are links.
    for _ in range(len(ids)):
        if active(page).get_attribute("data-video-id") == site.bob_videos[0]:
            break
        before = page.evaluate("document.getElementById('feed').dataset.activeIndex")
        page.keyboard.press("ArrowDown")
        page.wait_for_function(f"() => document.getElementById('feed').dataset.activeIndex !== '{before}'")
    assert active(page).get_attribute("data-video-id") == site.bob_videos[0]
    wait_playing(page)
    caption = active(page).get_by_test_id("caption")
    assert "<b>not bold</b>" in caption.inner_text()
    assert caption.locator("b").count() == 0
    assert [a.get_attribute("href") for a in caption.locator("a").all()] == ["/tag/e2e", "/tag/sunset", "/@alice_e2e"]
    screenshot(page, "desktop-feed")

    # Signed out, liking asks to sign in (and changes nothing).
    likes = count_of(page, "like")
    active(page).get_by_test_id("like-btn").click()
    dialog = page.get_by_test_id("signin-dialog")
    dialog.wait_for()
    assert dialog.get_by_test_id("signin-dialog-login").get_attribute("href") == "/login?next=%2F"
    assert count_of(page, "like") == likes
    assert active(page).get_by_test_id("like-btn").get_attribute("aria-pressed") == "false"
    screenshot(page, "desktop-signin-prompt")
    page.keyboard.press("Escape")

    # Comments open as a side panel, readable signed out.
    active(page).get_by_test_id("comment-btn").click()
    page.get_by_test_id("comments-drawer").get_by_text("Sign in").wait_for()
    screenshot(page, "desktop-comments")
    page.get_by_test_id("comments-close").click()

    # Past the last video: the end card, and nothing keeps playing off screen.
    end = page.get_by_test_id("feed-end")
    for _ in range(len(ids) + 1):
        page.keyboard.press("j")
        page.wait_for_timeout(450)
    end.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('.slide video')].every(v => v.paused)")
    assert end.is_visible()

    # The other pages, on desktop.
    page.goto("/@bob_e2e")
    page.get_by_test_id("video-grid").wait_for()
    screenshot(page, "desktop-profile")
    page.goto("/search?q=sunset")
    assert page.get_by_test_id("search-videos").get_by_test_id("grid-item").count() >= 1
    screenshot(page, "desktop-search")
    response = page.goto("/@nobody_at_all")
    assert response is not None and response.status == 404
    screenshot(page, "desktop-404")
    page.goto("/login?next=/upload")
    page.get_by_test_id("username-input").fill("alice_e2e")
    page.get_by_test_id("password-input").fill("correct horse")
    page.get_by_test_id("auth-submit").click()
    page.wait_for_url(f"{site.base_url}/upload")

    # A file that is not a video: the API's 415 message is shown.
    fake = site.clips / "notes.mp4"
    fake.write_text("these are my notes, not a video\n" * 50)
    page.get_by_test_id("file-input").set_input_files(str(fake))
    page.get_by_test_id("caption-input").fill("#hello")
    page.get_by_test_id("upload-submit").click()
    error = page.get_by_test_id("upload-error")
    error.wait_for()
    assert error.inner_text() == "Not a supported video: only MP4, MOV, WebM and MKV videos are accepted"
    screenshot(page, "desktop-upload-415")

    # Editing one's own profile: bio (kept as text) and a new avatar.
    avatar = site.clips / "avatar.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=0xff8800:s=96x96", "-frames:v", "1", str(avatar))
    page.goto("/@alice_e2e")
    page.get_by_test_id("edit-profile-btn").click()
    page.get_by_test_id("bio-edit").fill("I film <b>colour bars</b>")
    page.get_by_test_id("avatar-input").set_input_files(str(avatar))
    with page.expect_navigation():
        page.get_by_test_id("save-profile").click()
    assert page.get_by_test_id("profile-bio").inner_text() == "I film <b>colour bars</b>"
    assert page.locator(".profile-head img.avatar").get_attribute("src") == "/api/users/alice_e2e/avatar"
    assert page.locator(".profile-head img.avatar").evaluate("img => img.naturalWidth") == 256
    screenshot(page, "desktop-own-profile")
    assert not errors.errors, errors.errors
    context.close()


WATCH_SCRIPT = """async () => {
  const { WatchTracker } = await import('/static/watch.js');
  class FakeVideo extends EventTarget {
    constructor(duration) { super(); this.duration = duration; this.currentTime = 0; this.paused = true; }
    at(t, type = 'timeupdate') { this.currentTime = t; this.dispatchEvent(new Event(type)); }
    play() { this.paused = false; this.dispatchEvent(new Event('playing')); }
  }
  const run = (duration, script) => {
    const pushed = [];
    const queue = { push: (kind, videoId, extra) => pushed.push({ kind, videoId, ...extra }) };
    const video = new FakeVideo(duration);
    const tracker = new WatchTracker(video, 'v1', queue, 'req1');
    script(video, tracker);
    return pushed;
  };
  const step = (video, from, to) => { for (let t = from; t <= to + 1e-9; t += 0.25) video.at(t); };
  return {
    // Watched to the end, looped (the browser seeks to 0), watched a second more, then moved on.
    looped: run(3, (video, tracker) => {
      tracker.impression(); tracker.impression();
      tracker.enter(); video.play(); step(video, 0, 2.75);
      video.at(0.05, 'seeking'); step(video, 0.25, 1.0);
      tracker.tick(); tracker.leave();
    }),
    // Played 1.5 s, jumped ahead by seeking (not counted as watching), left before the end: a skip.
    skipped: run(10, (video, tracker) => {
      tracker.enter(); video.play(); step(video, 0, 1.5);
      video.at(6, 'seeking'); video.at(6.25); video.at(6.5);
      tracker.leave();
    }),
  };
}"""


def test_watch_tracker_reports_seconds_actually_watched(browser: Browser, site: Site) -> None:
    """The page's watch-event logic, driven by a scripted <video> stand-in: exact kinds and watched_s."""
    context, page, errors = new_page(browser, site, DESKTOP)
    page.goto("/login")
    result = page.evaluate(WATCH_SCRIPT)
    kinds = [e["kind"] for e in result["looped"]]
    assert kinds == ["impression", "play", "complete", "loop", "progress"], kinds  # one impression, however often seen
    complete, loop, progress = result["looped"][2:]
    assert complete["watched_s"] == pytest.approx(2.75)  # within 0.3 s of the end counts as complete
    assert loop["watched_s"] == pytest.approx(3.05)  # + the 0.25 s tail before the wrap and 0.05 s after it
    assert progress["watched_s"] == pytest.approx(4.0)
    assert all(e["request_id"] == "req1" and e["videoId"] == "v1" for e in result["looped"])
    skipped = result["skipped"]
    assert [e["kind"] for e in skipped] == ["play", "skip"]
    assert skipped[1]["watched_s"] == pytest.approx(1.75)  # 1.5 s + 0.25 s played after the seek; not 6.5
    assert skipped[1]["position_s"] == pytest.approx(6.5)
    assert not errors.errors, errors.errors
    context.close()
