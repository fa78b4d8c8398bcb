"""The pure parts of sounds: fingerprint alignment and matching, and the filter graph of a chosen sound."""

from __future__ import annotations

import random

import pytest

from sovereel.media.audio_match import MIN_OVERLAP, align, best_match, is_identifiable, matches
from sovereel.media.sounds import sound_audio_graph


def words(seed: int, n: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(32) for _ in range(n)]


def flip(fp: list[int], bits: int, seed: int = 0) -> list[int]:
    """Each word with `bits` random bits flipped (a noisy copy)."""
    rng = random.Random(seed)
    return [w ^ sum(1 << b for b in rng.sample(range(32), bits)) for w in fp]


def test_a_trimmed_noisy_copy_aligns_at_its_cut() -> None:
    song = words(1, 120)
    copy = flip(song[17:], bits=3)  # start cut by 17 sub-fingerprints (~2 s), ~9 % of bits changed
    found = align(song, copy)
    assert found is not None and found.offset == 17 and found.overlap == 103
    assert found.ber == pytest.approx(3 / 32)
    assert matches(song, copy) and matches(copy, song)


def test_different_audio_does_not_match() -> None:
    a, b = words(1, 120), words(2, 120)
    found = align(a, b)
    assert found is not None and found.ber > 0.35
    assert not matches(a, b)
    assert best_match(a, [("b", b), ("a2", flip(a, 2))]) == "a2"
    assert best_match(a, [("b", b)]) is None


def test_too_little_overlap_or_variety_never_matches() -> None:
    song = words(3, 60)
    short = song[-(MIN_OVERLAP - 1) :]  # under ~2.5 s of shared audio
    assert align(song, short) is None and not matches(song, short)
    assert not is_identifiable([7] * 100)  # silence or one steady tone
    assert not matches([7] * 100, [7] * 100)
    assert is_identifiable(song) and matches(song, song)
    assert matches([w - 2**32 if w >= 2**31 else w for w in song], song)  # fpcalc's signed words read alike


def test_chosen_sound_graph_replaces_or_mixes_and_fits_the_video() -> None:
    graph, labels = sound_audio_graph(source_audio=None, sound_input=1, duration_s=8.5, outputs=2)
    assert labels == ["sa0", "sa1"]
    assert graph.startswith("[1:a:0]") and "atrim=end=8.500" in graph and "amix" not in graph
    assert graph.endswith("asplit=2[sa0][sa1]")
    mixed, _ = sound_audio_graph(source_audio="0:a:1", sound_input=1, duration_s=3.0, outputs=1)
    assert "[0:a:1]" in mixed and "volume=0.3" in mixed and "amix=inputs=2" in mixed and "alimiter" in mixed
    with pytest.raises(ValueError):
        sound_audio_graph(source_audio=None, sound_input=1, duration_s=1.0, outputs=0)
