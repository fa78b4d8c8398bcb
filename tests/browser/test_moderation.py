"""The whole trust-and-safety flow in a real browser: a viewer reports a video from its "…" menu, a moderator
removes it from the review queue (playing it in place, giving a reason), it is gone from For You, the share link
and search at once, the creator sees the notice and appeals once, and a re-encoded, resized, slightly cropped
re-upload of it by someone else is held for review instead of published.

The system Chromium, driven by Playwright, against a real uvicorn server with its outbox relay running; the
videos are real clips transcoded by ffmpeg. Screenshots land in test-artifacts/screenshots/moderation-*.png.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sovereel.actions.moderation import do_set_role
from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.runtime.region import RegionRuntime, open_runtime
from tests.support.api import process_all
from tests.support.browser import ApiUser, PageErrors, screenshot
from tests.support.moderation import distinct_clip, reencoded_copy
from tests.support.settings import make_settings, require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow, pytest.mark.timeout(300)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PASSWORD = "correct horse"


@dataclass
class Site:
    base_url: str
    rt: RegionRuntime
    tmp: Path
    bad: str  # the video that will be reported and removed
    fine: str  # another creator's video, which stays


@pytest.fixture(scope="module")
def site(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require(bool(shutil.which("ffmpeg") and shutil.which("ffprobe")), "ffmpeg/ffprobe are not installed")
    tmp = tmp_path_factory.mktemp("moderation")
    rt = open_runtime(make_settings(tmp))
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt)) as base_url:
            ana = ApiUser.signup(base_url, "ana_mod", "Ana")
            bad = ana.upload(distinct_clip(tmp, 0), "Rooftop stunt #stunts")
            ana.close()
            cara = ApiUser.signup(base_url, "cara_mod", "Cara")
            fine = cara.upload(distinct_clip(tmp, 1), "Night bus home #city")
            cara.close()
            assert process_all(rt) == 2
            for name in ("ben_mod", "max_mod", "cat_mod"):
                ApiUser.signup(base_url, name, name.split("_")[0].title()).close()
            do_set_role(rt.db, audit_secret=rt.settings.secret_key, username="max_mod", role="moderator")
            yield Site(base_url, rt, tmp, bad, fine)
    finally:
        rt.close()


def session(
    browser: Browser, site: Site, username: str, options: dict[str, Any]
) -> tuple[BrowserContext, Page, PageErrors]:
    context = browser.new_context(base_url=site.base_url, **options)
    context.set_default_timeout(15_000)
    r = context.request.post("/api/auth/login", data={"username": username, "password": PASSWORD})
    assert r.ok, r.text()
    page = context.new_page()
    return context, page, PageErrors(page)


def for_you_ids(page: Page) -> set[str]:
    page.goto("/")
    page.wait_for_selector("[data-testid=feed-item].active, [data-testid=feed-empty]")
    ids: list[str] = page.locator("[data-testid=feed-item]").evaluate_all("els => els.map(e => e.dataset.videoId)")
    return set(ids)


def test_report_queue_remove_gone_appeal_and_reupload_held(browser: Browser, site: Site) -> None:
    ben_ctx, ben, ben_errors = session(browser, site, "ben_mod", PHONE)
    assert site.bad in for_you_ids(ben)

    # The viewer reports the video from its "…" menu on the share-link page, and blocks nobody.
    ben.goto(f"/v/{site.bad}")
    ben.locator("[data-testid=feed-item].active").get_by_test_id("more-btn").click()
    ben.get_by_test_id("more-sheet").get_by_test_id("report-btn").click()
    form = ben.get_by_test_id("report-form")
    form.wait_for()
    form.get_by_test_id("report-reason-violence").check()
    form.get_by_test_id("report-detail").fill("Dangerous stunt kids will copy")
    screenshot(ben, "moderation-report-phone", settle=True)
    form.get_by_test_id("report-submit").click()
    toast = ben.get_by_test_id("toast")
    toast.wait_for()
    assert "report was sent" in toast.inner_text()

    # The moderator sees it in the queue, playable in place, and removes it with a reason.
    mod_ctx, mod, mod_errors = session(browser, site, "max_mod", DESKTOP)
    mod.goto("/moderation")
    item = mod.locator(f"[data-testid=queue-item][data-target='{site.bad}']")
    item.wait_for()
    assert "Dangerous stunt kids will copy" in item.inner_text()
    video = item.get_by_test_id("review-video")
    video.wait_for()
    mod.wait_for_function(
        "(id) => { const v = document.querySelector(`[data-target='${id}'] video`); return v && v.readyState >= 1; }",
        arg=site.bad,
    )
    screenshot(mod, "moderation-queue-desktop")
    item.get_by_test_id("decide-remove").click()  # no reason yet: the browser refuses the empty field
    assert mod.locator(f"[data-testid=queue-item][data-target='{site.bad}']").count() == 1
    item.get_by_test_id("decision-reason").fill("Dangerous acts that invite imitation")
    item.get_by_test_id("decide-remove").click()
    mod.get_by_test_id("queue-empty").wait_for()

    # Gone at once: For You, the share link, search.
    deadline = time.monotonic() + 10
    while site.bad in for_you_ids(ben):
        assert time.monotonic() < deadline, "the removed video is still in For You"
        time.sleep(0.3)
    assert site.fine in for_you_ids(ben)
    gone = ben.goto(f"/v/{site.bad}")
    assert gone is not None and gone.status == 404
    ben.goto("/search?q=rooftop")
    assert site.bad not in ben.content()
    # Only a page as the viewer sees it; the same through the API.
    assert ben_ctx.request.get(f"/api/videos/{site.bad}").status == 404

    # The creator is told, and appeals once.
    ana_ctx, ana, ana_errors = session(browser, site, "ana_mod", PHONE)
    ana.goto(f"/v/{site.bad}")
    assert "removed by a moderator" in ana.get_by_test_id("moderation-banner").inner_text()
    ana.goto("/notices")
    notice = ana.get_by_test_id("notice").first
    notice.wait_for()
    assert "Dangerous acts that invite imitation" in notice.inner_text()
    notice.get_by_test_id("appeal-btn").click()
    notice.get_by_test_id("appeal-body").fill("It was a professional stunt with safety gear")
    notice.get_by_test_id("appeal-submit").click()
    ana.get_by_test_id("appeal-status").wait_for()
    assert ana.get_by_test_id("appeal-btn").count() == 0  # once
    screenshot(ana, "moderation-notice-phone")

    # Someone else re-uploads a re-encoded, resized, slightly cropped copy: it is held, not published.
    copy = reencoded_copy(distinct_clip(site.tmp, 0), site.tmp / "copy.mp4")
    cat = ApiUser(site.base_url, "cat_mod")
    r = cat.client.post("/api/auth/login", json={"username": "cat_mod", "password": PASSWORD})
    assert r.status_code == 200, r.text
    cat.client.headers["Authorization"] = f"Bearer {r.json()['token']}"
    held = cat.upload(copy, "Check this out #stunts")
    assert process_all(site.rt) == 1
    assert cat.get(f"/api/videos/{held}")["moderation_state"] == "held"
    assert cat.get("/api/me/notices")["notices"][0]["action"] == "hold"  # the uploader is told why
    cat_id = cat.get("/api/me")["id"]
    cat.close()
    assert held not in for_you_ids(ben)
    mod.goto("/moderation")
    held_item = mod.locator(f"[data-testid=queue-item][data-target='{held}']")
    held_item.wait_for()
    assert "reupload match (automatic)" in held_item.inner_text()
    appeal = mod.locator(f"[data-testid=queue-item][data-type=appeal][data-target='{site.bad}']")
    assert "professional stunt" in appeal.inner_text()
    screenshot(mod, "moderation-queue-reupload-desktop")

    # A comment is reported from the comments drawer, for "something else" in the reporter's own words.
    # An API call with the page's cookie, sent as the page's own fetch would be (same-origin, or it is refused).
    posted = ana_ctx.request.post(
        f"/api/videos/{site.fine}/comments",
        data={"body": "Meet me after school, alone"},
        headers={"Origin": site.base_url},
    )
    assert posted.ok, posted.text()
    ben.goto(f"/v/{site.fine}")
    ben.locator("[data-testid=feed-item].active").get_by_test_id("comment-btn").click()
    ben.get_by_test_id("comments-drawer").get_by_test_id("report-comment-btn").click()
    form = ben.get_by_test_id("report-form")
    form.wait_for()
    form.get_by_test_id("report-reason-other").check()
    form.get_by_test_id("report-detail").fill("Grooming a child")
    form.get_by_test_id("report-submit").click()
    ben.get_by_text("your report was sent").wait_for()
    mod.goto("/moderation")
    comment_item = mod.locator(f"[data-testid=queue-item][data-target='{posted.json()['id']}']")
    comment_item.wait_for()
    assert "Meet me after school" in comment_item.inner_text() and "Grooming a child" in comment_item.inner_text()

    # An account is reported from its profile, blocking it at once; the report reaches the queue.
    ben.goto("/@cat_mod")
    ben.get_by_test_id("profile-report-btn").click()
    form = ben.get_by_test_id("report-form")
    form.wait_for()
    form.get_by_test_id("report-reason-harassment").check()
    form.get_by_test_id("report-block").check()
    form.get_by_test_id("report-submit").click()
    ben.get_by_text("your report was sent and blocked @cat_mod").wait_for()
    assert [b["username"] for b in ben_ctx.request.get("/api/me/blocks").json()["blocks"]] == ["cat_mod"]
    mod.goto("/moderation")
    account_item = mod.locator(f"[data-testid=queue-item][data-target='{cat_id}']")
    account_item.wait_for()
    assert "@cat_mod" in account_item.inner_text()

    for errors in (ben_errors, mod_errors, ana_errors):
        assert errors.errors == []
    for ctx in (ben_ctx, mod_ctx, ana_ctx):
        ctx.close()
