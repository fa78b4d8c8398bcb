"""Re-upload blocking: miss and false-match rates of the perceptual video fingerprint over transformations.

Sources are demo-style clips (`demo_specs`: eight moving patterns, each tinted, titled and toned differently;
with more than eight clips some share a pattern and differ only in tint, title and motion seed, the hardest
negatives here). Each source is copied through every transformation with ffmpeg; every copy is matched
against every source's reference fingerprint the way the media worker does (`best_match` over the blocked set).

- miss: a copy that does not match its own source (or matches another source better);
- false match: a copy matching a source other than its own, or an original matching another original.

    python -m bench.reupload [--clips 12] [--seconds 6] [--out bench/results/reupload.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import platform
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sovereel.demo.clips import demo_specs, generate_clip
from sovereel.media.frames import video_fingerprint
from sovereel.safety.fingerprint import MAX_DISTANCE, MIN_FRACTION, Fingerprint, best_match, compare

# name -> (ffmpeg output arguments, container, expected to match): the last group are known limits.
TRANSFORMS: dict[str, tuple[list[str], str, bool]] = {
    "re-encoded (x264 crf 35)": (["-c:v", "libx264", "-crf", "35"], "mp4", True),
    "low bitrate (100 kb/s)": (["-c:v", "libx264", "-b:v", "100k"], "mp4", True),
    "downscaled to 50%": (["-vf", "scale=trunc(iw/4)*2:-2"], "mp4", True),
    "upscaled to 150%": (["-vf", "scale=trunc(iw*0.75)*2:-2"], "mp4", True),
    "cropped 8%": (["-vf", "crop=trunc(iw*0.46)*2:trunc(ih*0.46)*2"], "mp4", True),
    "cropped 16%": (["-vf", "crop=trunc(iw*0.42)*2:trunc(ih*0.42)*2"], "mp4", True),
    "VP8 WebM": (["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"], "webm", True),
    "15 fps": (["-r", "15"], "mp4", True),
    "brightness/contrast": (["-vf", "eq=brightness=0.06:contrast=1.15"], "mp4", True),
    "first second cut": (["-ss", "1"], "mp4", True),
    "first half only": (["-t", "{half}"], "mp4", True),
    "watermark box": (["-vf", "drawbox=x=iw*0.05:y=ih*0.8:w=iw*0.4:h=ih*0.08:color=white@0.8:t=fill"], "mp4", True),
    "greyscale": (["-vf", "hue=s=0"], "mp4", True),
    "cropped 24%": (["-vf", "crop=trunc(iw*0.38)*2:trunc(ih*0.38)*2"], "mp4", False),
    "letterboxed to square": (["-vf", "scale=-2:trunc(ih/4)*2,pad=ih*2:ih*2:(ow-iw)/2:(oh-ih)/2"], "mp4", False),
    "mirrored": (["-vf", "hflip"], "mp4", False),
}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-y", "-nostdin", "-loglevel", "error", *args], check=True, timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--short-side", type=int, default=270)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/reupload.json"))
    args = parser.parse_args()
    specs = [
        dataclasses.replace(s, duration_s=args.seconds)
        for s in demo_specs(args.clips, seed=11, short_side=args.short_side)
    ]
    with tempfile.TemporaryDirectory() as tmp_s, ThreadPoolExecutor(args.workers) as pool:
        tmp = Path(tmp_s)
        sources = [tmp / f"src{i}.mp4" for i in range(len(specs))]
        list(tqdm(pool.map(generate_clip, specs, sources), total=len(specs), desc="sources"))
        t0 = time.perf_counter()
        refs: list[Fingerprint] = list(pool.map(lambda p: video_fingerprint(p, args.seconds), sources))
        fp_s = (time.perf_counter() - t0) * args.workers / len(sources)
        ref_map = {f"src{i}": fp.reference for i, fp in enumerate(refs)}

        def copy_and_match(job: tuple[str, int]) -> tuple[str, int, str | None, list[tuple[int, bool]]]:
            name, i = job
            out_args, container, _ = TRANSFORMS[name]
            out = tmp / f"copy-{list(TRANSFORMS).index(name)}-{i}.{container}"
            ffmpeg("-i", str(sources[i]), *[a.format(half=args.seconds / 2) for a in out_args], "-an", str(out))
            seconds = args.seconds / 2 if "half" in name else args.seconds - (1 if "second cut" in name else 0)
            full = video_fingerprint(out, seconds).full
            found = best_match(full, ref_map)
            others = [(j, compare(full, ref).is_match()) for j, ref in enumerate(ref_map.values()) if j != i]
            out.unlink()
            return name, i, found[0] if found else None, others

        jobs = [(name, i) for name in TRANSFORMS for i in range(len(sources))]
        results = list(tqdm(pool.map(copy_and_match, jobs), total=len(jobs), desc="copies"))
    rows: list[dict[str, Any]] = []
    for name, (_, _, expected) in TRANSFORMS.items():
        mine = [r for r in results if r[0] == name]
        misses = sum(1 for _, i, found, _ in mine if found != f"src{i}")
        false_same = sum(m for _, i, _, o in mine for j, m in o if specs[j].pattern == specs[i].pattern)
        false_other = sum(m for _, i, _, o in mine for j, m in o if specs[j].pattern != specs[i].pattern)
        false = false_same + false_other
        pairs = sum(len(o) for *_, o in mine)
        rows.append(
            {
                "transform": name,
                "expected_to_match": expected,
                "copies": len(mine),
                "miss_rate": misses / len(mine),
                "false_matches": false,
                "false_matches_same_pattern": false_same,
                "false_matches_other_pattern": false_other,
                "missed_patterns": sorted(specs[i].pattern for _, i, found, _ in mine if found != f"src{i}"),
                "false_match_rate": false / pairs if pairs else 0.0,
            }
        )
    same_pattern = [
        (i, j) for i, j in itertools.permutations(range(len(specs)), 2) if specs[i].pattern == specs[j].pattern
    ]
    other_pattern = [
        (i, j) for i, j in itertools.permutations(range(len(specs)), 2) if specs[i].pattern != specs[j].pattern
    ]

    def rate(pairs: list[tuple[int, int]]) -> float:
        hits = sum(compare(refs[i].full, refs[j].reference).is_match() for i, j in pairs)
        return hits / len(pairs) if pairs else 0.0

    in_scope = [r for r in rows if r["expected_to_match"]]
    report = {
        "clips": len(specs),
        "seconds": args.seconds,
        "size": f"{args.short_side}x{round(args.short_side * 16 / 9)} (portrait) / landscape",
        "thresholds": {"max_distance_bits": MAX_DISTANCE, "min_fraction": MIN_FRACTION},
        "fingerprint_s_per_video": round(fp_s, 3),
        "transforms": rows,
        "in_scope_miss_rate": sum(r["miss_rate"] for r in in_scope) / len(in_scope),
        "copy_false_match_rate": sum(r["false_matches"] for r in rows)
        / sum(r["copies"] * (len(specs) - 1) for r in rows),
        "copy_false_matches_other_pattern": sum(r["false_matches_other_pattern"] for r in rows),
        "copy_pairs_other_pattern": len(TRANSFORMS) * len(other_pattern),
        "copy_false_matches_same_pattern": sum(r["false_matches_same_pattern"] for r in rows),
        "copy_pairs_same_pattern": len(TRANSFORMS) * len(same_pattern),
        "original_pairs": {
            "different_pattern_false_match_rate": rate(other_pattern),
            "different_pattern_pairs": len(other_pattern),
            "same_pattern_false_match_rate": rate(same_pattern),
            "same_pattern_pairs": len(same_pattern),
        },
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'transform':<26} {'miss':>6} {'false':>6}")
    for r in rows:
        print(
            f"{r['transform']:<26} {r['miss_rate']:>6.0%} {r['false_match_rate']:>6.1%}"
            + ("" if r["expected_to_match"] else "  (known limit)")
        )
    print(json.dumps({k: v for k, v in report.items() if k != "transforms"}, indent=2))


if __name__ == "__main__":
    main()
