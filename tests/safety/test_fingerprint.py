"""Perceptual video fingerprints: the pure hashing and matching, and real ffmpeg-transformed copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from sovereel.media.frames import sample_frames, video_fingerprint
from sovereel.safety.fingerprint import (
    MAX_DISTANCE,
    SAMPLE,
    THUMB,
    Fingerprint,
    MatchResult,
    best_match,
    compare,
    distances,
    informative,
    phash,
    sample_rate,
    thumbnail,
)
from tests.support.media_clips import ffmpeg
from tests.support.moderation import distinct_clip


def test_phash_is_stable_under_brightness_and_noise_but_not_under_a_different_picture() -> None:
    rng = np.random.default_rng(1)

    def smooth_picture(seed: int) -> np.ndarray:
        field = gaussian_filter(np.random.default_rng(seed).normal(0, 1, (THUMB, THUMB)), 4)
        return np.asarray(128 + 40 * field / field.std())

    picture, other = smooth_picture(1), smooth_picture(2)
    h = phash(picture)
    assert h & 1 == 0 and h < 2**64
    assert phash(picture + 20) == h  # brighter: the same hash
    noisy = picture + rng.normal(0, 3, picture.shape)  # compression-like noise
    assert bin(h ^ phash(noisy)).count("1") <= MAX_DISTANCE
    assert bin(h ^ phash(other)).count("1") > MAX_DISTANCE + 8
    with pytest.raises(ValueError):
        phash(np.zeros((8, 8)))


def test_thumbnail_area_averages_and_crops_the_centre() -> None:
    flat = np.full((SAMPLE, SAMPLE), 77, dtype=np.uint8)
    assert np.allclose(thumbnail(flat), 77)
    assert not informative(thumbnail(flat))  # a flat card identifies nothing
    framed = np.zeros((SAMPLE, SAMPLE))
    framed[16:-16, 16:-16] = 200  # a bright square inside a black border
    assert np.allclose(thumbnail(framed, scale=0.8), 200)  # the centre 80% crop is all square
    assert thumbnail(framed).min() == 0


def test_compare_counts_candidate_frames_found_in_the_reference() -> None:
    ref = [0b1111 << 8, 0xFFFF << 20, 0]
    assert distances([0], ref).tolist() == [[4, 16, 0]]
    result = compare([0b1110 << 8, 0b111 << 61, 0xFFFF << 20], ref, max_distance=2)
    assert (result.matched, result.compared) == (2, 3)
    assert result.is_match(min_fraction=0.5, min_frames=2)
    assert not MatchResult(1, 3, 0.0).is_match()
    assert not compare([], ref).is_match()
    assert best_match([5, 6, 7], {"a": [(1 << 64) - 1], "b": [5, 6, 7]}) == ("b", MatchResult(3, 3, 0.0))
    assert best_match([5, 6, 7], {"a": [(1 << 64) - 1]}) is None  # every bit differs
    assert sample_rate(10.0) == 2.0 and sample_rate(180.0) == pytest.approx(64 / 180)
    fp = Fingerprint([1, 2], [3])
    assert Fingerprint.from_json(fp.as_json()) == fp and fp.reference == [1, 2, 3]


TRANSFORMS = {
    "re-encoded": ["-c:v", "libx264", "-crf", "34"],
    "low bitrate": ["-c:v", "libx264", "-b:v", "60k"],
    "resized": ["-vf", "scale=96:-2"],
    "cropped 8%": ["-vf", "crop=iw*0.92:ih*0.92"],
    "cropped 16%": ["-vf", "crop=iw*0.84:ih*0.84"],
    "trimmed 1s": ["-ss", "1"],
    "webm": ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k"],
}


@pytest.mark.usefixtures("ffmpeg")
def test_transformed_copies_match_and_different_videos_do_not(tmp_path: Path) -> None:
    clips = [distinct_clip(tmp_path, i) for i in range(4)]
    prints = [video_fingerprint(c, 4.0) for c in clips]
    assert len(sample_frames(clips[0], 4.0)) == 8 and len(prints[0].full) >= 6
    for i, a in enumerate(prints):
        for j, b in enumerate(prints):
            assert compare(a.full, b.reference).is_match() == (i == j), (i, j)
    source = clips[0]
    for name, args in TRANSFORMS.items():
        out = tmp_path / f"copy-{name.replace(' ', '-').replace('%', '')}.{'webm' if name == 'webm' else 'mp4'}"
        ffmpeg("-i", str(source), *args, str(out))
        found = best_match(video_fingerprint(out, 4.0).full, {f"clip{k}": p.reference for k, p in enumerate(prints)})
        assert found is not None and found[0] == "clip0", name
    mirrored = tmp_path / "mirrored.mp4"  # a known gap: pHash is not mirror-invariant
    ffmpeg("-i", str(source), "-vf", "hflip", str(mirrored))
    assert not compare(video_fingerprint(mirrored, 4.0).full, prints[0].reference).is_match()


@pytest.mark.usefixtures("ffmpeg")
def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    from sovereel.media.frames import FrameError

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(FrameError):
        sample_frames(bad, 1.0)
