"""Plain-language explanations of pair decisions, for reports and `ndid compare`."""

from __future__ import annotations

import math

from .hashes import ORIENTATIONS
from .keeper import CROP_COVERAGE
from .types import ImageInfo, PairSignals


def describe_edit(signals: PairSignals, original: ImageInfo, copy: ImageInfo) -> list[str]:
    """What seems to have been done to ``copy``, from the signals (best effort, not certainty)."""
    notes: list[str] = []
    if signals.orientation:
        notes.append(ORIENTATIONS[signals.orientation][0])
    if signals.coverage_ab is not None and signals.coverage_ab < CROP_COVERAGE:
        notes.append(f"cropped to about {signals.coverage_ab:.0%} of the picture")
    if signals.area_log_ratio > 0.05:
        scale = math.sqrt(copy.pixels / max(original.pixels, 1))
        notes.append(f"resized to {scale:.0%}" if scale < 1 else f"enlarged {scale:.1f}x")
    if signals.aspect_log_ratio > 0.03 and (
        signals.coverage_ab is None or signals.coverage_ab >= CROP_COVERAGE
    ):
        notes.append("aspect ratio changed")
    if copy.format != original.format:
        notes.append(f"converted {original.format} to {copy.format}")
    elif (
        copy.jpeg_quality is not None
        and original.jpeg_quality is not None
        and copy.jpeg_quality + 5 < original.jpeg_quality
    ):
        notes.append(f"recompressed (JPEG quality {copy.jpeg_quality})")
    return notes


def evidence(signals: PairSignals) -> str:
    parts = [f"pHash {signals.phash}/64 bits apart"]
    if signals.cosine is not None:
        parts.append(f"embedding cosine {signals.cosine:.3f}")
    if signals.inliers is not None:
        parts.append(f"{signals.inliers} keypoints agree geometrically")
    return ", ".join(parts)


def pair_reason(
    signals: PairSignals, probability: float, original: ImageInfo, copy: ImageInfo, gated: bool
) -> str:
    edits = describe_edit(signals, original, copy)
    head = f"same picture ({probability:.0%})"
    if edits:
        head += ": " + ", ".join(edits)
    checked = "; checked by keypoint geometry" if gated and signals.inliers is not None else ""
    return f"{head} [{evidence(signals)}{checked}]"
