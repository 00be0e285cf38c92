"""Plain-language explanations of pair decisions, for reports and `ndid compare`."""

from __future__ import annotations

import math
from dataclasses import replace

from ndid_desktop.engine.features.hashes import ORIENTATIONS
from ndid_desktop.engine.groups.derivation import COLOUR, GREY
from ndid_desktop.engine.types import ImageInfo, PairSignals

# A copy that covers less than this share of the original is described as a crop of it.
CROP_COVERAGE = 0.92
# Texture outside the shared part below this (relative to inside) is a flat surround
# (verify.py's measurements: borders, paper, rotation corners 0.0-0.09; app windows to 0.49).
FLAT = 0.5


def describe_edit(signals: PairSignals, original: ImageInfo, copy: ImageInfo) -> list[str]:
    """What seems to have been done to ``copy``, from the signals (best effort, not certainty)."""
    notes: list[str] = []
    if not signals.inliers and signals.coverage_ab is not None:
        # The keypoint check ran and found no geometry: its zero coverage is no crop.
        signals = replace(signals, coverage_ab=None, coverage_ba=None)
    if signals.orientation:
        notes.append(ORIENTATIONS[signals.orientation][0])
    if signals.coverage_ab is not None and signals.coverage_ab < CROP_COVERAGE:
        notes.append(f"cropped to about {signals.coverage_ab:.0%} of the picture")
    wider = (
        signals.coverage_ba is not None
        and signals.coverage_ba < CROP_COVERAGE
        and (signals.coverage_ab or 0.0) >= 0.95
    )
    # What the copy adds around the picture: flat (a border, page, window) or more picture.
    framed = wider and (signals.detail_ba if signals.detail_ba is not None else 0.0) < FLAT
    if framed:
        notes.append("shown inside a border, page or window")
    elif wider:
        notes.append(f"shows more of the picture (the other is about {signals.coverage_ba:.0%})")
    # Compare the parts both files show: a crop is no downscale and a border no enlargement.
    shown = original.pixels * (signals.coverage_ab or 1.0)
    content = copy.pixels * (signals.coverage_ba or 1.0)
    scale = math.sqrt(content / max(shown, 1.0))
    if abs(math.log(scale)) > 0.025:
        notes.append(f"resized to {scale:.0%}" if scale < 1 else f"enlarged {scale:.1f}x")
    if (
        signals.aspect_log_ratio > 0.03
        and not framed
        and (signals.coverage_ab is None or signals.coverage_ab >= CROP_COVERAGE)
    ):
        notes.append("aspect ratio changed")
    if (original.chroma or 0.0) > COLOUR and copy.chroma is not None and copy.chroma < GREY:
        notes.append("greyscale")
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
