"""The matched keypoints behind a pair's keypoint check, for a person to look at.

The points are the scan's own evidence: each file is decoded and its local features extracted
exactly as the scan's decode workers do (features/extract.py), the orientation is the one the
scan's signals pick from the hashes (match/signals.measure), and the matches are the inliers of
the same ORB + RANSAC check (match/verify.correspondences, run from the same canonical side),
so the count shown is the count the decision read. Only the coordinates change: from the
verifier's working frame (at most 512 px) to each file's pixels as it is shown, its full size
after EXIF orientation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.config import MAX_DECODE_BYTES
from ndid_desktop.engine.features.extract import Extracted, extract
from ndid_desktop.engine.files.decode import DecodeError
from ndid_desktop.engine.match.signals import TRUSTED_INLIERS, measure
from ndid_desktop.engine.match.verify import ORB_HOMOGRAPHY, correspondences

MAX_LINES: Final = 150  # more lines than this hide the pictures under them
GRID: Final = 8  # cells a side: the lines kept are taken from every cell in turn


@dataclass(frozen=True, eq=False)
class PointMatches:
    """A pair's verified keypoint correspondences, in each file's pixels as shown."""

    size_a: tuple[int, int]  # (width, height): a's full size after EXIF orientation
    size_b: tuple[int, int]
    points_a: NDArray[np.float32]  # (n, 2) x, y; n <= the cap, spread over the overlap
    points_b: NDArray[np.float32]  # (n, 2): the same n matches in b
    homography: NDArray[np.float64] | None  # 3x3: b's pixel coordinates onto a's; None if none
    inliers: int  # the check's inlier count: all of them, not only the points kept
    inlier_ratio: float  # inliers / ratio-tested matches
    orientation: int  # hashes.ORIENTATIONS: the turn of b tried, the one that maps b onto a
    measurable: bool  # False when either picture has too few keypoints to try

    @property
    def trusted(self) -> bool:
        """Enough inliers for clean geometry: below, RANSAC fits any handful of matches, and
        the decision's inlier_evidence ignores the check (signals.TRUSTED_INLIERS)."""
        return self.inliers >= TRUSTED_INLIERS


def match_points(
    path_a: str,
    path_b: str,
    max_decode_bytes: int = MAX_DECODE_BYTES,
    max_lines: int = MAX_LINES,
) -> PointMatches:
    """The keypoint check a scan makes for the two files, with its inliers. Decodes both
    files once, as a scan does; raises DecodeError when either cannot be read."""
    a, b = (_extract(path, max_decode_bytes) for path in (path_a, path_b))
    assert a.info and b.info and a.hashes is not None and b.hashes is not None  # checked
    orientation = measure(a.hashes, b.hashes, a.info, b.info, None, None).orientation
    return matches_from_features(
        a.local or b"",
        b.local or b"",
        (a.info.width, a.info.height),
        (b.info.width, b.info.height),
        orientation,
        max_lines,
    )


def matches_from_features(
    local_a: bytes,
    local_b: bytes,
    size_a: tuple[int, int],
    size_b: tuple[int, int],
    orientation: int,
    max_lines: int = MAX_LINES,
) -> PointMatches:
    """The same from two cached local-feature blobs, each file's shown size and the pair's
    orientation (PairSignals.orientation). Raises ValueError for damaged features."""
    found = correspondences(local_a, local_b, orientation)
    to_a, to_b = _scaling(found.working_a, size_a), _scaling(found.working_b, size_b)
    keep = spread(found.points_a, found.working_a, max_lines)
    homography = None
    if found.homography is not None:
        homography = to_a @ found.homography @ np.linalg.inv(to_b)
        homography /= homography[2, 2] if homography[2, 2] else 1.0
    check = found.verification
    return PointMatches(
        size_a=size_a,
        size_b=size_b,
        points_a=_apply(to_a, found.points_a[keep]),
        points_b=_apply(to_b, found.points_b[keep]),
        homography=homography,
        inliers=check.inliers,
        inlier_ratio=check.inlier_ratio,
        orientation=orientation,
        measurable=check.measurable,
    )


def spread(points: NDArray[np.float32], size: tuple[int, int], limit: int) -> NDArray[np.int64]:
    """Indices (ascending) of at most ``limit`` of the points, taken from the cells of a
    GRID x GRID grid over the frame in turn, so the lines cover the whole overlap instead of
    crowding its most textured corner."""
    count = len(points)
    if count <= limit:
        return np.arange(count, dtype=np.int64)
    width, height = max(size[0], 1), max(size[1], 1)
    column = np.clip((points[:, 0] * GRID / width).astype(np.int64), 0, GRID - 1)
    row = np.clip((points[:, 1] * GRID / height).astype(np.int64), 0, GRID - 1)
    cell = row * GRID + column
    by_cell = np.argsort(cell, kind="stable")
    sorted_cells = cell[by_cell]
    rank = np.arange(count) - np.searchsorted(sorted_cells, sorted_cells, side="left")
    # First every cell's first point, then every cell's second, ...
    turns = by_cell[np.lexsort((sorted_cells, rank))]
    return np.sort(turns[: max(limit, 0)])


def _scaling(working: tuple[int, int], shown: tuple[int, int]) -> NDArray[np.float64]:
    """3x3: the working frame's pixel coordinates onto the shown file's (pixel centres onto
    pixel centres; the working image is the shown one reduced, so only the scale differs)."""
    sx = shown[0] / max(working[0], 1)
    sy = shown[1] / max(working[1], 1)
    return np.array(
        [[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]], dtype=np.float64
    )


def _apply(matrix: NDArray[np.float64], points: NDArray[np.float32]) -> NDArray[np.float32]:
    moved = points.astype(np.float64) @ matrix[:2, :2].T + matrix[:2, 2]
    return np.asarray(moved, dtype=np.float32).reshape(-1, 2)


def _extract(path: str, max_decode_bytes: int) -> Extracted:
    # What a scan's decode worker computes for the file (no embedding: the check needs none).
    result = extract(path, None, max_decode_bytes, ORB_HOMOGRAPHY)
    if result.error is not None:
        raise DecodeError(f"{path}: {result.error}")
    return result
