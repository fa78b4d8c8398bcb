"""Open redirect after sign-in: a `?next=` target is followed only if, read the way a browser reads a URL, it
stays on this origin — checked on the server (the redirect and the page's data-next) and in the page script,
with Chromium's own URL parser as the judge in the browser tests."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.runtime.region import open_runtime
from sovereel.web.render import safe_next
from tests.support.api import signup
from tests.support.browser import ApiUser
from tests.support.settings import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

HOSTILE = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\n//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "\x1f/\\evil.example",
    "https://evil.example",
    "http:evil.example",
    "https:evil.example",
    "HTTP://evil.example",
    "javascript:alert(1)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "/.//evil.example",
    "/./\\evil.example",
    "/a/..//evil.example",
    "/%2e%2e//evil.example",
    "/%2E//evil.example",
    "\uff0f\uff0fevil.example",
    "/\uff0fevil.example",
    "\u3002//evil.example",
]
# What the browser tests run (each signs in twice): one of each way a raw-string check is fooled.
IN_BROWSER = [
    "/\\evil.example",
    "/\t/evil.example",
    "/\r\n/evil.example",
    "\x1f/\\evil.example",
    " //evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "/%2F%2Fevil.example",
    "/%09/evil.example",
    "/./\\evil.example",
    "/a/..//evil.example",
    "\uff0f\uff0fevil.example",
]
LEGIT = [("/upload", "/upload"), ("/tag/fun?sort=new#top", "/tag/fun?sort=new#top"), ("/@ana", "/@ana")]

BASE = "http://testserver"


def stays_here(target: str, base: str = BASE) -> bool:
    """A conservative judge of what the server emits: a plain, printable, already-encoded path whose first
    segment is not empty (`//x` names a host), even after one more percent-decoding."""
    if not re.fullmatch(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?#]*", target):
        return False
    for candidate in (target, unquote(target)):
        cleaned = re.sub(r"[\t\n\r]", "", candidate).replace("\\", "/")
        if cleaned.startswith("//"):
            return False
    origin = urlsplit(base)
    joined = urlsplit(urljoin(base + "/login", target))
    return (joined.scheme, joined.netloc) == (origin.scheme, origin.netloc)


def data_next(page_html: str) -> str:
    match = re.search(r'data-next="([^"]*)"', page_html)
    assert match, "the sign-in page has no data-next"
    return html.unescape(match.group(1))


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_next_refuses_targets_a_browser_reads_as_another_site(target: str) -> None:
    assert stays_here(safe_next(target)), safe_next(target)


@pytest.mark.parametrize(("target", "expected"), LEGIT)
def test_safe_next_keeps_paths_on_this_site(target: str, expected: str) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize("target", HOSTILE)
def test_sign_in_page_and_redirect_stay_on_this_origin(sqlite_client: TestClient, target: str) -> None:
    # Signed out: the page hands the target to its script; signed in: the server redirects to it itself.
    page = sqlite_client.get("/login", params={"next": target}, follow_redirects=False)
    assert page.status_code == 200
    assert stays_here(data_next(page.text)), data_next(page.text)
    assert stays_here(data_next(sqlite_client.get("/signup", params={"next": target}).text))

    token = signup(sqlite_client, "ana_redirect")["Authorization"].removeprefix("Bearer ")
    signed_in = {"Cookie": f"sovereel_session={token}"}
    response = sqlite_client.get("/login", params={"next": target}, headers=signed_in, follow_redirects=False)
    assert response.status_code == 303
    assert stays_here(response.headers["location"]), response.headers["location"]


def test_a_path_on_this_site_is_still_followed(sqlite_client: TestClient) -> None:
    token = signup(sqlite_client, "ana_legit")["Authorization"].removeprefix("Bearer ")
    response = sqlite_client.get(
        "/login?next=%2Ftag%2Ffun%3Fsort%3Dnew",
        headers={"Cookie": f"sovereel_session={token}"},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/tag/fun?sort=new")


# --- in Chromium: the page script's own check, judged by the browser's URL parser ---


@dataclass
class Site:
    base_url: str


@pytest.fixture(scope="module")
def site(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    rt = open_runtime(make_settings(tmp_path_factory.mktemp("redirects")))
    try:
        with serve_in_thread(create_app(rt.settings, runtime=rt)) as base_url:
            ApiUser.signup(base_url, "rita_redirect").close()
            yield Site(base_url)
    finally:
        rt.close()


def sign_in_and_follow(page: Page, site: Site, url: str) -> str:
    """Sign in on `url` and return the first page the browser then navigates to (any off-site request is
    aborted, so nothing leaves the machine)."""
    origin = site.base_url

    def guard(route: Route) -> None:
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            route.abort()

    page.context.route("**/*", guard)
    page.goto(url)
    page.fill("[data-testid=username-input]", "rita_redirect")
    page.fill("[data-testid=password-input]", "correct horse")
    with page.expect_request(lambda r: r.is_navigation_request() and r.frame == page.main_frame) as nav:
        page.click("[data-testid=auth-submit]")
    return nav.value.url


def same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


@pytest.mark.parametrize("target", IN_BROWSER)
def test_browser_signs_in_and_stays_on_this_origin(browser: Browser, site: Site, target: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        landed = sign_in_and_follow(page, site, f"{site.base_url}/login?next={quote(target, safe='')}")
        assert same_origin(landed, site.base_url), landed
    finally:
        context.close()


@pytest.mark.parametrize("target", IN_BROWSER)
def test_page_script_alone_refuses_a_hostile_target(browser: Browser, site: Site, target: str) -> None:
    # The server already cleans data-next; here the page is served with the raw target in it, so the script's
    # own check is what is tested.
    context = browser.new_context()
    try:
        page = context.new_page()

        def raw_next(route: Route) -> None:
            response = route.fetch()
            attribute = f'data-next="{html.escape(target, quote=True)}"'
            body = re.sub(r'data-next="[^"]*"', lambda _m: attribute, response.text())
            route.fulfill(response=response, body=body)

        page.route(re.compile(r".*/login(\?.*)?$"), raw_next)
        landed = sign_in_and_follow(page, site, f"{site.base_url}/login")
        assert same_origin(landed, site.base_url), landed
    finally:
        context.close()


def test_browser_follows_a_path_on_this_site(browser: Browser, site: Site) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        landed = sign_in_and_follow(page, site, f"{site.base_url}/login?next={quote('/search?q=cats', safe='')}")
        assert landed == f"{site.base_url}/search?q=cats"
    finally:
        context.close()
