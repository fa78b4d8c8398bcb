"""Matching audio by Chromaprint fingerprints. Pure: no subprocess, no file access.

`fpcalc -raw` turns audio into 32-bit sub-fingerprints, one every ~0.12 s, each describing how energy moves
across pitch bands at that moment. Two recordings of the same audio give nearly the same bits even after
re-encoding, resampling or a volume change, so two tracks are compared by their bit error rate: the share of
differing bits between sub-fingerprints lined up in time. A copy with its start cut is the original shifted by
some sub-fingerprints, so every shift within `max_offset` is tried and the best one counts; a match needs
`min_overlap` aligned sub-fingerprints, so a second of shared audio cannot link two songs. Unrelated audio
differs in about half its bits. A fingerprint with almost no variety (silence, one steady tone) says too little
to tell one recording from another and is never matched (`is_identifiable`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

ITEMS_PER_S: Final = 11025 / 1365  # Chromaprint's default: 11025 Hz audio, a sub-fingerprint every 1365 samples
MATCH_BER: Final = 0.20
"""Largest bit error rate of a match: copies measure well under it, unrelated audio near 0.5 (bench/sound_match.py)."""
MAX_OFFSET_S: Final = 12.0
"""Longest start cut (or added lead-in) a copy may have and still be found."""
MIN_OVERLAP: Final = 20
"""Fewest aligned sub-fingerprints (about 2.5 s of audio) a match must rest on."""
MIN_DISTINCT: Final = 0.25
"""Share of distinct sub-fingerprints below which a track (silence, a steady tone) is not identifiable."""

_BYTE_BITS: Final = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


@dataclass(frozen=True)
class Alignment:
    """The best line-up of two fingerprints: bit error rate, shift of the second (in sub-fingerprints), overlap."""

    ber: float
    offset: int
    overlap: int


def as_array(fingerprint: Iterable[int]) -> npt.NDArray[np.uint32]:
    """The sub-fingerprints as unsigned 32-bit words (fpcalc prints them signed or unsigned by version)."""
    return np.array([int(x) & 0xFFFFFFFF for x in fingerprint], dtype=np.uint32)


def is_identifiable(fingerprint: Sequence[int]) -> bool:
    """Whether the track varies enough to be told apart from other audio."""
    return len(fingerprint) >= MIN_OVERLAP and len(set(fingerprint)) >= MIN_DISTINCT * len(fingerprint)


def _popcount(words: npt.NDArray[np.uint32]) -> int:
    return int(_BYTE_BITS[words.view(np.uint8)].sum())


def align(
    a: Sequence[int], b: Sequence[int], *, max_offset: int | None = None, min_overlap: int = MIN_OVERLAP
) -> Alignment | None:
    """The shift of `b` against `a` with the lowest bit error rate, or None when no shift overlaps enough."""
    xa, xb = as_array(a), as_array(b)
    limit = round(MAX_OFFSET_S * ITEMS_PER_S) if max_offset is None else max_offset
    best: Alignment | None = None
    # offset k: b[i] lines up with a[i + k]; k > 0 when b starts later in the audio (its start was cut).
    for k in range(-min(limit, len(xb)), min(limit, len(xa)) + 1):
        start_a, start_b = max(k, 0), max(-k, 0)
        n = min(len(xa) - start_a, len(xb) - start_b)
        if n < min_overlap:
            continue
        ber = _popcount(xa[start_a : start_a + n] ^ xb[start_b : start_b + n]) / (32 * n)
        if best is None or ber < best.ber:
            best = Alignment(ber=ber, offset=k, overlap=n)
    return best


def matches(a: Sequence[int], b: Sequence[int], *, threshold: float = MATCH_BER) -> bool:
    """Whether `a` and `b` are the same audio (either possibly re-encoded, trimmed at the start or louder)."""
    if not (is_identifiable(a) and is_identifiable(b)):
        return False
    found = align(a, b)
    return found is not None and found.ber <= threshold


def best_match(fingerprint: Sequence[int], candidates: Iterable[tuple[str, Sequence[int]]]) -> str | None:
    """The id of the candidate whose audio `fingerprint` matches most closely, or None."""
    if not is_identifiable(fingerprint):
        return None
    best: tuple[float, str] | None = None
    for key, other in candidates:
        if not is_identifiable(other):
            continue
        found = align(fingerprint, other)
        if found is not None and found.ber <= MATCH_BER and (best is None or found.ber < best[0]):
            best = (found.ber, key)
    return best[1] if best else None
