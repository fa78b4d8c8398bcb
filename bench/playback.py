"""Playback on real networks: bytes moved per minute of swiping and time to first frame per swipe, in Chromium.

A real `sovereel serve` app (uvicorn, media worker on) transcodes generated 720×1280 clips with a phone clip's
grain; the system Chromium, on a phone viewport (390×844 CSS px at 2×, so a 780 px screen), swipes through the
feed. Each swipe: the next video becomes current, the first-frame time is read from the player's own
`sovereel:first-frame` measure (activation to `playing`), then the viewer watches `--dwell` seconds and swipes on.
A swipe whose first frame does not come within `--cap` seconds counts as `--cap` (and is reported as a miss).

Two networks (unthrottled loopback, and DevTools' "Slow 3G": 400 ms, 400 kbit/s), two player policies:
`before` is `?rendition=720` (always the 720 rendition, posters, the video behind kept loading: the old player),
`after` is the per-viewer choice (web/static/rendition.js). Bytes are every response body byte the page
received (`Network.dataReceived`), counted by the DevTools protocol.

    python -m bench.playback [--videos 6] [--swipes 5] [--dwell 3] [--out bench/results/playback.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.settings import load_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--autoplay-policy=user-gesture-required"]  # fmt: skip
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
NETWORKS: dict[str, dict[str, Any] | None] = {
    "fast": None,  # loopback, unthrottled
    "slow 3G": {"offline": False, "latency": 400, "downloadThroughput": 51200, "uploadThroughput": 51200},
}  # 51,200 bytes/s = 400 kbit/s
POLICIES = {"before": "/?rendition=720", "after": "/"}
RECORD = """window.__firstFrames = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__firstFrames.push(
  {id: e.detail.id, rendition: e.detail.rendition, buffered: e.detail.buffered, ms: e.duration}); })
  .observe({type: 'measure', buffered: true});"""


def make_clip(path: Path, duration_s: float) -> None:
    """A 720×1280 clip with moving grain (so renditions have a phone clip's bitrate) and a tone."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc=s=720x1280:r=24:d={duration_s},noise=alls=20:allf=t,format=yuv420p",
         "-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={duration_s}",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip


@contextmanager
def seeded_site(tmp: Path, videos: int, duration_s: float) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A served region with `videos` ready clips; yields its base URL and the videos' API views."""
    clip = tmp / "clip.mp4"
    make_clip(clip, duration_s)
    settings = load_settings(data_dir=tmp / "data", environment="test")
    with serve_in_thread(create_app(settings)) as base, httpx.Client(base_url=base, timeout=60) as client:
        r = client.post(
            "/api/auth/signup",
            json={"username": "bench_reels", "password": "bench-password", "birth_date": "1990-01-01"},
        )
        client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        client.cookies.clear()
        ids = []
        for i in range(videos):
            with clip.open("rb") as fh:
                r = client.post("/api/videos", files={"file": ("clip.mp4", fh, "video/mp4")}, data={"caption": f"#{i}"})
            ids.append(r.json()["id"])
        views = []
        for video_id in ids:
            deadline = time.monotonic() + 180
            while (view := client.get(f"/api/videos/{video_id}").json())["status"] != "ready":
                if view["status"] == "failed" or time.monotonic() > deadline:
                    raise RuntimeError(f"video {video_id} did not become ready: {view['status']}")
                time.sleep(0.2)
            views.append(view)
        yield base, views


def run_session(
    browser: Any, base: str, path: str, network: dict[str, Any] | None, args: argparse.Namespace
) -> dict[str, Any]:
    """One fresh viewer swiping `args.swipes` times; bytes, swiping time and first-frame times."""
    context = browser.new_context(base_url=base, **PHONE)
    page = context.new_page()
    page.add_init_script(RECORD)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    received = {"bytes": 0}
    cdp.on("Network.dataReceived", lambda e: received.__setitem__("bytes", received["bytes"] + e["encodedDataLength"]))
    if network:
        cdp.send("Network.emulateNetworkConditions", network)
    try:
        page.goto(path, wait_until="domcontentloaded")  # not "load": the old player's posters hold it back
        page.wait_for_selector("[data-testid=feed-item].active", timeout=60_000)
        with suppress(Exception):  # the page loads over the link; swiping starts at the first frame (or the cap)
            page.wait_for_function("() => window.__firstFrames.length >= 1", timeout=args.cap * 1000)
        started, bytes_at_start = time.monotonic(), received["bytes"]
        ttff: list[float] = []
        misses = 0
        for step in range(1, args.swipes + 1):
            page.wait_for_timeout(args.dwell * 1000)
            page.keyboard.press("ArrowDown")
            page.wait_for_function(f"() => document.getElementById('feed').dataset.activeIndex === '{step}'")
            current = page.evaluate("document.getElementById('feed').dataset.activeId")
            frame = f"window.__firstFrames.find((f) => f.id === '{current}')"
            try:
                page.wait_for_function(f"() => !!{frame}", timeout=args.cap * 1000)
                ttff.append(float(page.evaluate(f"{frame}.ms")))
            except Exception:  # no frame within the cap: count the cap
                ttff.append(args.cap * 1000)
                misses += 1
        page.wait_for_timeout(args.dwell * 1000)  # watch the last one too
        minutes = (time.monotonic() - started) / 60
        frames = page.evaluate("window.__firstFrames")
    finally:
        context.close()
    renditions = sorted({str(f["rendition"]) for f in frames[1:]}, key=lambda label: (len(label), label))
    return {
        "bytes_per_min": round((received["bytes"] - bytes_at_start) / minutes),
        "ttff_ms": [round(x) for x in ttff],
        "ttff_p50_ms": round(statistics.median(ttff)),
        "ttff_p95_ms": round(percentile(ttff, 95)),
        "misses": misses,
        "renditions": renditions,
        "minutes": round(minutes, 2),
    }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    """Seed, swipe under each network and policy, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--swipes", type=int, default=5)
    parser.add_argument("--dwell", type=float, default=3.0, help="seconds watched before each swipe")
    parser.add_argument("--cap", type=float, default=6.0, help="seconds to wait for a first frame")
    parser.add_argument("--clip", type=float, default=4.0, help="clip length in seconds")
    parser.add_argument("--out", type=Path, default=Path("bench/results/playback.json"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    began = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir, seeded_site(Path(tmp_dir), args.videos, args.clip) as (base, views):
        sizes = {r["label"]: r["bytes"] for r in views[0]["renditions"]}
        print(f"seeded {len(views)} videos in {time.monotonic() - began:.0f} s", flush=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for net_name, network in NETWORKS.items():
                for policy, path in POLICIES.items():
                    session = run_session(browser, base, path, network, args)
                    print(f"{net_name} / {policy}: {session}", flush=True)
                    rows.append({"network": net_name, "policy": policy, **session})
            browser.close()
    result = {
        "command": "python -m bench.playback",
        "clip": f"{args.clip:g} s 720x1280 grain; rendition bytes {sizes}",
        "viewport": "390x844 CSS px at 2x (phone)",
        "swipes": args.swipes,
        "dwell_s": args.dwell,
        "cap_s": args.cap,
        "rows": rows,
        "wall_s": round(time.monotonic() - began, 1),
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, python {platform.python_version()}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| network | policy | rendition | bytes / min of swiping | first frame p50 | p95 | none in {args.cap:g} s |")
    print("|---|---|---|---:|---:|---:|---:|")
    cap_ms = round(args.cap * 1000)
    for r in rows:
        shown = ", ".join(r["renditions"]) or ("720 (fixed)" if r["policy"] == "before" else "-")
        p50, p95 = (f"> {args.cap:g} s" if ms >= cap_ms else f"{ms} ms" for ms in (r["ttff_p50_ms"], r["ttff_p95_ms"]))
        print(
            f"| {r['network']} | {r['policy']} | {shown} | {r['bytes_per_min'] / 1e6:.1f} MB "
            f"| {p50} | {p95} | {r['misses']}/{args.swipes} |"
        )
    print(f"clip: {result['clip']}; {result['wall_s']} s in all")


if __name__ == "__main__":
    main()
