"""Sound matching: how often the Chromaprint fingerprint links copies of the same audio, and how often it links
different audio.

Sources are generated melody-like signals (`tests.support.sound_clips.melody`: notes of random pitch and length
with harmonics, syllable-like swells and noise bursts), one per seed. Each source is copied through every
transformation with ffmpeg, the copy is put through what the media worker does (AAC at 128 kb/s in MP4, then
`fpcalc -raw`), and matched against every source's fingerprint with `media.audio_match` (bit error rate over
aligned windows, shifts up to 12 s).

- link rate: copies matched to their own source (and to no better other source);
- false links: pairs of different sources that match (every pair of the originals, and every copy against the
  other sources).

    python -m bench.sound_match [--sources 12] [--seconds 15] [--out bench/results/sound_match.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.support.sound_clips import make_melody_wav

from sovereel.media.audio_match import MATCH_BER, align, best_match, matches
from sovereel.media.sounds import fingerprint_audio

# name -> ffmpeg output arguments applied to the source WAV before the worker's own AAC encode.
TRANSFORMS: dict[str, list[str]] = {
    "re-encoded MP3 64 kb/s": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "re-encoded Opus 32 kb/s": ["-c:a", "libopus", "-b:a", "32k"],
    "AAC 48 kb/s, 22 kHz mono": ["-c:a", "aac", "-b:a", "48k", "-ar", "22050", "-ac", "1"],
    "start cut 1 s": ["-ss", "1"],
    "start cut 2.3 s": ["-ss", "2.3"],
    "start cut 3 s": ["-ss", "3"],
    "volume -12 dB": ["-af", "volume=-12dB"],
    "volume +6 dB (limited)": ["-af", "volume=6dB,alimiter=limit=0.95"],
    "cut 1.7 s + MP3 96 kb/s + -6 dB": ["-ss", "1.7", "-af", "volume=-6dB", "-c:a", "libmp3lame", "-b:a", "96k"],
}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-y", "-nostdin", "-loglevel", "error", *args], check=True, timeout=120)


def worker_fingerprint(src: Path, out_dir: Path, name: str, transform: list[str]) -> list[int]:
    """The fingerprint the media worker would store for a video whose audio is `src` after `transform`."""
    seek = transform[:2] if transform[:1] == ["-ss"] else []
    rest = transform[2:] if seek else transform
    middle = out_dir / f"{name}.mka"
    _ffmpeg(*seek, "-i", str(src), *(rest or ["-c:a", "pcm_s16le"]), str(middle))
    final = out_dir / f"{name}.m4a"
    _ffmpeg("-i", str(middle), "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000", str(final))
    return fingerprint_audio(final)


def run(sources: int, seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        wavs = [make_melody_wav(tmp / f"s{i}.wav", seed=1000 + i, duration_s=seconds) for i in range(sources)]
        jobs = [(i, "original", []) for i in range(sources)]
        jobs += [(i, name, args) for i in range(sources) for name, args in TRANSFORMS.items()]
        with ThreadPoolExecutor(max_workers=2) as pool:
            prints = list(
                pool.map(lambda j: worker_fingerprint(wavs[j[0]], tmp, f"{j[0]}-{j[1][:8]}{hash(j[1])}", j[2]), jobs)
            )
    by_job = {(i, name): fp for (i, name, _), fp in zip(jobs, prints, strict=True)}
    refs = [(str(i), by_job[(i, "original")]) for i in range(sources)]
    rows: dict[str, dict[str, Any]] = {}
    false_links = 0
    copy_pairs = 0
    for name in TRANSFORMS:
        linked, bers = 0, []
        for i in range(sources):
            fp = by_job[(i, name)]
            found = best_match(fp, refs)
            linked += found == str(i)
            own = align(refs[i][1], fp)
            bers.append(own.ber if own else 1.0)
            for j, other in refs:
                if j != str(i):
                    copy_pairs += 1
                    false_links += matches(other, fp)
        rows[name] = {"link_rate": linked / sources, "median_ber": sorted(bers)[len(bers) // 2], "max_ber": max(bers)}
    originals_pairs, originals_false, closest = 0, 0, 1.0
    for a in range(sources):
        for b in range(a + 1, sources):
            hit = align(refs[a][1], refs[b][1])
            originals_pairs += 1
            if hit is not None:
                closest = min(closest, hit.ber)
                originals_false += hit.ber <= MATCH_BER
    return {
        "sources": sources,
        "seconds": seconds,
        "threshold_ber": MATCH_BER,
        "transforms": rows,
        "false_links_originals": f"{originals_false}/{originals_pairs}",
        "lowest_ber_between_different_sources": round(closest, 3),
        "false_links_copies": f"{false_links}/{copy_pairs}",
        "machine": f"{platform.machine()}, {platform.processor() or platform.platform()}",
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/sound_match.json"))
    args = parser.parse_args()
    result = run(args.sources, args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
