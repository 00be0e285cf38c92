"""The second, more expensive check for ambiguous pairs: local features + geometry.

A pair verifier works from what the decode workers cached for each picture (its local
features), never from the files: ``local_features`` runs once per picture where the picture is
decoded anyway, ``verify`` compares two cached descriptions. The one verifier today is ORB +
RANSAC homography: b's keypoints turned the way the hashes say it was, ratio-tested matches,
and a homography. Many inliers mean the two files show the same scene from the same viewpoint —
strong evidence for crops, overlays and colour edits that fool global signals. The homography
also tells how much of each picture the other covers: that is how the keeper rule knows which
file is the uncropped original.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ndid_desktop.engine.features.local import (
    DESCRIPTOR_BYTES,
    FORMAT_VERSION,
    LocalFeatureExtractor,
    LocalFeatures,
    Oriented,
    extract_local,
    oriented,
)
from ndid_desktop.engine.match.signals import INVERSE_ORIENTATION

RATIO: Final = 0.8
MIN_MATCHES: Final = 8
RANSAC_THRESHOLD: Final = 5.0  # pixels of the working image
RANSAC_ITERATIONS: Final = 1000
# Bump when results change: cached verifications are keyed by it. 4: from cached local
# features (b's keypoints turned, not re-detected on turned pixels), and the overlap no
# longer under-measured for copies whose outline runs along the frame (see _clip_to_frame).
VERSION: Final = 7


@dataclass(frozen=True)
class Verification:
    inliers: int
    inlier_ratio: float  # inliers / ratio-test matches
    coverage_ab: float  # share of a's area covered by b (mapped through the homography)
    coverage_ba: float
    # Texture of the part of a that b does not cover, relative to the part it does: about 1
    # when that part is photo (b is a crop), near 0 when it is a flat border, paper or UI.
    detail_ab: float = 1.0
    detail_ba: float = 1.0
    # False when either picture has too few keypoints to try (a thumbnail, a flat picture):
    # no evidence either way, so the pair is decided as if it had not been checked.
    measurable: bool = True

    def as_tuple(self) -> tuple[float, ...]:
        return (self.inliers, self.inlier_ratio, self.coverage_ab, self.coverage_ba,
                self.detail_ab, self.detail_ba, float(self.measurable))  # fmt: skip

    @staticmethod
    def from_tuple(values: tuple[float, ...]) -> Verification:
        inliers, ratio, cov_ab, cov_ba, det_ab, det_ba, measurable = values
        return Verification(int(inliers), ratio, cov_ab, cov_ba, det_ab, det_ba, bool(measurable))


NO_MATCH = Verification(0, 0.0, 0.0, 0.0)
TOO_FEW_KEYPOINTS = Verification(0, 0.0, 0.0, 0.0, measurable=False)
FAILURE_EXAMPLES = 3  # pairs a warning names; the rest are counted


@dataclass(frozen=True)
class CheckFailed:
    """A pair whose keypoint check raised. The pair is left unverified; the scan goes on."""

    reason: str

    @staticmethod
    def of(exc: BaseException) -> CheckFailed:
        text = " ".join(str(exc).split())  # OpenCV's messages span lines
        return CheckFailed(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


@dataclass(frozen=True)
class VerificationFailure:
    path_a: str
    path_b: str
    reason: str


def failure_warning(failures: Sequence[VerificationFailure]) -> tuple[str, ...]:
    """One line for the scan's warnings, or none when every check ran."""
    if not failures:
        return ()
    named = "; ".join(f"{f.path_a} & {f.path_b} ({f.reason})" for f in failures[:FAILURE_EXAMPLES])
    more = len(failures) - FAILURE_EXAMPLES
    tail = f"; and {more} more" if more > 0 else ""
    noun = "pair" if len(failures) == 1 else "pairs"
    return (f"keypoint check failed for {len(failures)} {noun} (left unverified): {named}{tail}",)


class PairVerifier(LocalFeatureExtractor, Protocol):
    """A second check of a pair of pictures from their cached local features.

    ``local_features`` runs in the decode workers on the decoded picture; ``verify`` runs in
    the verification workers on two of its results and must not touch the files. Instances
    travel to worker processes, so they must pickle."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> int:
        """Keys the cached verifications: bump when ``verify``'s results change."""
        ...

    def verify(self, a: bytes, b: bytes, orientation: int) -> Verification:
        """a against b turned by hashes.ORIENTATIONS[orientation] (which maps b onto a)."""
        ...


def verification_key(verifier: PairVerifier) -> str:
    """What cached verifications are keyed by."""
    return f"{verifier.name}@{verifier.version}"


@dataclass(frozen=True)
class OrbHomography:
    """ORB keypoints, ratio-tested brute-force matches and a RANSAC homography."""

    @property
    def name(self) -> str:
        return "orb-homography"

    @property
    def version(self) -> int:
        return VERSION

    @property
    def features_key(self) -> str:
        return f"orb@{FORMAT_VERSION}"

    def local_features(self, image: Image.Image) -> bytes:
        return extract_local(image).to_bytes()

    def verify(self, a: bytes, b: bytes, orientation: int) -> Verification:
        # Matching is one-sided (b's keypoints look for a's) and RANSAC samples the matches, so
        # (a, b) and (b, a) can differ by a few inliers. The check always runs from the side
        # whose features sort first: a scan, whichever file it lists first, and `compare`
        # then measure the same thing.
        if b < a:
            turned = INVERSE_ORIENTATION[orientation]
            return swapped(
                match_features(LocalFeatures.from_bytes(b), LocalFeatures.from_bytes(a), turned)
            )
        return match_features(LocalFeatures.from_bytes(a), LocalFeatures.from_bytes(b), orientation)


def swapped(v: Verification) -> Verification:
    """The same check seen from the other picture's side."""
    return Verification(
        v.inliers,
        v.inlier_ratio,
        v.coverage_ba,
        v.coverage_ab,
        v.detail_ba,
        v.detail_ab,
        v.measurable,
    )


ORB_HOMOGRAPHY: Final = OrbHomography()
# The verifiers a model set may name (model_sets.ModelSet.verifier).
VERIFIERS: Final[Mapping[str, PairVerifier]] = {ORB_HOMOGRAPHY.name: ORB_HOMOGRAPHY}


def match_features(a: LocalFeatures, b: LocalFeatures, orientation: int) -> Verification:
    """Geometric verification of a against b turned by ``orientation``."""
    fit = _fit(a, b, orientation)
    return fit if isinstance(fit, Verification) else _measured(fit)


@dataclass(frozen=True, eq=False)
class _Fit:
    """A check's matches and the homography RANSAC found for them."""

    side_a: Oriented
    side_b: Oriented
    src: NDArray[np.float32]  # (N, 1, 2): ratio-tested matches in b's turned frame
    dst: NDArray[np.float32]  # (N, 1, 2): the same matches in a's frame
    mask: NDArray[np.bool_]  # (N,): RANSAC's inliers
    homography: NDArray[np.float64]  # b's turned frame onto a's
    inverse: NDArray[np.float64]


def _fit(a: LocalFeatures, b: LocalFeatures, orientation: int) -> _Fit | Verification:
    """The matches and their homography, or the check's result when there is none."""
    import cv2

    side_a, side_b = oriented(a, 0), oriented(b, orientation)
    kp_a, kp_b = side_a.keypoints, side_b.keypoints
    if len(kp_a) < MIN_MATCHES or len(kp_b) < MIN_MATCHES:
        return TOO_FEW_KEYPOINTS
    distances, nearest = _two_nearest(kp_b.descriptors, kp_a.descriptors)
    good = np.flatnonzero(distances[:, 0] < RATIO * distances[:, 1])
    if len(good) < MIN_MATCHES:
        return NO_MATCH
    src = kp_b.points[good].reshape(-1, 1, 2)
    dst = kp_a.points[nearest[good, 0]].reshape(-1, 1, 2)
    # OpenCV returns (None, None) when RANSAC finds no model, which its stubs do not declare.
    found: tuple[Any, Any] = cv2.findHomography(
        src, dst, cv2.RANSAC, RANSAC_THRESHOLD, maxIters=RANSAC_ITERATIONS
    )
    if found[0] is None or found[1] is None:
        return NO_MATCH
    homography = np.asarray(found[0], dtype=np.float64)
    try:
        inverse = np.asarray(np.linalg.inv(homography), dtype=np.float64)
    except np.linalg.LinAlgError:
        return NO_MATCH
    mask = np.asarray(found[1]).reshape(-1).astype(bool)
    return _Fit(side_a, side_b, src, dst, mask, homography, inverse)


def _measured(fit: _Fit) -> Verification:
    """The check's signals from its fit: inliers, and how much each picture covers of the
    other."""
    side_a, side_b = fit.side_a, fit.side_b
    inliers = int(fit.mask.sum())
    b_in_a = _outline(side_b, fit.homography)
    a_in_b = _outline(side_a, fit.inverse)
    coverage_ab = _overlap(b_in_a, side_a)
    coverage_ba = _overlap(a_in_b, side_b)
    return Verification(
        inliers,
        inliers / len(fit.mask),
        coverage_ab,
        coverage_ba,
        _detail_outside(side_a, b_in_a, coverage_ab),
        _detail_outside(side_b, a_in_b, coverage_ba),
    )


@dataclass(frozen=True, eq=False)
class Correspondences:
    """The evidence behind one check: its inlier matches, each point in its own picture's
    working frame (local.py: the decoded picture, the right way up, reduced to VERIFY_SIDE;
    b *not* turned), and the homography that maps b's working frame onto a's."""

    points_a: NDArray[np.float32]  # (N, 2): x, y
    points_b: NDArray[np.float32]  # (N, 2): the same N matches in b
    homography: NDArray[np.float64] | None  # None when the check found no model
    verification: Verification  # exactly what ``OrbHomography.verify`` returns for the call
    working_a: tuple[int, int]  # (width, height) of each working frame
    working_b: tuple[int, int]


def correspondences(a: bytes, b: bytes, orientation: int) -> Correspondences:
    """The inlier matches behind ``ORB_HOMOGRAPHY.verify(a, b, orientation)``: the same check,
    run from the same side, so these are the points its inlier count counted."""
    if b < a:  # verify's canonical side: see OrbHomography.verify
        turned = INVERSE_ORIENTATION[orientation]
        seen = _correspond(LocalFeatures.from_bytes(b), LocalFeatures.from_bytes(a), turned)
        return _swapped_correspondences(seen)
    return _correspond(LocalFeatures.from_bytes(a), LocalFeatures.from_bytes(b), orientation)


def _correspond(a: LocalFeatures, b: LocalFeatures, orientation: int) -> Correspondences:
    sizes = (a.width, a.height), (b.width, b.height)
    fit = _fit(a, b, orientation)
    if isinstance(fit, Verification):
        none = np.zeros((0, 2), np.float32)
        return Correspondences(none, none.copy(), None, fit, *sizes)
    points_a = fit.dst.reshape(-1, 2)[fit.mask]
    turned = fit.src.reshape(-1, 2)[fit.mask].astype(np.float64)
    back = fit.side_b.to_picture  # b's turned frame -> its own
    points_b = turned @ back[:2, :2].T + back[:2, 2]
    homography = fit.homography @ np.linalg.inv(back)  # b's own frame -> a's
    return Correspondences(
        np.asarray(points_a, np.float32),
        np.asarray(points_b, np.float32),
        homography,
        _measured(fit),
        *sizes,
    )


def _swapped_correspondences(c: Correspondences) -> Correspondences:
    """The same correspondences seen from the other picture's side."""
    inverse = None if c.homography is None else np.asarray(np.linalg.inv(c.homography))
    return Correspondences(
        c.points_b, c.points_a, inverse, swapped(c.verification), c.working_b, c.working_a
    )


def _two_nearest(
    query: NDArray[np.uint8], train: NDArray[np.uint8]
) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Hamming distances to, and indices of, each query descriptor's two nearest train
    descriptors: what BFMatcher.knnMatch(query, train, k=2) finds, as arrays. (Where the
    ratio test passes, the nearest is unique, so how either breaks ties does not matter.)

    faiss's flat binary index on one thread takes ~1 ms for 1000 x 1000, OpenCV 3.5 ms on two
    threads and 7 ms on one. One thread: the pool already runs one worker per core, and a
    second OpenMP thread under load stalled a search for 0.36 s. The thread count is the
    calling thread's own OpenMP setting, put back afterwards."""
    import faiss

    index = faiss.IndexBinaryFlat(DESCRIPTOR_BYTES * 8)
    index.add(train)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        distances, nearest = index.search(query, 2)
    finally:
        faiss.omp_set_num_threads(threads)
    return np.asarray(distances, np.int32), np.asarray(nearest, np.int64)


def _frame(side: Oriented) -> NDArray[np.float32]:
    return np.array(
        [[0, 0], [side.width, 0], [side.width, side.height], [0, side.height]], dtype=np.float32
    )


def _outline(side: Oriented, h: NDArray[np.float64]) -> NDArray[np.float32]:
    """The picture's frame mapped through ``h`` into the other picture."""
    import cv2

    corners = _frame(side).reshape(-1, 1, 2)
    return np.asarray(cv2.perspectiveTransform(corners, h), dtype=np.float32)


def _overlap(polygon: NDArray[np.float32], side: Oriented) -> float:
    """Share of the frame of ``side`` inside ``polygon`` (0 for a degenerate mapping)."""
    import cv2

    poly = polygon.reshape(-1, 2).astype(np.float32)
    if not cv2.isContourConvex(poly):
        return 0.0
    clipped = _clip_to_frame(poly.astype(np.float64).tolist(), side.width, side.height)
    # Rounded: a picture checked against its identical copy covers it 1.0, not 1 - 1e-16.
    return round(float(np.clip(_area(clipped) / float(side.width * side.height), 0.0, 1.0)), 4)


def _clip_to_frame(points: list[list[float]], width: float, height: float) -> list[list[float]]:
    """A convex polygon cut to the frame [0, width] x [0, height] (Sutherland-Hodgman).

    Not OpenCV's intersectConvexConvex: given the near-identity homography of a recompressed
    or greyscale copy, whose outline runs along the frame's own edges, it measured as little
    as a quarter of the overlap. Here a point on an edge simply counts as inside."""
    for axis, bound, sign in ((0, 0.0, 1.0), (0, width, -1.0), (1, 0.0, 1.0), (1, height, -1.0)):
        points = _clip_half_plane(points, axis, bound, sign)
    return points


def _clip_half_plane(
    points: list[list[float]], axis: int, bound: float, sign: float
) -> list[list[float]]:
    """The part of the polygon where sign * (p[axis] - bound) >= 0."""
    kept: list[list[float]] = []
    for start, end in zip(points[-1:] + points[:-1], points, strict=True):
        start_in = sign * (start[axis] - bound) >= 0
        end_in = sign * (end[axis] - bound) >= 0
        if start_in != end_in:
            t = (bound - start[axis]) / (end[axis] - start[axis])
            kept.append([start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])])
        if end_in:
            kept.append(end)
    return kept


def _area(points: list[list[float]]) -> float:
    if len(points) < 3:
        return 0.0
    xy = np.asarray(points, dtype=np.float64)
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _detail_outside(side: Oriented, polygon: NDArray[np.float32], covered: float) -> float:
    """How much picture lies outside ``polygon``, relative to inside it: about 1 when the
    outside is more of the same photo (the other file is a crop), near 0 when it is a flat
    border, margin, paper or app window around it (the other file was framed).

    Measured as the share of textured pixels (local contrast above a few grey levels) outside
    against inside; relative, so a dark night sky around a crop of an astronomy photo still
    counts as picture, and smoothed, so scanner noise on a paper margin does not. The texture
    map is in the picture's own frame, so the polygon goes back there first (the shares do
    not depend on the frame they are counted in)."""
    import cv2

    if 1.0 - covered < 0.03 or not len(side.keypoints):
        return 1.0  # nothing (or nearly nothing) lies outside: no evidence either way
    margin = max(2, int(0.02 * float(np.hypot(side.width, side.height))))  # the paste edge
    corners = polygon.reshape(-1, 2).astype(np.float64) @ side.to_picture[:2, :2].T
    corners += side.to_picture[:2, 2]
    features = side.features
    inside = np.zeros((features.height, features.width), dtype=np.uint8)
    cv2.fillConvexPoly(inside, np.round(corners).astype(np.int32), 1)
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    outside = cv2.dilate(inside, kernel) == 0
    core = cv2.erode(inside, kernel) > 0
    if outside.mean() < 0.02 or core.mean() < 0.02:
        return 1.0
    textured = features.textured
    inner = float(textured[core].mean())
    return float(textured[outside].mean()) / max(inner, 0.02)
