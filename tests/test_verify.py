"""The keypoint check when things go wrong: pictures with no room for keypoints, checks that
raise, workers that die, executors that take no work; and the overlap geometry."""

import os
import re
import shutil
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ndid_desktop.engine import Root, ScanConfig, scan
from ndid_desktop.engine.compare import compare
from ndid_desktop.engine.executors import in_process, process_pool
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.encoders import Encoder
from ndid_desktop.engine.features.extract import FeatureSet, compute_features
from ndid_desktop.engine.features.local import MIN_KEYPOINT_SIDE, LocalFeatures, extract_local
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.match import verify
from ndid_desktop.engine.match.verification import CHUNK_PAIRS, VerifyJob, verify_pairs
from ndid_desktop.engine.match.verify import ORB_HOMOGRAPHY, OrbHomography, Verification
from ndid_desktop.engine.types import ScanReport

from .conftest import dev_photos

# --- pictures with no room for keypoints -------------------------------------------------------


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)


def _local(grey: np.ndarray) -> bytes:
    return ORB_HOMOGRAPHY.local_features(Image.fromarray(grey).convert("RGB"))


@pytest.mark.parametrize(
    "shape", [(1, 1), (1, 512), (512, 1), (2, 512), (MIN_KEYPOINT_SIDE - 1, 512)]
)
def test_too_small_or_too_thin_pictures_have_no_geometry(shape: tuple[int, int]) -> None:
    grey = _noise(*shape)
    check = ORB_HOMOGRAPHY.verify(_local(grey), _local(grey.copy()), 0)
    assert check.inliers == 0 and check.coverage_ab == 0.0


def test_the_smallest_side_with_room_for_keypoints_still_gets_them() -> None:
    features = LocalFeatures.from_bytes(_local(_noise(MIN_KEYPOINT_SIDE, 512)))
    assert len(features.upright) > 0 and len(features.mirrored) > 0


def _strange_files(folder: Path) -> list[Path]:
    """A 1x1 spacer GIF and two 20000x10 strips (1 pixel thin at the verifier's size), each
    with a copy that differs in its bytes only (so that the two are a candidate pair, not
    identical files)."""
    Image.new("P", (1, 1)).save(folder / "spacer.gif")
    Image.new("P", (1, 1)).save(folder / "spacer-copy.gif", comment=b"copy")
    for name, shape, seed in (("wide", (10, 20000), 1), ("tall", (20000, 10), 2)):
        picture = Image.fromarray(_noise(*shape, seed=seed))
        picture.save(folder / f"{name}.png")
        picture.save(folder / f"{name}-copy.png", pnginfo=_png_text("copy"))
    return [folder / n for n in ("spacer.gif", "wide.png", "tall.png", "spacer-copy.gif",
                                 "wide-copy.png", "tall-copy.png")]  # fmt: skip


def _png_text(text: str) -> Any:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", text)
    return info


def _photos(folder: Path, count: int) -> None:
    for photo in dev_photos(count, offset=40):
        shutil.copyfile(photo, folder / photo.name)


# Every candidate goes to the keypoint check, and every image is a candidate of the others.
OPEN_GATE: dict[str, Any] = {"gate_low": 0.0, "gate_high": 1.0, "knn_min_cosine": 0.0}


def _keypoint_warnings(report: ScanReport) -> list[str]:
    return [w for w in report.stats.warnings if w.startswith("keypoint check failed")]


@pytest.mark.parametrize("workers", [1, 2])  # in this process; in worker processes
def test_scan_survives_pictures_with_a_one_pixel_side(
    tmp_path: Path, encoder: Encoder, workers: int
) -> None:
    _photos(tmp_path, 6)
    strange = _strange_files(tmp_path)
    report = scan([Root(tmp_path)], ScanConfig(workers=workers, **OPEN_GATE), encoder=encoder)
    stats = report.stats
    assert stats.images_used == 6 + len(strange) and not report.skipped
    assert stats.verified_pairs >= 32  # enough for worker processes with two workers
    assert not _keypoint_warnings(report)  # "no geometry", not a failed check
    grouped = {Path(m.path).name for g in report.groups for m in g.members}
    assert {"spacer.gif", "spacer-copy.gif"} <= grouped  # the copies are still found


def test_compare_answers_for_pictures_with_a_one_pixel_side(
    tmp_path: Path, encoder: Encoder
) -> None:
    spacer, wide, tall, spacer_copy, _, _ = _strange_files(tmp_path)
    for a, b in [(spacer, spacer_copy), (wide, tall)]:
        result = compare(str(a), str(b), ScanConfig(), encoder)
        # Too few keypoints to try: no evidence, decided as if unchecked (not "0 inliers").
        assert result.signals.inliers is None
        assert 0.0 <= result.probability <= 1.0


# --- checks that raise, workers that die -------------------------------------------------------

MARKED_SIZE = (300, 200)  # the one picture of this size is the one the checks trip over


def _marked(data: bytes) -> bool:
    features = LocalFeatures.from_bytes(data)
    return (features.width, features.height) == MARKED_SIZE


@dataclass(frozen=True)
class _DeadlyCheck(OrbHomography):
    """Kills its worker process on the marked picture, as a crash inside OpenCV would."""

    def verify(self, a: bytes, b: bytes, orientation: int) -> Verification:
        if _marked(a) or _marked(b):
            os._exit(3)
        return super().verify(a, b, orientation)


def _library_with_a_marked_picture(folder: Path, photos: int) -> Path:
    folder.mkdir(exist_ok=True)
    _photos(folder, photos)
    first = Image.open(sorted(folder.glob("*.jpg"))[0]).convert("RGB")
    marked = folder / "marked.jpg"
    first.resize(MARKED_SIZE).save(marked, quality=90)
    return marked


def _failure_count(report: ScanReport) -> int:
    (line,) = _keypoint_warnings(report)
    found = re.match(r"keypoint check failed for (\d+) pairs? \(left unverified\): ", line)
    assert found, line
    return int(found.group(1))


def test_a_check_that_raises_in_a_scan_costs_its_pairs_only(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    marked = _library_with_a_marked_picture(tmp_path, 5)
    real = OrbHomography.verify

    def raising(self: OrbHomography, a: bytes, b: bytes, orientation: int) -> Verification:
        if _marked(a) or _marked(b):
            raise RuntimeError("boom\nsecond line")
        return real(self, a, b, orientation)

    monkeypatch.setattr(OrbHomography, "verify", raising)
    config = ScanConfig(workers=1, **OPEN_GATE)
    report = scan([Root(tmp_path)], config, encoder=encoder, executor=in_process)
    # The marked picture against each of the five photos (a pair the scan asks about again,
    # for the keeper's geometry, fails again: failures are not cached).
    assert _failure_count(report) >= 5
    assert report.stats.verified_pairs >= 10  # the photos' own pairs were all checked
    line = _keypoint_warnings(report)[0]
    assert str(marked) in line and "RuntimeError: boom second line" in line


def _features(folder: Path, cache: FeatureCache) -> FeatureSet:
    config = ScanConfig(workers=1, model_set="fast")
    found = discover([Root(folder)], config)
    return compute_features(found.files, config, cache, None, verifier=ORB_HOMOGRAPHY)


def _jobs(features: FeatureSet) -> list[VerifyJob]:
    """Every pair twice (as is, and told it was turned 180 degrees), the marked picture's
    pairs only two and among the first chunk's: checks go in chunks in key order."""
    marked = next(i for i, e in enumerate(features.entries) if e.path.endswith("marked.jpg"))
    others = [i for i in range(len(features.entries)) if i != marked]
    pairs = [(a, b) for a in others for b in others if a < b]
    killers = [VerifyJob(others[0], marked, o) for o in (0, 3)]  # others[0]: the lowest a
    return killers + [VerifyJob(a, b, o) for o in (0, 3) for a, b in pairs]


def test_a_worker_that_dies_costs_its_chunk_only(tmp_path: Path) -> None:
    _library_with_a_marked_picture(tmp_path / "lib", 8)
    with FeatureCache(None) as cache:
        features = _features(tmp_path / "lib", cache)
        jobs = _jobs(features)  # 2 + 56: two chunks
        found = verify_pairs(jobs, features.entries, cache, _DeadlyCheck(), 2, process_pool)
    doomed = set(sorted(j.key for j in jobs)[:CHUNK_PAIRS])
    # Each chunk in flight when a worker died was tried again alone; only the one that killed
    # a worker then too has its pairs reported, and every other pair was checked.
    assert len(found.failures) == len(doomed) == CHUNK_PAIRS
    assert set(found.results) == {j.key for j in jobs} - doomed
    assert found.ran == len(jobs) - CHUNK_PAIRS
    assert all(f.reason.startswith("BrokenProcessPool") for f in found.failures)


class _Refusing(Executor):
    """An executor with no processes to give."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> "Future[Any]":
        raise OSError(11, "Resource temporarily unavailable")


def test_an_executor_that_takes_no_work_leaves_the_checks_to_this_process(
    tmp_path: Path,
) -> None:
    _library_with_a_marked_picture(tmp_path / "lib", 8)
    with FeatureCache(None) as cache:
        features = _features(tmp_path / "lib", cache)
        jobs = _jobs(features)
        found = verify_pairs(
            jobs, features.entries, cache, ORB_HOMOGRAPHY, 2, lambda n: _Refusing()
        )
    assert found.ran == len(jobs) and not found.failures


@dataclass(frozen=True)
class _NextVersion(OrbHomography):
    @property
    def version(self) -> int:
        return verify.VERSION + 1


def test_cached_checks_are_keyed_by_the_verifier_version(tmp_path: Path) -> None:
    _library_with_a_marked_picture(tmp_path / "lib", 2)
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        features = _features(tmp_path / "lib", cache)
        jobs = _jobs(features)
        first = verify_pairs(jobs, features.entries, cache, ORB_HOMOGRAPHY, 1, in_process)
        same = verify_pairs(jobs, features.entries, cache, ORB_HOMOGRAPHY, 1, in_process)
        newer = verify_pairs(jobs, features.entries, cache, _NextVersion(), 1, in_process)
    assert (first.ran, same.ran, newer.ran) == (len(jobs), 0, len(jobs))


# --- overlap geometry --------------------------------------------------------------------------


def test_a_recompressed_greyscale_copy_covers_all_of_the_picture() -> None:
    """Its homography is near the identity, its outline on the frame's own edges, where
    OpenCV's polygon intersection measured a quarter of the overlap."""
    photo = Image.open(dev_photos(1, offset=12)[0]).convert("RGB")
    for copy in (photo, photo.convert("L").convert("RGB")):
        check = verify.match_features(extract_local(photo), extract_local(copy), 0)
        assert check.inliers >= 300
        assert check.coverage_ab > 0.99 and check.coverage_ba > 0.99


@pytest.mark.parametrize(
    "polygon, share",
    [
        ([[0, 0], [40, 0], [40, 30], [0, 30]], 1.0),  # the frame itself
        ([[-10, -10], [50, -10], [50, 40], [-10, 40]], 1.0),  # around it
        ([[0, 0], [20, 0], [20, 30], [0, 30]], 0.5),  # its left half, edges shared
        ([[20, -5], [45, 15], [20, 35], [-5, 15]], None),  # a diamond, against OpenCV
        ([[50, 0], [60, 0], [60, 30], [50, 30]], 0.0),  # beside it
    ],
)
def test_overlap_is_the_share_of_the_frame_inside(
    polygon: list[list[float]], share: float | None
) -> None:
    import cv2

    clipped = verify._clip_to_frame([[float(x), float(y)] for x, y in polygon], 40, 30)
    found = verify._area(clipped) / (40 * 30)
    if share is None:
        frame = np.array([[0, 0], [40, 0], [40, 30], [0, 30]], np.float32)
        share = cv2.intersectConvexConvex(frame, np.array(polygon, np.float32))[0] / (40 * 30)
    assert found == pytest.approx(share, abs=1e-6)
