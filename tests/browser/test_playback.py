"""Playback on real networks, in the system Chromium: which rendition the player streams (web/static/rendition.js)
for the screen and the measured throughput, and the first frame of each swipe under a slow 3G profile.

A real server with the media worker on transcodes generated clips (real ffmpeg); the network is throttled
with the DevTools protocol, as Chrome's own "Slow 3G" preset does.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sovereel.api.app import create_app
from sovereel.runtime.region import open_runtime
from tests.support.browser import ApiUser, serve_in_thread, swipe_up
from tests.support.media_clips import ffmpeg
from tests.support.settings import make_settings, require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow, pytest.mark.timeout(240)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
LARGE = {"viewport": {"width": 1440, "height": 900}, "device_scale_factor": 2}
# Chrome DevTools' "Slow 3G" preset: 400 ms round trips, 400 kbit/s each way.
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400 * 1024 / 8, "uploadThroughput": 400 * 1024 / 8}
VIDEOS = 5
CLIP_S = 4.0
SWIPES = 3
DWELL_MS = 4000  # a viewer watches each clip about once through before swiping on
STALL_MS = 250  # a first frame later than this after the swipe is a stall a viewer sees

# Collects the player's first-frame measures from the start, in the page.
RECORD_FIRST_FRAMES = """window.__firstFrames = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__firstFrames.push(
  {id: e.detail.id, rendition: e.detail.rendition, buffered: e.detail.buffered, ms: e.duration}); })
  .observe({type: 'measure', buffered: true});"""


def phone_like_clip(path: Path) -> Path:
    """A 720x1280 clip with a phone clip's grain (a test pattern under moving noise): its 360 rendition runs
    near 300 kbit/s, under a slow 3G link, and its 720 one near 3 Mbit/s, far over it."""
    ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc=s=720x1280:r=24:d={CLIP_S},noise=alls=20:allf=t,format=yuv420p"),
        *("-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={CLIP_S}"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", "-c:a", "aac"),
        str(path),
    )
    return path


@dataclass
class Site:
    base_url: str
    videos: list[dict[str, Any]]  # the API views of the seeded videos


@pytest.fixture(scope="module")
def site(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A served region with the media worker on, and a creator with VIDEOS ready 720x1280 clips."""
    require(bool(shutil.which("ffmpeg") and shutil.which("ffprobe")), "ffmpeg/ffprobe are not installed")
    tmp = tmp_path_factory.mktemp("playback")
    rt = open_runtime(make_settings(tmp, run_workers=True))
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt)) as base_url:
            creator = ApiUser.signup(base_url, "reel_maker", "Reel Maker")
            clip = phone_like_clip(tmp / "clip.mp4")
            ids = [creator.upload(clip, f"Take {i} #playback") for i in range(VIDEOS)]
            for video_id in ids:
                creator.wait_ready(video_id, timeout_s=120)
            yield Site(base_url, [creator.get(f"/api/videos/{v}") for v in ids])
            creator.close()
    finally:
        rt.close()


def open_feed(browser: Browser, site: Site, options: dict[str, Any], throttle: dict[str, Any] | None) -> Page:
    context: BrowserContext = browser.new_context(base_url=site.base_url, **options)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.add_init_script(RECORD_FIRST_FRAMES)
    if throttle:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", throttle)
    page.goto("/")
    page.wait_for_selector("[data-testid=feed-item].active")
    return page


def active_index(page: Page) -> int:
    return int(page.evaluate("document.getElementById('feed').dataset.activeIndex"))


def wait_active(page: Page, index: int) -> None:
    page.wait_for_function(f"() => document.getElementById('feed').dataset.activeIndex === '{index}'")


def first_frames(page: Page) -> list[dict[str, Any]]:
    return list(page.evaluate("window.__firstFrames"))


def rendition_of(page: Page, index: int) -> str | None:
    label = page.evaluate(f"document.querySelectorAll('[data-testid=feed-video]')[{index}].dataset.rendition || null")
    return str(label) if label else None


def largest_fitting(video: dict[str, Any], need: int) -> str:
    """What the player should stream on a fast network: the largest listed rendition no bigger than the screen."""
    fitting = [r for r in video["renditions"] if min(r["width"], r["height"]) <= need]
    return str((fitting or video["renditions"][:1])[-1]["label"])


def test_the_api_lists_each_stored_rendition_with_its_size(site: Site) -> None:
    video = site.videos[0]
    renditions = video["renditions"]
    assert [r["label"] for r in renditions] == ["360", "720"]  # smallest first; a 1080 one would follow
    assert {r["label"]: r["url"] for r in renditions} == video["media"]  # the older map, unchanged
    assert [(r["width"], r["height"]) for r in renditions] == [(360, 640), (720, 1280)]
    assert all(isinstance(r["bytes"], int) and r["bytes"] > 0 for r in renditions)
    assert renditions[0]["bytes"] < renditions[1]["bytes"]


def test_choosing_a_rendition_is_pure_and_follows_screen_and_throughput(browser: Browser, site: Site) -> None:
    page = browser.new_page(base_url=site.base_url)
    try:
        page.goto("/")
        picks = page.evaluate(
            """async () => {
              const m = await import('/static/rendition.js');
              const r = (label, w, h, bytes) => ({label, width: w, height: h, bytes, url: '/m/' + label});
              const all = [r('1080', 1080, 1920, 3_000_000), r('360', 360, 640, 300_000),
                           r('720', 720, 1280, 1_000_000)];
              const pick = (need, throughput) => (m.pickRendition(all, {need, throughput, durationS: 10}) || {}).label;
              return {
                phoneFast: pick(m.screenNeed(390, 844, 2), 10_000_000),
                phone3x: pick(m.screenNeed(390, 844, 3), 10_000_000),
                slow3g: pick(780, 400 * 1024 / 8),
                justEnoughFor720: pick(2000, 126_000),
                justTooSlowFor720: pick(2000, 124_000),
                unknown: pick(2000, null),
                tinyScreen: pick(200, 10_000_000),
                none: m.pickRendition([], {need: 800, throughput: 1e7, durationS: 1}),
                legacy: m.renditionsOf({media: {'720': '/a', '360': '/b'}}).map((x) => m.shortSide(x)),
                overlapping: m.throughputOf([{start: 0, end: 1000, bytes: 50_000},
                                             {start: 500, end: 1500, bytes: 50_000}]),
                tooLittle: m.throughputOf([{start: 0, end: 10, bytes: 1000}]),
                saveData: m.connectionHint({downlink: 10, saveData: true}),
                hint: m.connectionHint({downlink: 1.6, effectiveType: '3g'}),
                fixed: m.policyFrom('?rendition=720').fixed,
                auto: m.policyFrom('?rendition=auto').fixed,
                scarce: [m.scarce(null), m.scarce(50_000), m.scarce(1_000_000)],
              };
            }"""
        )
    finally:
        page.close()
    assert picks == {
        "phoneFast": "720",  # 780 device pixels: 720 fits, 1080 is more than the screen shows
        "phone3x": "1080",
        "slow3g": "360",
        "justEnoughFor720": "720",
        "justTooSlowFor720": "360",
        "unknown": "360",
        "tinyScreen": "360",
        "none": None,
        "legacy": [360, 720],  # integer-like keys come in numeric order
        "overlapping": 100_000 / 1.5,  # two fetches sharing the link for 1.5 s, not two half-speed links
        "tooLittle": None,
        "saveData": None,
        "hint": 200_000,
        "fixed": "720",
        "auto": None,
        "scarce": [True, True, False],
    }


def test_slow_3g_streams_the_small_rendition_and_every_swipe_starts_at_once(browser: Browser, site: Site) -> None:
    page = open_feed(browser, site, PHONE, SLOW_3G)
    try:
        wait_active(page, 0)
        # The page itself loads over the slow link; the swipes start once the first video plays.
        page.wait_for_function("() => window.__firstFrames.length >= 1", timeout=60_000)
        for step in range(1, SWIPES + 1):
            page.wait_for_timeout(DWELL_MS)
            swipe_up(page)
            wait_active(page, step)
            page.wait_for_function(f"() => window.__firstFrames.length >= {step + 1}", timeout=20_000)
        frames = first_frames(page)
        stored = page.evaluate("JSON.parse(localStorage.getItem('sovereel.throughput') || 'null')")
    finally:
        page.context.close()
    assert stored and stored["bps"] < 100_000  # measured: the link moves 51,200 bytes a second
    assert len(frames) == SWIPES + 1
    for frame in frames:
        assert frame["rendition"] == "360", frames
    for frame in frames[1:]:
        assert frame["buffered"] >= 2 or frame["ms"] <= STALL_MS, f"a stall after a swipe: {frame}"


def test_a_fast_network_on_a_large_screen_streams_the_largest_that_fits(browser: Browser, site: Site) -> None:
    need = 900 * 2
    page = open_feed(browser, site, LARGE, None)
    try:
        for step in range(1, 4):
            page.wait_for_timeout(1500)
            page.keyboard.press("ArrowDown")
            wait_active(page, step)
        labels = [rendition_of(page, i) for i in range(2, 5)]
        stored = page.evaluate("JSON.parse(localStorage.getItem('sovereel.throughput') || 'null')")
        # The next session starts from this one's estimate: its first video is already the large one.
        page.reload()
        page.wait_for_selector("[data-testid=feed-item].active")
        first_again = [rendition_of(page, 0), rendition_of(page, 1)]
    finally:
        page.context.close()
    expected = largest_fitting(site.videos[0], need)
    # The first two were chosen before anything was measured (from the browser's hint); once the first fetch
    # is measured, every choice is the largest that fits the screen.
    assert labels == [expected] * 3, labels
    assert stored and stored["bps"] > 1_000_000
    assert first_again == [expected, expected]
