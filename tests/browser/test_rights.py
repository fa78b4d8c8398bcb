"""Regions and data rights in a real browser: the sign-up region picker sends a new user to their home
region's own server; "Your data" builds an export with a progress bar and downloads the zip through its
signed link; "Delete my account" asks for the password and signs the user out.

Two real uvicorn servers (us, eu), each with its own runtime and store, under Playwright's Chromium.
Without Chromium this skips with the reason, and fails under CI=true.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from sovereel.api.app import create_app
from sovereel.api.server import free_port, serve_in_thread
from sovereel.governance.regions import settings_for
from sovereel.runtime.region import open_runtime
from sovereel.storage.models import User
from tests.support.browser import screenshot
from tests.support.settings import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """us on 127.0.0.1 and eu on localhost (a cookie jar each), both served for real."""
    tmp = tmp_path_factory.mktemp("regions")
    us_port, eu_port = free_port(), free_port()
    deployment = make_settings(
        tmp,
        regions={
            "us": {"public_url": f"http://127.0.0.1:{us_port}"},
            "eu": {"public_url": f"http://localhost:{eu_port}"},
        },
        exchange_every_s=0.0,
    )
    us_rt = open_runtime(settings_for(deployment, "us"))
    eu_rt = open_runtime(settings_for(deployment, "eu"))
    try:
        with (
            serve_in_thread(create_app(us_rt.settings, runtime=us_rt), port=us_port) as us_url,
            serve_in_thread(create_app(eu_rt.settings, runtime=eu_rt), port=eu_port),
        ):
            yield {"us": us_url, "eu": f"http://localhost:{eu_port}", "eu_db": eu_rt.settings.effective_database_url}
    finally:
        us_rt.close()
        eu_rt.close()


def test_region_picker_export_and_delete(browser: Browser, regions: dict[str, str], tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(f"{regions['us']}/signup")
    picker = page.get_by_test_id("region-picker")
    assert picker.is_visible() and page.get_by_test_id("region-us").is_checked()
    page.get_by_test_id("region-eu").check()
    page.wait_for_url(f"{regions['eu']}/signup")  # eu's own server: the account is made there

    page.get_by_test_id("username-input").fill("emma")
    page.get_by_test_id("password-input").fill(PASSWORD)
    if page.get_by_test_id("birth-date-input").count():
        page.get_by_test_id("birth-date-input").fill("1990-05-17")
    page.get_by_test_id("auth-submit").click()
    page.wait_for_url(f"{regions['eu']}/")
    me = page.request.get(f"{regions['eu']}/api/me").json()
    assert me["region"] == "eu"
    assert page.request.get(f"{regions['us']}/api/users/emma").status == 404  # not in us's store

    page.get_by_test_id("nav-profile").click()
    page.get_by_test_id("your-data-link").click()
    page.wait_for_url(f"{regions['eu']}/account/data")
    assert page.get_by_test_id("home-region").inner_text() == "eu"
    page.get_by_test_id("export-start").click()
    link = page.get_by_test_id("export-download")
    link.wait_for(state="visible", timeout=30_000)
    assert page.get_by_test_id("export-progress").get_attribute("value") == "1"
    screenshot(page, "rights-export-ready")
    with page.expect_download() as download_info:
        link.click()
    saved = tmp_path / "export.zip"
    download_info.value.save_as(saved)
    zf = zipfile.ZipFile(io.BytesIO(saved.read_bytes()))
    assert json.loads(zf.read("profile.json"))["username"] == "emma"
    assert "interest_profile.json" in zf.namelist()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("delete-password").fill("wrong password!")
    page.get_by_test_id("delete-submit").click()
    error = page.get_by_test_id("delete-error")
    error.wait_for(state="visible")
    assert "Wrong password" in error.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("delete-password").fill(PASSWORD)
    page.get_by_test_id("delete-submit").click()
    page.wait_for_url(f"{regions['eu']}/")
    assert page.request.get(f"{regions['eu']}/api/me").status == 401
    assert page.get_by_test_id("nav-login").is_visible()
    engine = create_engine(regions["eu_db"])
    with Session(engine) as s:
        assert s.scalar(select(User).where(User.username_key == "emma")) is None
    engine.dispose()
    context.close()
