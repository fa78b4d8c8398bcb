"""The embedded two-region demo as a user runs it: `sovereel serve --regions us,eu` in one command, two
SQLite files and media folders, sign-up in a home region, the other region refusing its token, and the
residency check over both stores afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sovereel.api.server import free_port
from sovereel.cli.main import main
from tests.support.scale import wait_for

BIRTH = "1990-01-01"


def two_free_ports() -> int:
    """A port P with P and P+1 both free a moment ago (the demo serves region i on P+i)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two adjacent free ports")


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/audit/checkpoint", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_serve_two_regions_in_one_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = two_free_ports()
    us, eu = f"http://127.0.0.1:{port}", f"http://localhost:{port + 1}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVEREEL_")}
    env["SOVEREEL_EXCHANGE_EVERY_S"] = "0"
    argv = [sys.executable, "-m", "sovereel.cli", "--data-dir", str(tmp_path / "data"), "serve", "--regions", "us,eu",
            "--port", str(port), "--no-workers"]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(lambda: answers(us) and answers(eu), timeout_s=120, every_s=0.5), "the regions never answered"
        for region in ("us", "eu"):  # each region its own SQLite file and media folder
            assert (tmp_path / "data" / region / "sovereel.db").is_file()
        # The sign-up page offers the home region, pointing at each region's own sign-up page.
        page = httpx.get(f"{us}/signup").text
        assert 'data-testid="region-picker"' in page and f"{eu}/signup" in page
        body = {"username": "ana", "password": "correct horse battery", "birth_date": BIRTH}
        signed = httpx.post(f"{us}/api/auth/signup", json=body)
        assert signed.status_code == 201 and signed.json()["user"]["region"] == "us"
        token = signed.json()["token"]
        assert httpx.get(f"{us}/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        refused = httpx.get(f"{eu}/api/me", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "wrong_region"
        bob = httpx.post(f"{eu}/api/auth/signup", json={**body, "username": "bob"})
        assert bob.status_code == 201 and bob.json()["user"]["region"] == "eu"
        assert httpx.get(f"{us}/api/users/bob").status_code == 404  # bob lives in eu only
        assert httpx.get(f"{us}/api/users/{bob.json()['user']['id']}").status_code == 403  # named by id: refused
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"region us: {us}" in out and f"region eu: {eu}" in out
    assert main(["--data-dir", str(tmp_path / "data"), "residency", "check", "--regions", "us,eu"]) == 0
    assert "residency check: OK (2 regions" in capsys.readouterr().out


@pytest.mark.slow
def test_the_demo_command_exits_cleanly_when_run_again(tmp_path: Path) -> None:
    """`scripts/start` runs `sovereel demo` on every start. The second run finds the world and opens the region
    only to close it again while the caption index is still embedding on a background thread; exiting under that
    thread aborted the process (torch's "terminate called without an active exception"), so the start failed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVEREEL_")}
    argv = [sys.executable, "-m", "sovereel.cli", "--data-dir", str(tmp_path / "data"), "demo", "--videos", "3",
            "--users", "3"]  # fmt: skip
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "first For You model" in first.stdout
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr[-2000:]
    assert "the demo world is already there" in again.stdout
