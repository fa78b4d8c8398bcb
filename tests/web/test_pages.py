"""The HTML pages: each renders with its title, escapes what users wrote, and 404s properly.

One app (real SQLite, real media worker, a real ffmpeg transcode) serves the whole module: a user whose
caption, display name and bio are HTML, and one ready video.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sovereel.api.app import create_app
from sovereel.runtime.region import open_runtime
from sovereel.web.render import STATIC_DIR, TEMPLATE_DIR, linkify_caption, safe_next
from tests.support.api import process_all, upload
from tests.support.media_clips import make_clip
from tests.support.settings import make_settings, require

EVIL_CAPTION = '<script>alert("caption")</script> #Fun with @eve_x <b>bold</b>'
EVIL_NAME = "<i>Eve</i>"
EVIL_BIO = "<img src=x onerror=alert(1)>"


@dataclass
class World:
    client: TestClient
    token: str
    video_id: str

    def page(self, path: str, *, signed_in: bool = False) -> str:
        headers = {"Cookie": f"sovereel_session={self.token}"} if signed_in else {}
        response = self.client.get(path, headers=headers, follow_redirects=False)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("text/html")
        return response.text


def title_of(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match, "page has no <title>"
    return match.group(1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require(bool(shutil.which("ffmpeg") and shutil.which("ffprobe")), "ffmpeg/ffprobe are not installed")
    tmp = tmp_path_factory.mktemp("web")
    rt = open_runtime(make_settings(tmp))
    clip = make_clip(tmp / "clip.mp4", width=144, height=256, duration_s=1.0)
    try:
        with TestClient(create_app(rt.settings, runtime=rt, start_background=False)) as client:
            signup = client.post(
                "/api/auth/signup",
                json={
                    "username": "eve_x",
                    "password": "correct horse",
                    "display_name": EVIL_NAME,
                    "birth_date": "1990-05-17",
                },
            )
            assert signup.status_code == 201, signup.text
            token = signup.json()["token"]
            client.cookies.clear()  # every request below says who it is explicitly
            auth = {"Authorization": f"Bearer {token}"}
            assert client.patch("/api/me", json={"bio": EVIL_BIO}, headers=auth).status_code == 200
            posted = upload(client, auth, clip, EVIL_CAPTION)
            assert posted.status_code == 202, posted.text
            assert process_all(rt) == 1
            video_id = posted.json()["id"]
            assert client.get(f"/api/videos/{video_id}", headers=auth).json()["status"] == "ready"
            yield World(client, token, video_id)
    finally:
        rt.close()


def assert_escaped(html: str) -> None:
    """Nothing the user wrote reaches the page as markup."""
    assert "<script>alert" not in html
    assert "<i>Eve</i>" not in html
    assert "<img src=x" not in html
    assert "<b>bold</b>" not in html


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/", "For You · sovereel"),
        ("/?tab=following", "Following · sovereel"),
        ("/search", "Search · sovereel"),
        ("/search?q=fun", "fun – Search · sovereel"),
        ("/login", "Sign in · sovereel"),
        ("/signup", "Sign up · sovereel"),
        ("/tag/fun", "#fun · sovereel"),
        ("/@eve_x", "&lt;i&gt;Eve&lt;/i&gt; (@eve_x) · sovereel"),
    ],
)
def test_page_renders_with_its_title(world: World, path: str, title: str) -> None:
    html = world.page(path)
    assert title_of(html) == title
    assert '<link rel="stylesheet" href="/static/app.css">' in html
    assert_escaped(html)


def test_signed_in_pages(world: World) -> None:
    assert title_of(world.page("/upload", signed_in=True)) == "Upload · sovereel"
    profile = world.page("/@eve_x", signed_in=True)
    assert 'data-testid="edit-profile-btn"' in profile  # one's own profile can be edited
    assert 'data-testid="profile-follow-btn"' not in profile
    assert 'href="/@eve_x" data-testid="nav-profile"' in profile


def test_upload_and_auth_pages_redirect(world: World) -> None:
    response = world.client.get("/upload", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/upload"
    signed_in = {"Cookie": f"sovereel_session={world.token}"}
    response = world.client.get("/login?next=/upload", headers=signed_in, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/upload")


def test_login_next_is_never_an_open_redirect(world: World) -> None:
    html = world.page("/login?next=//evil.example/x")
    assert 'data-next="/"' in html
    targets = ("/ok?a=1", "https://evil", "//evil", "/\\evil", None)
    assert [safe_next(t) for t in targets] == ["/ok?a=1", "/", "/", "/", "/"]


def boot_data(html: str) -> dict[str, object]:
    match = re.search(r'<script id="feed-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "feed page has no feed-data"
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_feed_page_embeds_escaped_json(world: World) -> None:
    html = world.page("/")
    assert_escaped(html)
    assert "\\u003cscript\\u003e" in html  # the caption is in the JSON, with < and > escaped
    boot = boot_data(html)
    items = boot["items"]
    assert isinstance(items, list)
    assert [item["id"] for item in items] == [world.video_id]
    assert items[0]["caption"] == EVIL_CAPTION  # the script gets the text exactly as written
    assert boot["mode"] == "foryou"


def test_profile_page_escapes_and_links(world: World) -> None:
    html = world.page("/@eve_x")
    assert_escaped(html)
    assert "&lt;i&gt;Eve&lt;/i&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert f'href="/v/{world.video_id}"' in html
    assert "&lt;script&gt;alert(&#34;caption&#34;)" in html  # the caption under the grid poster


def test_video_page_escapes_and_links_hashtags(world: World) -> None:
    html = world.page(f"/v/{world.video_id}")
    assert_escaped(html)
    assert title_of(html).startswith("&lt;script&gt;alert(&#34;caption&#34;)&lt;/script&gt; #Fun")
    assert '<a class="tag" href="/tag/fun">#Fun</a>' in html
    assert '<a class="mention" href="/@eve_x">@eve_x</a>' in html
    assert boot_data(html)["mode"] == "single"


def test_search_page_escapes_the_query(world: World) -> None:
    html = world.page("/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "path", ["/@nobody_here", "/v/0000000000000000000000000", "/tag/nothing_tagged_this", "/no/such/page"]
)
def test_not_found_is_an_html_page(world: World, path: str) -> None:
    response = world.client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert title_of(response.text) == "Not found · sovereel"
    assert 'data-testid="not-found"' in response.text


def test_api_404_stays_json(world: World) -> None:
    response = world.client.get("/api/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert world.client.get("/api/users/nobody_here").json()["error"]["code"] == "not_found"


def test_pages_send_a_strict_content_security_policy(world: World) -> None:
    response = world.client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_static_assets_and_module_imports_exist(world: World) -> None:
    """Every script a template loads and every module a script imports is served (no build step, no CDN)."""
    wanted: set[str] = set()
    for template in TEMPLATE_DIR.glob("*.html"):
        text = template.read_text()
        wanted |= set(re.findall(r'(?:src|href)="/static/([\w.-]+)"', text))
        remote = re.findall(r'(?:src|href|action)="(?:https?:)?//', text)
        assert not remote, f"{template.name} loads something from the network"
    for script in STATIC_DIR.glob("*.js"):
        imports = re.findall(r"(?:from|import) '(\S+?)'", script.read_text())
        assert all(name.startswith("./") for name in imports), f"{script.name} imports from outside /static"
        wanted |= {name[2:] for name in imports}
    assert {"app.css", "feed.js", "common.js", "upload.js"} <= wanted
    for name in sorted(wanted):
        assert (STATIC_DIR / name).is_file(), f"missing static file {name}"
        response = world.client.get(f"/static/{name}")
        assert response.status_code == 200, name
    script = world.client.get("/static/feed.js")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert script.headers["cache-control"] == "no-cache"  # revalidated, so a new release is picked up at once


def test_linkify_caption_escapes_everything_but_its_links() -> None:
    html = str(linkify_caption('a<b>&"#Tag @bob. #123 x@notmention <#no>'))
    assert html == (
        'a&lt;b&gt;&amp;&#34;<a class="tag" href="/tag/tag">#Tag</a> '
        '<a class="mention" href="/@bob">@bob</a>. #123 x@notmention &lt;<a class="tag" href="/tag/no">#no</a>&gt;'
    )


def test_no_template_disables_autoescape() -> None:
    for template in Path(TEMPLATE_DIR).glob("*.html"):
        text = template.read_text()
        assert "|safe" not in text and "autoescape false" not in text, template.name


def np_badge(html: str) -> str:
    match = re.search(r'<span class="np-badge" data-testid="np-badge"[^>]*>', html)
    assert match, "the For You tab has no Not personalised badge"
    return match.group(0)


def test_feed_page_carries_the_for_you_controls(world: World) -> None:
    signed_out = world.page("/")
    assert 'data-testid="feed-settings-btn"' in signed_out  # the gear on the For You tab (a sign-in prompt)
    assert np_badge(signed_out).endswith(" hidden>")
    assert boot_data(signed_out)["feed_settings"] is None
    assert 'data-testid="feed-settings-btn"' not in world.page("/?tab=following")
    assert 'data-testid="feed-settings-btn"' not in world.page(f"/v/{world.video_id}")

    signed_in = world.page("/", signed_in=True)
    assert np_badge(signed_in).endswith(" hidden>")
    assert boot_data(signed_in)["feed_settings"] == {
        "personalised": True,
        "keyword_filters": [],
        "profile_reset_at": None,
        "not_interested": [],
    }
    auth = {"Authorization": f"Bearer {world.token}"}
    assert world.client.put("/api/me/feed-settings", json={"personalised": False}, headers=auth).status_code == 200
    try:
        html = world.page("/", signed_in=True)
        assert not np_badge(html).endswith(" hidden>")  # shown from the first paint, on both tabs
        assert not np_badge(world.page("/?tab=following", signed_in=True)).endswith(" hidden>")
        settings = boot_data(html)["feed_settings"]
        assert isinstance(settings, dict) and settings["personalised"] is False
    finally:
        world.client.put("/api/me/feed-settings", json={"personalised": True}, headers=auth)


def test_scripts_never_write_html() -> None:
    """Every script builds the page with textContent and DOM nodes: user text can never become markup."""
    sinks = re.compile(r"\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|createContextualFragment")
    for script in STATIC_DIR.glob("*.js"):
        found = sinks.findall(script.read_text())
        assert not found, f"{script.name} writes HTML: {found}"
