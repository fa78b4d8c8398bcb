"""Perceptual video fingerprints: a 64-bit pHash per sampled frame, and matching between two videos.

Pure (numpy and scipy, no I/O). A frame's pHash is the sign pattern of the lowest 8x8 DCT coefficients of its
32x32 grey thumbnail against their median, which survives re-encoding, resizing and bitrate changes. A crop
moves everything in the picture, so a kept (reference) video also keeps the hashes of centre crops of its
frames (CROP_SCALES): a cropped copy's frames match those. Two videos match when most of the candidate's
informative frames lie within `max_distance` bits of some reference frame; comparing against every reference
frame (not only the one at the same time) tolerates a shifted start and different frame timing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.fft import dct

SAMPLE: Final = 160  # frames arrive as SAMPLE x SAMPLE grey images (centre crops are cut from these)
THUMB: Final = 32  # frames are hashed from a THUMB x THUMB grey thumbnail
CROP_SCALES: Final = (0.9, 0.8)  # centre crops whose hashes a reference also keeps
LOW: Final = 8  # the LOW x LOW lowest frequencies make the 64 bits
MIN_CONTRAST: Final = 4.0  # grey-level standard deviation below which a frame (a fade, a black card) says nothing
MAX_DISTANCE: Final = 12  # bits out of 64 that two frames may differ by and still count as the same picture
MIN_FRACTION: Final = 0.5  # share of the candidate's frames that must find a partner in the reference
MIN_FRAMES: Final = 3  # and never fewer than this many (or all of them, for a very short video)

GreyFrames = npt.NDArray[np.uint8]  # shape (n, SAMPLE, SAMPLE)


@dataclass(frozen=True)
class Fingerprint:
    """A video's frame hashes: of whole frames (what a candidate is compared by) and of centre crops."""

    full: list[int]
    cropped: list[int]

    @property
    def reference(self) -> list[int]:
        """Every hash a candidate may be matched against."""
        return self.full + self.cropped

    def as_json(self) -> dict[str, list[str]]:
        return {"full": to_hex(self.full), "cropped": to_hex(self.cropped)}

    @classmethod
    def from_json(cls, data: Mapping[str, Sequence[str]]) -> Fingerprint:
        return cls(from_hex(data.get("full", [])), from_hex(data.get("cropped", [])))


@dataclass(frozen=True)
class MatchResult:
    """How much of a candidate video was found in a reference video."""

    matched: int  # candidate frames with a partner within max_distance
    compared: int  # informative candidate frames
    mean_distance: float  # over the matched frames (0 when none matched)

    @property
    def fraction(self) -> float:
        return self.matched / self.compared if self.compared else 0.0

    def is_match(self, min_fraction: float = MIN_FRACTION, min_frames: int = MIN_FRAMES) -> bool:
        """Whether the candidate is, by these thresholds, a copy of the reference."""
        if self.compared == 0:
            return False
        return self.fraction >= min_fraction and self.matched >= min(min_frames, self.compared)


def phash(thumb: npt.NDArray[np.generic]) -> int:
    """The 64-bit perceptual hash of one THUMB x THUMB grey frame."""
    pixels = np.asarray(thumb, dtype=np.float64)
    if pixels.shape != (THUMB, THUMB):
        raise ValueError(f"expected a {THUMB}x{THUMB} frame, got {pixels.shape}")
    coeffs = dct(dct(pixels, axis=0, norm="ortho"), axis=1, norm="ortho")[:LOW, :LOW].ravel()
    bits = coeffs[1:] > np.median(coeffs[1:])  # the DC term only says how bright the frame is
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value << 1  # 63 meaningful bits; the lowest is always 0


def informative(thumb: npt.NDArray[np.generic]) -> bool:
    """Whether a frame has enough contrast for its hash to identify anything."""
    return float(np.asarray(thumb, dtype=np.float64).std()) >= MIN_CONTRAST


def _area_matrix(n_in: int, n_out: int) -> npt.NDArray[np.float64]:
    """The (n_out, n_in) matrix that averages input pixels into output pixels by covered area."""
    m = np.zeros((n_out, n_in))
    step = n_in / n_out
    for o in range(n_out):
        lo, hi = o * step, (o + 1) * step
        for i in range(int(lo), min(n_in, int(np.ceil(hi)))):
            m[o, i] = min(hi, i + 1) - max(lo, i)
    return m / step


def thumbnail(frame: npt.NDArray[np.generic], scale: float = 1.0) -> npt.NDArray[np.float64]:
    """The centre `scale` of a square grey frame, area-averaged down to THUMB x THUMB."""
    pixels = np.asarray(frame, dtype=np.float64)
    size = pixels.shape[0]
    keep = max(THUMB, round(size * scale))
    off = (size - keep) // 2
    crop = pixels[off : off + keep, off : off + keep]
    m = _area_matrix(keep, THUMB)
    return np.asarray(m @ crop @ m.T)


def frame_hashes(frames: GreyFrames, scale: float = 1.0) -> list[int]:
    """The hashes of a video's informative frames (or of their centre crops), in time order."""
    thumbs = (thumbnail(f, scale) for f in frames)
    return [phash(t) for t in thumbs if informative(t)]


def fingerprint(frames: GreyFrames) -> Fingerprint:
    """A video's fingerprint from its sampled frames."""
    return Fingerprint(frame_hashes(frames), [h for sc in CROP_SCALES for h in frame_hashes(frames, sc)])


def to_hex(hashes: Sequence[int]) -> list[str]:
    """Hashes as 16-digit hex strings (JSON and every database store them exactly)."""
    return [f"{h:016x}" for h in hashes]


def from_hex(values: Sequence[str]) -> list[int]:
    return [int(v, 16) for v in values]


def _array(hashes: Sequence[int]) -> npt.NDArray[np.uint64]:
    return np.asarray([int(h) for h in hashes], dtype=np.uint64)


def distances(candidate: Sequence[int], reference: Sequence[int]) -> npt.NDArray[np.int64]:
    """Hamming distances, candidate frames by reference frames."""
    a, b = _array(candidate), _array(reference)
    out: npt.NDArray[np.int64] = np.bitwise_count(a[:, None] ^ b[None, :]).astype(np.int64)
    return out


def compare(candidate: Sequence[int], reference: Sequence[int], max_distance: int = MAX_DISTANCE) -> MatchResult:
    """How many candidate frames have a partner frame in the reference."""
    if not candidate or not reference:
        return MatchResult(0, len(candidate), 0.0)
    nearest = distances(candidate, reference).min(axis=1)
    hit = nearest <= max_distance
    matched = int(hit.sum())
    return MatchResult(matched, len(candidate), float(nearest[hit].mean()) if matched else 0.0)


def best_match(
    candidate: Sequence[int], references: Mapping[str, Sequence[int]], max_distance: int = MAX_DISTANCE
) -> tuple[str, MatchResult] | None:
    """The reference the candidate matches best, if it matches any."""
    best: tuple[str, MatchResult] | None = None
    for ref_id, ref in references.items():
        result = compare(candidate, ref, max_distance)
        # Most frames found wins; on a tie, the closer frames (a sibling clip can match as many, less closely).
        if result.is_match() and (
            best is None or (-result.fraction, result.mean_distance) < (-best[1].fraction, best[1].mean_distance)
        ):
            best = (ref_id, result)
    return best


def sample_rate(duration_s: float, per_second: float = 2.0, max_frames: int = 64) -> float:
    """Frames per second to sample so a video gives at most `max_frames` frames."""
    if duration_s <= 0:
        return per_second
    return min(per_second, max_frames / duration_s)
