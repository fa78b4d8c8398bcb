"""Upload-to-ready time of a 15 s 1080×1920 H.264 clip through the running platform, against bare ffmpeg.

The platform side is a real `sovereel serve` app (uvicorn, media worker threads on) on a temporary data
dir: HTTP upload → intake checks → blob store → outbox → worker → transcode → verify → ready, polled
every 50 ms. The bare side runs the same ffmpeg commands (renditions + poster) on the same file.
Runs alternate so machine noise hits both; the ratio of medians is reported.

    python -m bench.upload_to_ready [--runs 3] [--out bench/results/upload_to_ready.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from tqdm import tqdm

from sovereel.api.app import create_app
from sovereel.api.server import serve_in_thread
from sovereel.media.ffmpeg_args import RENDITIONS, poster_args, poster_time, rendition_size, transcode_args
from sovereel.media.probe import probe_file
from sovereel.settings import load_settings


def make_source(path: Path, duration_s: float = 15.0) -> None:
    """A 1080×1920 H.264/AAC phone-like clip with motion (so the encoder has real work)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s=1080x1920:r=30:d={duration_s}",
         "-f", "lavfi", "-i", f"sine=f=330:sample_rate=48000:d={duration_s}",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip


def bare_ffmpeg(src: Path, workdir: Path, preset: str) -> float:
    """Seconds for the same renditions + poster commands run directly."""
    probe = probe_file(src, max_duration_s=1e9)
    outs = {name: workdir / f"bare-{name}.mp4" for name in RENDITIONS}
    width, _ = rendition_size(probe.width, probe.height, max(RENDITIONS.values()))
    started = time.perf_counter()
    subprocess.run(transcode_args(src, outs, probe, preset=preset, threads=0), check=True)
    subprocess.run(poster_args(src, workdir / "bare-poster.jpg", poster_time(probe.duration_s), width), check=True)
    return time.perf_counter() - started


def platform_upload(base: str, src: Path, token: str) -> float:
    """Seconds from the start of the HTTP upload until the API reports the video ready."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=600) as client:
        started = time.perf_counter()
        with src.open("rb") as f:
            r = client.post("/api/videos", headers=headers, files={"file": (src.name, f, "video/mp4")})
        r.raise_for_status()
        video_id = r.json()["id"]
        while True:
            status = client.get(f"/api/videos/{video_id}", headers=headers).json()["status"]
            if status == "ready":
                return time.perf_counter() - started
            if status == "failed":
                raise RuntimeError("transcode failed")
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/upload_to_ready.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        src = tmp / "phone-1080x1920-15s.mp4"
        make_source(src)
        settings = load_settings(data_dir=tmp / "data", environment="test")
        app = create_app(settings)
        platform_s: list[float] = []
        bare_s: list[float] = []
        with serve_in_thread(app) as base:
            signup = httpx.post(
                f"{base}/api/auth/signup",
                json={"username": "bench", "password": "bench-password", "birth_date": "1990-01-01"},
            )
            token = signup.json()["token"]
            for _ in tqdm(range(args.runs), desc="runs"):
                bare_s.append(bare_ffmpeg(src, tmp, settings.x264_preset))
                platform_s.append(platform_upload(base, src, token))
    result = {
        "clip": "15 s, 1080x1920, H.264/AAC, 30 fps",
        "preset": settings.x264_preset,
        "runs": args.runs,
        "platform_s": [round(x, 3) for x in platform_s],
        "bare_ffmpeg_s": [round(x, 3) for x in bare_s],
        "median_platform_s": round(statistics.median(platform_s), 3),
        "median_bare_s": round(statistics.median(bare_s), 3),
        "ratio": round(statistics.median(platform_s) / statistics.median(bare_s), 3),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
