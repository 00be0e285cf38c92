"""Stage 7: which file of a group is the original, and why, in one sentence.

The order, strongest first: a file in a reference folder; the file that contains the others (a
crop covers only part of its original); the higher resolution; the less compressed (JPEG
quality, then bytes per pixel); the one with camera EXIF; the older file; then the path, so
ties always break the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ndid_desktop.engine.types import FileEntry, ImageInfo, PairSignals

# b is a crop of a when b spans less than this share of a, a spans nearly all of b, and the part
# of a outside b is real picture (keypoints about as dense as elsewhere), not a flat frame.
# b is a framed copy of a (border, screenshot, scanned page) in the mirror case, when the part of
# b outside a is flat. Measured on the dev photos (texture outside / inside, verify.py): borders,
# paper margins and rotation corners 0.0-0.09, app windows 0.07-0.49, the photo around a crop
# 0.3-1.4 but the dark sky around a crop of an astronomy photo 0.0-0.11. So only clear cases
# decide; between the two thresholds the rest of the keeper rule does.
CROP_COVERAGE = 0.92
FULL_COVERAGE = 0.95
MIN_DETAIL = 0.3
FLAT_DETAIL = 0.15
LOSSLESS = frozenset({"PNG", "TIFF", "BMP", "RAW"})


@dataclass(frozen=True)
class Candidate:
    index: int
    entry: FileEntry
    info: ImageInfo


@dataclass(frozen=True)
class Geometry:
    """How pictures a and b overlap, seen from a (from the verifier's homography)."""

    a_covered: float  # share of a that b covers
    b_covered: float  # share of b that a covers
    a_detail_outside: float  # keypoint density of a outside b, relative to a's average
    b_detail_outside: float

    @staticmethod
    def of(s: PairSignals) -> Geometry | None:
        if s.coverage_ab is None or s.coverage_ba is None:
            return None
        return Geometry(
            s.coverage_ab,
            s.coverage_ba,
            1.0 if s.detail_ab is None else s.detail_ab,
            1.0 if s.detail_ba is None else s.detail_ba,
        )

    def derivation(self) -> str | None:
        """'crop' or 'frame' when b was made from a by cropping it or by framing it (border,
        letterbox, screenshot, paper); None when neither holds."""
        if (
            self.a_covered < CROP_COVERAGE
            and self.b_covered >= FULL_COVERAGE
            and self.a_detail_outside >= MIN_DETAIL
        ):
            return "crop"
        if (
            self.b_covered < CROP_COVERAGE
            and self.a_covered >= FULL_COVERAGE
            and self.b_detail_outside < FLAT_DETAIL
        ):
            return "frame"
        return None


# geometry(i, j): how candidates i and j overlap seen from i, or None when it cannot be measured
GeometryFn = Callable[[int, int], Geometry | None]


def _quality(c: Candidate) -> float:
    if c.info.format in LOSSLESS:
        return 100.0
    if c.info.jpeg_quality is not None:
        return float(c.info.jpeg_quality)
    return 90.0  # WebP/HEIC: no comparable quality scale; treat as a good JPEG


def _quality_class(c: Candidate) -> int:
    # Above JPEG quality 90 the eye sees no difference, and a PNG made from a JPEG is no better
    # than it: such files tie here, and the camera EXIF and the older date decide instead.
    return int(min(_quality(c), 90.0) // 10)


# Aspect ratios cameras and phones write (either way up). A picture far from all of them was
# usually cropped or stretched, so at otherwise equal standing it is not the original.
CAMERA_ASPECTS = (1.0, 5 / 4, 4 / 3, 3 / 2, 16 / 9)


def aspect_oddness(info: ImageInfo) -> int:
    """0 for a camera aspect ratio, growing in steps of ~5% away from the nearest one."""
    ratio = max(info.aspect, 1 / info.aspect) if info.aspect > 0 else 1.0
    distance = min(abs(math.log(ratio / a)) for a in CAMERA_ASPECTS)
    return 0 if distance < 0.03 else int(distance / 0.05) + 1


def static_key(c: Candidate) -> tuple[object, ...]:
    return (
        not c.entry.reference,
        aspect_oddness(c.info),
        -c.info.pixels,
        -_quality_class(c),
        c.info.camera is None,
        c.entry.mtime_ns,
        -c.entry.size,
        len(c.entry.path),
        c.entry.path,
    )


def choose_keeper(members: Sequence[Candidate], geometry: GeometryFn) -> tuple[Candidate, str]:
    """The original of ``members`` and the reason, as a sentence for the report."""
    ranked = sorted(members, key=static_key)
    keeper = ranked[0]
    if not keeper.entry.reference:
        keeper = _walk_to_source(keeper, ranked, geometry)
    return keeper, keeper_reason(keeper, ranked, geometry)


def _derivation(geometry: GeometryFn, source: Candidate, copy: Candidate) -> str | None:
    g = geometry(source.index, copy.index)
    return g.derivation() if g is not None else None


def _walk_to_source(
    keeper: Candidate, ranked: Sequence[Candidate], geometry: GeometryFn
) -> Candidate:
    # Move to a member that keeper was cropped or framed from, while there is one; bounded,
    # since a cycle would need two files each cropped from the other.
    for _ in range(len(ranked)):
        source = next(
            (o for o in ranked if o is not keeper and _derivation(geometry, o, keeper)), None
        )
        if source is None:
            return keeper
        keeper = source
    return keeper


def keeper_reason(keeper: Candidate, group: Sequence[Candidate], geometry: GeometryFn) -> str:
    """Why ``keeper`` is kept over the other files of ``group``: the files the group has in
    the end, so that every count in the sentence is a count of its members."""
    ranked = sorted(group, key=static_key)
    others = [c for c in ranked if c.index != keeper.index]
    if keeper.entry.reference:
        return "kept: it is in a reference folder, which is never cleaned"
    derived = [_derivation(geometry, keeper, c) for c in others]
    crops, frames = derived.count("crop"), derived.count("frame")
    if crops or frames:
        parts = []
        if crops:
            parts.append(f"{crops} other file{'s are crops' if crops > 1 else ' is a crop'} of it")
        if frames:
            parts.append(
                f"{frames} other file{'s show' if frames > 1 else ' shows'} it inside a border, "
                "screen or page"
            )
        return "kept: the uncropped original; " + " and ".join(parts)
    if any(aspect_oddness(keeper.info) < aspect_oddness(c.info) for c in others):
        return "kept: a camera's aspect ratio; the others look cropped or stretched"
    if all(keeper.info.pixels > c.info.pixels for c in others):
        return f"kept: the highest resolution ({keeper.info.width}x{keeper.info.height})"
    same_res = [c for c in others if c.info.pixels == keeper.info.pixels]
    if same_res and all(_quality_class(keeper) > _quality_class(c) for c in same_res):
        if keeper.info.format in LOSSLESS:
            return f"kept: same resolution, lossless {keeper.info.format}"
        return f"kept: same resolution, least compressed (JPEG quality {keeper.info.jpeg_quality})"
    if keeper.info.camera and any(c.info.camera is None for c in same_res):
        return f"kept: same picture and size, and it has the camera's EXIF ({keeper.info.camera})"
    if same_res and all(keeper.entry.mtime_ns < c.entry.mtime_ns for c in same_res):
        return "kept: same resolution and quality; the oldest file, so likely the first copy"
    return "kept: equal in resolution, quality and date; the largest file (ties broken by path)"
