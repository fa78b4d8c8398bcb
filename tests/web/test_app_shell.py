"""The installable app's routes over HTTP: /sw.js, /manifest.webmanifest and /offline carry the content types and
cache headers browsers need, the worker's shell list is exactly static files that are served, and its cache version
follows the shell files' bytes. (The browser side — install, offline start, nothing personal cached — is in
tests/browser/test_install.py.)
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from sovereel.web.app_shell import load_shell
from sovereel.web.render import STATIC_DIR


def shell_config(worker_source: str) -> dict[str, object]:
    """The `const SHELL = {...};` line the server puts before the worker's source."""
    match = re.match(r"const SHELL = (\{.*?\});\n", worker_source)
    assert match, worker_source[:200]
    config: dict[str, object] = json.loads(match.group(1))
    return config


def test_worker_is_root_scoped_javascript_that_is_always_revalidated(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"  # a deploy reaches installed apps on their next start
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "worker-src 'self'" in sqlite_client.get("/").headers["content-security-policy"]
    config = shell_config(response.text)
    assert re.fullmatch(r"[0-9a-f]{16}", str(config["version"]))
    assert config["offline"] == "/offline"


def test_manifest_is_served_as_a_manifest(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/manifest+json"
    assert response.headers["cache-control"] == "no-cache"
    manifest = response.json()
    assert manifest["start_url"] == "/" and manifest["scope"] == "/" and manifest["display"] == "standalone"
    assert "manifest-src 'self'" in sqlite_client.get("/").headers["content-security-policy"]


def test_offline_page_is_anonymous_html_with_the_page_policy(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/offline")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "You are offline" in response.text and 'data-action="retry"' in response.text


def test_shell_lists_only_served_static_files_never_api_or_media(sqlite_client: TestClient) -> None:
    files = shell_config(sqlite_client.get("/sw.js").text)["files"]
    assert isinstance(files, list)
    assert {"/offline", "/static/app.css", "/static/common.js", "/static/icon-512.png", "/static/favicon.svg"} <= set(
        files
    )
    for path in files:
        assert path in ("/offline", "/manifest.webmanifest") or path.startswith("/static/"), path
        assert not path.startswith("/api/") and "/media/" not in path
        assert sqlite_client.get(path).status_code == 200, path
    # Every script module a page may load is kept, so the offline page is styled and scripted.
    assert {f"/static/{p.name}" for p in STATIC_DIR.glob("*.js") if p.name != "sw.js"} <= set(files)


def test_cache_version_changes_with_any_shell_file(tmp_path: Path) -> None:
    copy = tmp_path / "static"
    shutil.copytree(STATIC_DIR, copy)
    before = load_shell(copy)
    assert load_shell(copy).version == before.version  # stable while nothing changes
    (copy / "app.css").write_text((copy / "app.css").read_text() + "\n.x { color: red; }\n")
    after_css = load_shell(copy)
    assert after_css.version != before.version
    (copy / "offline.html").write_text((copy / "offline.html").read_text().replace("Retry", "Try again"))
    assert load_shell(copy).version != after_css.version
