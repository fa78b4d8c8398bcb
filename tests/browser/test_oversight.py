"""The overseer in a real browser: signs in on the normal login page, lands on /oversight, replays an impression.

The system Chromium, driven by Playwright, against a real uvicorn server. Videos are ready rows (nothing here
plays media), a viewer is served a For You page through the API, and the overseer replays one of its
impressions and sees every score term match (✓); the audit page checks its inclusion proofs in the browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from sovereel.actions.oversight import do_make_overseer
from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.runtime.region import open_runtime
from tests.support.browser import ApiUser, screenshot
from tests.support.foryou import TOPICS, deliver, seed_ready_videos
from tests.support.settings import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]
PASSWORD = "correct horse"


@dataclass
class Site:
    base_url: str
    served: list[str]  # the video ids served to the viewer


@pytest.fixture(scope="module")
def site(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A served region with ready videos, a viewer who was served one For You page, and the overseer `auditor`."""
    rt = open_runtime(make_settings(tmp_path_factory.mktemp("oversight")))
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt)) as base_url:
            creators = {}
            for topic in TOPICS:
                for k in range(2):
                    user = ApiUser.signup(base_url, f"{topic}{k}")
                    creators[f"{topic}{k}"] = user.get("/api/me")["id"]
                    user.close()
            seed_ready_videos(rt, creators, per_topic=3)
            deliver(rt)
            viewer = ApiUser.signup(base_url, "vera_ovs")
            served = [item["id"] for item in viewer.get("/api/feed/foryou?limit=6")["items"]]
            viewer.close()
            assert served
            do_make_overseer(rt.db, rt.settings.secret_key, "auditor", PASSWORD)
            yield Site(base_url, served)
    finally:
        rt.close()


def test_overseer_signs_in_and_replays_an_impression_with_matching_terms(browser: Browser, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{site.base_url}/login")
        page.fill("[data-testid=username-input]", "auditor")
        page.fill("[data-testid=password-input]", PASSWORD)
        page.click("[data-testid=auth-submit]")
        page.wait_for_url(f"{site.base_url}/oversight")  # the overseer's home, not the feed
        assert page.locator("[data-testid=nav-oversight]").is_visible()

        page.click("[data-testid=tab-replay]")
        rows = page.locator("[data-testid=impression-row]")
        assert rows.count() == len(site.served)
        assert "vera_ovs" not in page.content()  # users appear by pseudonym only
        rows.first.locator("[data-testid=replay-link]").click()
        verdict = page.locator("[data-testid=replay-verdict]")
        verdict.wait_for()
        assert verdict.get_attribute("data-equal") == "true" and "✓" in verdict.inner_text()
        terms = page.locator("[data-testid=replay-term]")
        assert terms.count() == 6
        for i in range(terms.count()):
            assert terms.nth(i).get_attribute("data-equal") == "true"
            assert terms.nth(i).locator("td.check").inner_text() == "✓"
        assert page.locator("[data-testid=replay-total] td.check").inner_text() == "✓"
        screenshot(page, "oversight-replay")

        page.click("[data-testid=tab-audit]")
        page.wait_for_selector("[data-testid=audit-table][data-verified=true]")
        proofs = page.locator("[data-testid=proof-status]")
        assert proofs.count() >= 1  # the overseer grant itself is an audit entry
        assert all(proofs.nth(i).inner_text() == "✓" for i in range(proofs.count()))

        page.click("[data-testid=tab-for-you]")
        assert "The prediction that weighs most" in page.locator("[data-testid=about-weights]").inner_text()
        assert not errors, errors
    finally:
        context.close()
