"""Sounds in a real browser: a second user opens Ana's sound page, taps "Use this sound", uploads through the
upload page with the sound chosen, and both videos then appear on the sound page (with the credit on the video)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sovereel.api.app import create_app
from sovereel.runtime.region import open_runtime
from tests.support.browser import ApiUser, PageErrors, screenshot, serve_in_thread
from tests.support.settings import make_settings, require
from tests.support.sound_clips import make_melody_clip

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    require(bool(shutil.which("ffmpeg") and shutil.which("fpcalc")), "ffmpeg/fpcalc are not installed")
    rt = open_runtime(make_settings(tmp_path, run_workers=True))
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt)) as base_url:
            yield base_url
    finally:
        rt.close()


def test_second_user_makes_a_video_with_use_this_sound(browser: Browser, served: str, tmp_path: Path) -> None:
    ana = ApiUser.signup(served, "ana_snd", "Ana")
    original = ana.upload(make_melody_clip(tmp_path / "ana.mp4", seed=11, duration_s=8), "My song #tune")
    ana.wait_ready(original)
    sound = ana.get(f"/api/videos/{original}")["sound"]
    assert sound is not None and sound["title"] == "original sound – @ana_snd"
    ana.close()
    ben = ApiUser.signup(served, "ben_snd", "Ben")
    ben.close()

    context = browser.new_context(base_url=served, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = PageErrors(page)
    page.goto("/login")
    page.get_by_test_id("username-input").fill("ben_snd")
    page.get_by_test_id("password-input").fill("correct horse")
    page.get_by_test_id("auth-submit").click()
    page.wait_for_url(f"{served}/")

    page.goto(sound["url"])
    assert page.get_by_test_id("sound-title").inner_text() == "original sound – @ana_snd"
    page.get_by_test_id("use-sound").click()
    page.wait_for_url(f"{served}/upload?sound={sound['id']}")
    assert page.get_by_test_id("chosen-sound").inner_text() == "original sound – @ana_snd"
    page.get_by_test_id("sound-mode-mix").check()
    page.get_by_test_id("file-input").set_input_files(
        str(make_melody_clip(tmp_path / "ben.mp4", seed=12, duration_s=4))
    )
    page.get_by_test_id("caption-input").fill("Dancing to Ana's song")
    page.get_by_test_id("upload-submit").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=processing-status]').dataset.state === 'ready'", timeout=90_000
    )
    page.get_by_test_id("watch-link").click()
    credit = page.get_by_test_id("sound-credit").first
    assert credit.inner_text() == "♫ original sound – @ana_snd"
    credit.click()
    page.wait_for_url(f"{served}{sound['url']}")
    items = page.get_by_test_id("grid-item")
    assert items.count() == 2
    assert original in {items.nth(i).get_attribute("data-video-id") for i in range(2)}
    screenshot(page, "desktop-sound-page")
    assert errors.errors == []
    context.close()


def test_opting_out_in_settings_hides_use_this_sound(browser: Browser, served: str, tmp_path: Path) -> None:
    ana = ApiUser.signup(served, "ana_opt", "Ana")
    original = ana.upload(make_melody_clip(tmp_path / "ana.mp4", seed=13, duration_s=6), "Mine")
    ana.wait_ready(original)
    sound = ana.get(f"/api/videos/{original}")["sound"]
    ana.close()

    context = browser.new_context(base_url=served, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = PageErrors(page)
    page.goto("/login?next=/settings/safety")
    page.get_by_test_id("username-input").fill("ana_opt")
    page.get_by_test_id("password-input").fill("correct horse")
    page.get_by_test_id("auth-submit").click()
    page.wait_for_url(f"{served}/settings/safety")
    switch = page.get_by_test_id("sound-reuse-switch")
    assert switch.get_attribute("aria-checked") == "true"
    switch.click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=sound-reuse-switch]').getAttribute('aria-checked') === 'false'"
    )
    assert errors.errors == []
    context.close()

    ben = ApiUser.signup(served, "ben_opt", "Ben")
    assert ben.get(f"/api/sounds/{sound['id']}")["sound"]["reuse_allowed"] is False
    html = ben.client.get(sound["url"]).text
    assert 'data-testid="use-sound"' not in html
    with (tmp_path / "ana.mp4").open("rb") as fh:
        refused = ben.client.post(
            "/api/videos", files={"file": ("b.mp4", fh, "video/mp4")}, data={"sound_id": sound["id"]}
        )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "sound_reuse_off"
    ben.close()
