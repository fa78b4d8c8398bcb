"""Upload-to-ready time of a 15 s 1080×1920 phone clip through the running platform, against bare ffmpeg.

The platform side is a real `sovereel serve` app (uvicorn, media worker threads on) on a temporary data
dir: HTTP upload → intake checks → blob store → outbox → worker → transcode → verify → ready, polled
every 50 ms. The bare side runs the same ffmpeg commands (renditions + poster) on the same file.
Runs alternate so machine noise hits both; the ratio of medians is reported.

`--source sdr` is an 8-bit H.264 clip; `--source hdr` is what recent phones record by default: 10-bit
HEVC, BT.2020 with the HLG transfer, which both sides tone-map to SDR BT.709. A 1080×1920 source gets
the 1080, 720 and 360 renditions.

    python -m bench.upload_to_ready [--runs 3] [--source sdr|hdr] [--duration 15] [--out bench/results/...json]
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
from sovereel.media.ffmpeg_args import (
    POSTER_SHORT_SIDE,
    poster_args,
    poster_time,
    rendition_size,
    renditions_for,
    transcode_args,
)
from sovereel.media.probe import probe_file
from sovereel.media.sniff import sniff_file
from sovereel.settings import load_settings

SOURCES = {
    "sdr": ("1080x1920, H.264 8-bit SDR/AAC, 30 fps", ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                                                      "-pix_fmt", "yuv420p"]),
    "hdr": ("1080x1920, HEVC 10-bit BT.2020 HLG/AAC, 30 fps", [
        "-vf", "zscale=tin=bt709:pin=bt709:min=bt709:t=arib-std-b67:p=bt2020:m=bt2020nc:r=limited:npl=203,"
        "format=yuv420p10le", "-c:v", "libx265", "-preset", "veryfast", "-crf", "22",
        "-x265-params", "log-level=error", "-tag:v", "hvc1",
        "-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"]),
}  # fmt: skip
"""Source kind -> (description, video encoder arguments)."""


def make_source(path: Path, duration_s: float = 15.0, kind: str = "sdr") -> None:
    """A 1080×1920 phone-like clip with motion (so the encoder has real work), SDR H.264 or HDR HLG HEVC."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s=1080x1920:r=30:d={duration_s}",
         "-f", "lavfi", "-i", f"sine=f=330:sample_rate=48000:d={duration_s}",
         *SOURCES[kind][1], "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip


def bare_ffmpeg(src: Path, workdir: Path, preset: str) -> float:
    """Seconds for the same renditions + poster commands run directly."""
    container = sniff_file(src)
    assert container is not None, src
    probe = probe_file(src, max_duration_s=1e9, container=container)
    outs = {name: workdir / f"bare-{name}.mp4" for name in renditions_for(probe.width, probe.height)}
    width, _ = rendition_size(probe.width, probe.height, POSTER_SHORT_SIDE)
    at_s = poster_time(probe.duration_s)
    started = time.perf_counter()
    subprocess.run(transcode_args(src, outs, probe, container=container, preset=preset, threads=0), check=True)
    poster = workdir / "bare-poster.jpg"
    subprocess.run(poster_args(src, poster, at_s, width, container=container, probe=probe), check=True)
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
    parser.add_argument("--source", choices=sorted(SOURCES), default="sdr")
    parser.add_argument("--duration", type=float, default=15.0, help="source length in seconds")
    parser.add_argument("--out", type=Path, default=Path("bench/results/upload_to_ready.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        src = tmp / f"phone-1080x1920-{args.source}.mp4"
        make_source(src, args.duration, args.source)
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
        "clip": f"{args.duration:g} s, {SOURCES[args.source][0]}",
        "source": args.source,
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
