"""The second, more expensive check for ambiguous pairs: local features + geometry.

ORB keypoints on both pictures (b first turned the way the hashes say it was), ratio-tested
matches, and a RANSAC homography. Many inliers mean the two files show the same scene from the
same viewpoint — strong evidence for crops, overlays and colour edits that fool global signals.
The homography also tells how much of each picture the other covers: that is how the keeper
rule knows which file is the uncropped original.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.features.hashes import ORIENTATIONS
from ndid_desktop.engine.files.decode import decode

if TYPE_CHECKING:  # scoring imports this module; these names are for the checker only
    from concurrent.futures import Executor, Future

    from ndid_desktop.engine.config import ScanConfig
    from ndid_desktop.engine.match.scoring import PairScorer
    from ndid_desktop.engine.progress import CancelToken, ProgressCallback
    from ndid_desktop.engine.types import FileEntry

VERIFY_SIDE = 512  # long side the verifier works at: enough keypoints, cheap to decode
ORB_FEATURES = 1000  # matching cost grows with the square; 1500 doubled it for no decisions
RATIO = 0.8
ORB_EDGE = 31  # OpenCV's default edge threshold and patch size: no keypoint lies nearer an edge
# A side shorter than this leaves no room for a single keypoint. On a 1-pixel side OpenCV would
# not even say so: its scale pyramid asks resize for a zero-size level and raises.
MIN_KEYPOINT_SIDE = 2 * ORB_EDGE + 1
MIN_MATCHES = 8
VERSION = 3  # bump when results change: cached verifications are keyed by it
TEXTURE_LEVEL = 4.0  # local standard deviation (grey levels) above which a pixel is 'picture'


@dataclass(frozen=True)
class Verification:
    inliers: int
    inlier_ratio: float  # inliers / ratio-test matches
    coverage_ab: float  # share of a's area covered by b (mapped through the homography)
    coverage_ba: float
    # Keypoint density of the part of a that b does not cover, relative to a's average: about 1
    # when that part is photo (b is a crop), near 0 when it is a flat border, paper or UI.
    detail_ab: float = 1.0
    detail_ba: float = 1.0

    def as_tuple(self) -> tuple[float, ...]:
        return (self.inliers, self.inlier_ratio, self.coverage_ab, self.coverage_ba,
                self.detail_ab, self.detail_ba)  # fmt: skip

    @staticmethod
    def from_tuple(values: tuple[float, ...]) -> Verification:
        inliers, ratio, cov_ab, cov_ba, det_ab, det_ba = values
        return Verification(int(inliers), ratio, cov_ab, cov_ba, det_ab, det_ba)


NO_MATCH = Verification(0, 0.0, 0.0, 0.0)
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


@dataclass(frozen=True)
class Keypoints:
    """A picture ready for matching: grey pixels, ORB keypoints and their descriptors."""

    grey: NDArray[np.uint8]
    points: Sequence[Any]  # cv2.KeyPoint
    descriptors: NDArray[np.uint8] | None


def detect(grey: NDArray[np.uint8]) -> Keypoints:
    import cv2

    if min(grey.shape[:2]) < MIN_KEYPOINT_SIDE:
        return Keypoints(grey, (), None)  # a spacer, icon or strip: no geometry to compare
    orb = cv2.ORB.create(nfeatures=ORB_FEATURES, edgeThreshold=ORB_EDGE, patchSize=ORB_EDGE)
    points, descriptors = orb.detectAndCompute(grey, None)
    return Keypoints(
        grey, points, None if descriptors is None else np.asarray(descriptors, np.uint8)
    )


def load_grey(path: str) -> NDArray[np.uint8]:
    image = decode(path, min_side=VERIFY_SIDE // 2).image
    image.thumbnail((VERIFY_SIDE, VERIFY_SIDE))
    return np.asarray(image.convert("L"), dtype=np.uint8)


class KeypointCache:
    """An LRU of detected pictures: one picture is often in many pairs, and decoding plus
    detection cost several times more than matching."""

    def __init__(self, capacity: int = 256) -> None:
        self._items: OrderedDict[tuple[str, int], Keypoints] = OrderedDict()
        self._capacity = capacity

    def get(self, path: str, orientation: int = 0) -> Keypoints:
        key = (path, orientation)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        grey = orient(load_grey(path), orientation)
        found = self._items[key] = detect(grey)
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return found


def orient(grey: NDArray[np.uint8], orientation: int) -> NDArray[np.uint8]:
    from PIL import Image

    transpose = ORIENTATIONS[orientation][1]
    if transpose is None:
        return grey
    return np.asarray(Image.fromarray(grey).transpose(transpose))


def verify_images(grey_a: NDArray[np.uint8], grey_b: NDArray[np.uint8]) -> Verification:
    """Geometric verification of two grey images already in the same orientation."""
    return verify_keypoints(detect(grey_a), detect(grey_b))


def verify_keypoints(a: Keypoints, b: Keypoints) -> Verification:
    import cv2

    grey_a, kp_a, des_a = a.grey, a.points, a.descriptors
    grey_b, kp_b, des_b = b.grey, b.points, b.descriptors
    if des_a is None or des_b is None or len(kp_a) < MIN_MATCHES or len(kp_b) < MIN_MATCHES:
        return NO_MATCH
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    good = [
        pair[0]
        for pair in matcher.knnMatch(des_b, des_a, k=2)
        if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance
    ]
    if len(good) < MIN_MATCHES:
        return NO_MATCH
    src = np.array([kp_b[m.queryIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    dst = np.array([kp_a[m.trainIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    # OpenCV returns (None, None) when RANSAC finds no model, which its stubs do not declare.
    found: tuple[Any, Any] = cv2.findHomography(src, dst, cv2.RANSAC, 5.0, maxIters=1000)
    if found[0] is None or found[1] is None:
        return NO_MATCH
    homography = np.asarray(found[0], dtype=np.float64)
    mask = np.asarray(found[1])
    inliers = int(mask.sum())
    try:
        inverse = np.asarray(np.linalg.inv(homography), dtype=np.float64)
    except np.linalg.LinAlgError:
        return NO_MATCH
    b_in_a = _outline(grey_b.shape, homography)
    a_in_b = _outline(grey_a.shape, inverse)
    coverage_ab = _overlap(b_in_a, grey_a.shape)
    coverage_ba = _overlap(a_in_b, grey_b.shape)
    return Verification(
        inliers,
        inliers / len(good),
        coverage_ab,
        coverage_ba,
        _detail_outside(grey_a, kp_a, b_in_a, coverage_ab),
        _detail_outside(grey_b, kp_b, a_in_b, coverage_ba),
    )


def _outline(shape: tuple[int, ...], h: NDArray[np.float64]) -> NDArray[np.float32]:
    """The picture's frame mapped through ``h`` into the other picture."""
    import cv2

    height, width = shape[:2]
    corners = np.array(
        [[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32
    ).reshape(-1, 1, 2)
    return np.asarray(cv2.perspectiveTransform(corners, h), dtype=np.float32)


def _detail_outside(
    grey: NDArray[np.uint8],
    keypoints: Sequence[Any],
    polygon: NDArray[np.float32],
    covered: float,
) -> float:
    """How much picture lies outside ``polygon``, relative to inside it: about 1 when the
    outside is more of the same photo (the other file is a crop), near 0 when it is a flat
    border, margin, paper or app window around it (the other file was framed).

    Measured as the share of textured pixels (local contrast above a few grey levels) outside
    against inside; relative, so a dark night sky around a crop of an astronomy photo still
    counts as picture, and smoothed, so scanner noise on a paper margin does not."""
    import cv2

    if 1.0 - covered < 0.03 or not keypoints:
        return 1.0  # nothing (or nearly nothing) lies outside: no evidence either way
    height, width = grey.shape[:2]
    margin = max(2, int(0.02 * float(np.hypot(width, height))))  # the paste edge itself
    inside = np.zeros((height, width), dtype=np.uint8)
    cv2.fillConvexPoly(inside, np.round(polygon.reshape(-1, 2)).astype(np.int32), 1)
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    outside = cv2.dilate(inside, kernel) == 0
    core = cv2.erode(inside, kernel) > 0
    if outside.mean() < 0.02 or core.mean() < 0.02:
        return 1.0
    textured = _local_contrast(grey) > TEXTURE_LEVEL
    inner = float(textured[core].mean())
    return float(textured[outside].mean()) / max(inner, 0.02)


def _local_contrast(grey: NDArray[np.uint8]) -> NDArray[np.float32]:
    import cv2

    smooth = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 1.0)  # scanner/sensor noise out
    mean = cv2.blur(smooth, (7, 7))
    square = cv2.blur(smooth * smooth, (7, 7))
    return np.asarray(np.sqrt(np.maximum(square - mean * mean, 0.0)), dtype=np.float32)


def _overlap(polygon: NDArray[np.float32], shape: tuple[int, ...]) -> float:
    """Share of a frame of ``shape`` inside ``polygon`` (0 for a degenerate mapping)."""
    import cv2

    height, width = shape[:2]
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    poly = polygon.reshape(-1, 2).astype(np.float32)
    if not cv2.isContourConvex(poly):
        return 0.0
    area, _ = cv2.intersectConvexConvex(frame, poly)
    return float(np.clip(area / float(width * height), 0.0, 1.0))


class Verifier:
    """Verifies pairs of files, reusing each picture's keypoints across pairs."""

    def __init__(self) -> None:
        self._keypoints = KeypointCache()

    def verify(self, path_a: str, path_b: str, orientation: int) -> Verification:
        return verify_keypoints(
            self._keypoints.get(path_a), self._keypoints.get(path_b, orientation)
        )


ChunkResult: TypeAlias = Verification | CheckFailed | None  # None: a file vanished or broke since


def _verify_chunk(jobs: list[tuple[str, str, int]]) -> list[ChunkResult]:
    """Run in a worker process: one keypoint cache for the whole chunk."""
    from ndid_desktop.engine.files.decode import DecodeError

    verifier = Verifier()
    out: list[ChunkResult] = []
    for path_a, path_b, orientation in jobs:
        try:
            out.append(verifier.verify(path_a, path_b, orientation))
        except DecodeError:
            out.append(None)
        except Exception as exc:  # one pair's problem, reported with the scan, never its end
            out.append(CheckFailed.of(exc))
    return out


def _chunk_results(future: Future[list[ChunkResult]], size: int) -> list[ChunkResult]:
    try:
        return future.result()
    except Exception as exc:  # the worker itself died (a crash in OpenCV, out of memory)
        return [CheckFailed.of(exc)] * size


def verify_in_parallel(
    pairs: Sequence[tuple[int, int]],
    scorer: PairScorer,
    config: ScanConfig,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> None:
    """Run the keypoint check for ``pairs`` on every core and store the results in the cache,
    so the scoring loop that follows only reads them. Pairs already cached are skipped; chunks
    keep a picture's pairs together, so each worker decodes it once. A pair whose check raises
    is recorded as failed (and so left unverified) rather than ending the scan."""
    import concurrent.futures as cf
    import multiprocessing
    import os

    from ndid_desktop.engine.progress import ProgressEvent
    from ndid_desktop.engine.worker_lifetime import die_with_parent

    features, cache = scorer.features, scorer.cache
    jobs = []
    for a, b in pairs:
        orientation = scorer.signals(a, b).orientation
        if cache.lookup_verification(features.entries[a], features.entries[b], orientation) is None:
            jobs.append((a, b, orientation))
    workers = config.workers or os.cpu_count() or 1
    if len(jobs) < 32 or workers < 2:
        return  # not worth the processes: the scoring loop verifies them as it goes
    size = max(8, min(64, len(jobs) // (workers * 4)))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    context = multiprocessing.get_context("spawn")
    done = 0
    with cf.ProcessPoolExecutor(workers, mp_context=context, initializer=die_with_parent) as pool:
        futures = _submit_chunks(pool, chunks, features.entries)
        try:
            for future in cf.as_completed(futures):
                chunk = futures[future]
                _store_chunk(scorer, chunk, _chunk_results(future, len(chunk)))
                done += len(chunk)
                progress(ProgressEvent("decide", done, len(jobs), "keypoint checks"))
                cancel.raise_if_cancelled()
        finally:
            for future in futures:
                future.cancel()


def _store_chunk(
    scorer: PairScorer, chunk: list[tuple[int, int, int]], results: list[ChunkResult]
) -> None:
    entries, verification = scorer.features.entries, scorer.verification
    for (a, b, o), result in zip(chunk, results, strict=True):
        if isinstance(result, CheckFailed):
            verification.record_failure(a, b, o, result.reason)
        elif result is not None:
            scorer.cache.store_verification(entries[a], entries[b], o, result.as_tuple())
            verification.ran += 1


def _submit_chunks(
    pool: Executor, chunks: list[list[tuple[int, int, int]]], entries: Sequence[FileEntry]
) -> dict[Future[list[ChunkResult]], list[tuple[int, int, int]]]:
    """Hands the chunks to the pool. If the pool stops taking work (it broke, or the system ran
    out of processes), the chunks not handed over stay with the scoring loop, which verifies
    them in this process."""
    futures: dict[Future[list[ChunkResult]], list[tuple[int, int, int]]] = {}
    for chunk in chunks:
        paths = [(entries[a].path, entries[b].path, o) for a, b, o in chunk]
        try:
            futures[pool.submit(_verify_chunk, paths)] = chunk
        except Exception:  # nothing about these pairs is known to be wrong: check them here
            break
    return futures
