"""The signals measured for a candidate pair, and the named features the decision model reads."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.features.hashes import QUARTER_TURNS, best_orientation, distances_at
from ndid_desktop.engine.types import ImageInfo, PairSignals


def measure(
    hashes_a: NDArray[np.uint8],
    hashes_b: NDArray[np.uint8],
    info_a: ImageInfo,
    info_b: ImageInfo,
    vec_a: NDArray[np.float32] | None,
    vec_b: NDArray[np.float32] | None,
) -> PairSignals:
    """The pair's signals, seen from a. The hashes of a turned picture are not exactly the
    turned bits of its hashes, so (a, b) and (b, a) could differ by a bit: the pair is always
    measured from the side whose hashes sort first, and a scan (whichever file it lists first)
    and `compare` get the same signals."""
    if hashes_b.tobytes() < hashes_a.tobytes():
        return reversed_signals(_measure(hashes_b, hashes_a, info_b, info_a, vec_b, vec_a))
    return _measure(hashes_a, hashes_b, info_a, info_b, vec_a, vec_b)


def _measure(
    hashes_a: NDArray[np.uint8],
    hashes_b: NDArray[np.uint8],
    info_a: ImageInfo,
    info_b: ImageInfo,
    vec_a: NDArray[np.float32] | None,
    vec_b: NDArray[np.float32] | None,
) -> PairSignals:
    orientation, _ = best_orientation(hashes_a, hashes_b)
    phash, dhash, whash = distances_at(hashes_a, hashes_b, orientation)
    aspect_b = 1.0 / info_b.aspect if orientation in QUARTER_TURNS else info_b.aspect
    cosine = None
    if vec_a is not None and vec_b is not None:
        cosine = float(np.clip(np.dot(vec_a, vec_b), -1.0, 1.0))
    return PairSignals(
        phash=phash,
        dhash=dhash,
        whash=whash,
        orientation=orientation,
        cosine=cosine,
        aspect_log_ratio=abs(math.log(info_a.aspect / aspect_b)),
        area_log_ratio=abs(math.log(max(info_a.pixels, 1) / max(info_b.pixels, 1))),
        short_side=min(info_a.width, info_a.height, info_b.width, info_b.height),
    )


def _required(value: float | int | None, name: str) -> float:
    if value is None:
        raise ValueError(f"signal {name!r} was not measured for this pair")
    return float(value)


SMALL_SIDE = 256  # pixels: below this short side, a picture counts as a thumbnail
TRUSTED_INLIERS = 15  # inliers below which a homography's inlier ratio is not evidence


def _hash_close(s: PairSignals) -> float:
    return math.exp(-(s.phash + s.dhash + s.whash) / 18.0)


# Every feature the decision model may use, by name; a calibration file lists the ones it uses.
# Hash distances are scaled to [0, 2] (32 bits = unrelated), so coefficients are comparable.
FEATURES: dict[str, Callable[[PairSignals], float]] = {
    "phash": lambda s: s.phash / 32.0,
    "dhash": lambda s: s.dhash / 32.0,
    "whash": lambda s: s.whash / 32.0,
    # Near-identical hashes are decisive whatever the embedding says (a rotated copy has a low
    # cosine but a 0-bit hash in its orientation): a saturating term lets a linear model say
    # so. One term over the three hashes, not three: they are so correlated that separate
    # terms get coefficients of opposite signs, which no one could read.
    "hash_close": lambda s: _hash_close(s),
    "cosine": lambda s: _required(s.cosine, "cosine"),
    # A thumbnail's embedding says little (a 64-px copy of a photo: cosine 0.6) and it has too
    # few keypoints to check, while its hashes still match bit for bit: how much the hashes
    # should count grows as the smaller picture shrinks below SMALL_SIDE.
    "hash_close_small": lambda s: (
        _hash_close(s) * max(0.0, math.log(SMALL_SIDE / max(s.short_side or SMALL_SIDE, 1)))
    ),
    # Spreads out the top of the cosine scale, where near-duplicates and look-alikes differ.
    "cosine_gap": lambda s: -math.log(1.0001 - _required(s.cosine, "cosine")),
    "aspect_log_ratio": lambda s: min(s.aspect_log_ratio, 2.0),
    "area_log_ratio": lambda s: min(s.area_log_ratio, 4.0),
    "rotated": lambda s: 1.0 if s.orientation else 0.0,
    "log_inliers": lambda s: math.log1p(_required(s.inliers, "inliers")),
    "inlier_ratio": lambda s: _required(s.inlier_ratio, "inlier_ratio"),
    # Many inliers *and* few outliers: a print-scan's 300 inliers at ratio 0.97 are decisive,
    # a look-alike's 40 at ratio 0.3 are not; log_inliers alone cannot tell them apart.
    # Below TRUSTED_INLIERS the ratio means nothing (RANSAC fits a homography to any 6-8
    # matches, all of them "inliers"): such a check counts as no clean geometry.
    "inlier_evidence": lambda s: (
        math.log1p(_required(s.inliers, "inliers")) * _required(s.inlier_ratio, "inlier_ratio")
        if _required(s.inliers, "inliers") >= TRUSTED_INLIERS
        else 0.0
    ),
    "gate_cosine_gap": lambda s: -math.log(1.0001 - _required(s.gate_cosine, "gate_cosine")),
    "coverage": lambda s: max(
        _required(s.coverage_ab, "coverage_ab"), _required(s.coverage_ba, "coverage_ba")
    ),
}


def feature_vector(signals: PairSignals, names: tuple[str, ...]) -> NDArray[np.float64]:
    return np.array([FEATURES[n](signals) for n in names], dtype=np.float64)


# The inverse of each orientation (only the two quarter turns are not their own inverse).
INVERSE_ORIENTATION = (0, 1, 2, 3, 5, 4, 6, 7)


def reversed_signals(signals: PairSignals) -> PairSignals:
    """The same measurements seen from b's side: (b, a) instead of (a, b)."""
    from dataclasses import replace

    return replace(
        signals,
        orientation=INVERSE_ORIENTATION[signals.orientation],
        coverage_ab=signals.coverage_ba,
        coverage_ba=signals.coverage_ab,
        detail_ab=signals.detail_ba,
        detail_ba=signals.detail_ab,
    )
