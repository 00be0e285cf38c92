"""Local features: extracted once from the decoded picture, cached as bytes, and enough for the
keypoint check in every orientation without decoding the files again."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.executors import in_process
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.extract import FeatureSet, compute_features
from ndid_desktop.engine.features.hashes import ORIENTATIONS, best_orientation, compute_hashes
from ndid_desktop.engine.features.local import (
    FORMAT_VERSION,
    LocalFeatures,
    extract_local,
    is_mirroring,
    orientation_matrix,
    oriented,
)
from ndid_desktop.engine.features.model_sets import MODEL_SETS
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.match import verification
from ndid_desktop.engine.match.verification import VerifyJob, verify_pairs
from ndid_desktop.engine.match.verify import (
    ORB_HOMOGRAPHY,
    VERIFIERS,
    OrbHomography,
    Verification,
    verification_key,
)
from ndid_desktop.engine.progress import CancelToken, ProgressEvent, ScanCancelled

from .conftest import dev_photos


def _photo(offset: int) -> Image.Image:
    return Image.open(dev_photos(1, offset=offset)[0]).convert("RGB")


def _local(image: Image.Image) -> bytes:
    return ORB_HOMOGRAPHY.local_features(image)


# --- the bytes ---------------------------------------------------------------------------------


def test_bytes_round_trip_and_are_small() -> None:
    features = extract_local(_photo(3))
    data = features.to_bytes()
    back = LocalFeatures.from_bytes(data)
    assert data[0] == FORMAT_VERSION
    assert (back.height, back.width) == (features.height, features.width)
    assert max(back.height, back.width) <= 512
    for mine, theirs in ((back.upright, features.upright), (back.mirrored, features.mirrored)):
        assert np.array_equal(mine.points, theirs.points)
        assert np.array_equal(mine.descriptors, theirs.descriptors)
        assert mine.descriptors.shape == (len(mine), 32) and mine.points.dtype == np.float32
    assert len(back.upright) > 100 and len(back.mirrored) > 100
    assert np.array_equal(back.textured, features.textured)
    assert back.to_bytes() == data
    assert len(data) < 90_000  # two sets of at most 1,000 keypoints and a compressed map


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: b"",
        lambda d: d[:10],
        lambda d: bytes([FORMAT_VERSION + 1]) + d[1:],
        lambda d: d[:-1],
        lambda d: d + b"\0",
    ],
)
def test_damaged_or_foreign_bytes_are_refused(damage: Callable[[bytes], bytes]) -> None:
    data = _local(_photo(3))
    with pytest.raises(ValueError):
        LocalFeatures.from_bytes(damage(data))


def test_pictures_without_room_for_keypoints_still_have_local_features() -> None:
    for size in [(1, 1), (20000, 10), (40, 40)]:
        image = Image.new("RGB", size, (90, 120, 40))
        back = LocalFeatures.from_bytes(_local(image))
        assert len(back.upright) == len(back.mirrored) == 0
        assert ORB_HOMOGRAPHY.verify(_local(image), _local(image), 0).inliers == 0


# --- orientations ------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(len(ORIENTATIONS)))
def test_orientation_matrix_moves_pixels_as_pil_turns_them(orientation: int) -> None:
    height, width = 5, 7
    transpose = ORIENTATIONS[orientation][1]
    matrix = orientation_matrix(orientation, height, width)
    for x, y in [(0, 0), (6, 0), (2, 3), (6, 4), (0, 4)]:
        grid = np.zeros((height, width), np.uint8)
        grid[y, x] = 255
        turned = np.asarray(
            Image.fromarray(grid)
            if transpose is None
            else Image.fromarray(grid).transpose(transpose)
        )
        (ty,), (tx,) = np.nonzero(turned)
        assert tuple(matrix @ (x, y, 1))[:2] == (tx, ty)


def test_the_mirroring_orientations_are_those_that_turn_the_picture_over() -> None:
    mirroring = {o for o in range(len(ORIENTATIONS)) if is_mirroring(o)}
    assert mirroring == {1, 2, 6, 7}  # flips, transpose, transverse


def _undo(orientation: int) -> Image.Transpose | None:
    """The transpose that makes b from a, so that ORIENTATIONS[orientation] maps b onto a."""
    transpose = ORIENTATIONS[orientation][1]
    quarter = {Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270}
    quarter[Image.Transpose.ROTATE_270] = Image.Transpose.ROTATE_90
    return quarter.get(transpose, transpose) if transpose is not None else None


@pytest.mark.parametrize("orientation", range(len(ORIENTATIONS)))
def test_every_orientation_verifies_from_cached_features(orientation: int) -> None:
    photo = _photo(12)
    undo = _undo(orientation)
    turned = photo if undo is None else photo.transpose(undo)
    a, b = _local(photo), _local(turned)
    found, _ = best_orientation(compute_hashes(photo), compute_hashes(turned))
    assert found == orientation  # the hashes name the transform the check is told
    check = ORB_HOMOGRAPHY.verify(a, b, orientation)
    assert check.inliers >= 100 and check.inlier_ratio > 0.8
    assert check.coverage_ab > 0.97 and check.coverage_ba > 0.97
    shape = oriented(LocalFeatures.from_bytes(b), orientation)
    assert (shape.height, shape.width) == np.asarray(photo).shape[:2] or max(photo.size) > 512
    # Told the wrong side of the picture, ORB finds little: it is not mirror-invariant.
    wrong = next(o for o in range(8) if is_mirroring(o) != is_mirroring(orientation))
    mistaken = ORB_HOMOGRAPHY.verify(a, b, wrong)
    assert mistaken.inliers < check.inliers / 10 and mistaken.inlier_ratio < 0.5


def test_crop_is_verified_with_its_coverage_and_detail() -> None:
    photo = _photo(10)
    w, h = photo.size
    crop = photo.crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4))
    check = ORB_HOMOGRAPHY.verify(_local(photo), _local(crop), 0)
    assert check.inliers >= 20
    assert 0.15 < check.coverage_ab < 0.4  # the crop covers a quarter of the photo
    assert check.coverage_ba > 0.95  # and the photo covers all of the crop
    assert check.detail_ab > 0.35  # what lies outside the crop is picture, not a frame


def test_mirrored_crop_is_verified() -> None:
    photo = _photo(10)
    w, h = photo.size
    crop = ImageOps.mirror(photo.crop((0, 0, w * 3 // 4, h)))
    check = ORB_HOMOGRAPHY.verify(_local(photo), _local(crop), 1)
    assert check.inliers >= 50
    assert 0.65 < check.coverage_ab < 0.85 and check.coverage_ba > 0.95


def test_border_is_seen_as_a_flat_frame() -> None:
    photo = _photo(11)
    framed = ImageOps.expand(photo, border=photo.height // 5, fill=(0, 0, 0))
    check = ORB_HOMOGRAPHY.verify(_local(photo), _local(framed), 0)
    assert check.coverage_ab > 0.95 and check.coverage_ba < 0.8
    assert check.detail_ba < 0.15  # the keeper's FLAT_DETAIL: a frame, not more picture


def test_different_photos_do_not_verify() -> None:
    a, b = (Image.open(p).convert("RGB") for p in dev_photos(2, offset=20))
    assert ORB_HOMOGRAPHY.verify(_local(a), _local(b), 0).inliers < 15


def test_the_registry_names_the_verifier_and_its_versions() -> None:
    assert VERIFIERS["orb-homography"] is ORB_HOMOGRAPHY
    assert verification_key(ORB_HOMOGRAPHY) == f"orb-homography@{ORB_HOMOGRAPHY.version}"
    assert ORB_HOMOGRAPHY.features_key == f"orb@{FORMAT_VERSION}"
    named = {m.name: m.verifier for m in MODEL_SETS.values()}
    assert named == {"fast": None, "standard": "orb-homography", "thorough": "orb-homography",
                     "copydetect": "orb-homography"}  # fmt: skip
    assert all(v in VERIFIERS for v in named.values() if v is not None)


# --- the stage: verify_pairs -------------------------------------------------------------------


def _library(folder: Path) -> list[Path]:
    """Three dev photos, a crop and a mirrored copy of the first."""
    folder.mkdir(exist_ok=True)
    photos = dev_photos(3, offset=30)
    for p in photos:
        shutil.copyfile(p, folder / p.name)
    first = Image.open(photos[0]).convert("RGB")
    w, h = first.size
    first.crop((0, 0, w * 3 // 4, h * 3 // 4)).save(folder / "z-crop.jpg", quality=92)
    ImageOps.mirror(first).save(folder / "z-mirror.jpg", quality=92)
    return sorted(folder.iterdir())


def _features(folder: Path, cache: FeatureCache) -> FeatureSet:
    config = ScanConfig(workers=1, model_set="fast")
    found = discover([Root(folder)], config)
    return compute_features(found.files, config, cache, None, verifier=ORB_HOMOGRAPHY)


def _index(features: FeatureSet, name: str) -> int:
    return next(i for i, e in enumerate(features.entries) if Path(e.path).name == name)


def _all_pairs(features: FeatureSet) -> list[VerifyJob]:
    """Every pair as is, but the mirrored copy against its original, which is told so."""
    original = _index(features, dev_photos(1, offset=30)[0].name)
    mirrored = {original, _index(features, "z-mirror.jpg")}
    n = len(features.entries)
    return [
        VerifyJob(a, b, 1 if {a, b} == mirrored else 0) for a in range(n) for b in range(a + 1, n)
    ]


def test_verify_pairs_in_process_checks_once_and_then_reads_the_cache(tmp_path: Path) -> None:
    _library(tmp_path / "lib")
    events: list[ProgressEvent] = []
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        features = _features(tmp_path / "lib", cache)
        jobs = _all_pairs(features)
        first = verify_pairs(
            jobs, features.entries, cache, ORB_HOMOGRAPHY, 2, in_process, events.append
        )
        again = verify_pairs(
            jobs + jobs[:3], features.entries, cache, ORB_HOMOGRAPHY, 2, in_process
        )
    assert len(jobs) == 10 and first.ran == 10 and not first.failures
    assert set(first.results) == {j.key for j in jobs}
    assert again.ran == 0 and again.results == first.results
    assert events[-1] == ProgressEvent("verify", 10, 10, "keypoint checks")
    original = _index(features, dev_photos(1, offset=30)[0].name)
    crop, mirror = _index(features, "z-crop.jpg"), _index(features, "z-mirror.jpg")
    by_pair = {(a, b): v for (a, b, _), v in first.results.items()}
    assert by_pair[(min(original, crop), max(original, crop))].inliers >= 100
    assert by_pair[(min(original, mirror), max(original, mirror))].inliers >= 100
    different = [v for (a, b), v in by_pair.items() if {a, b} & {original, crop, mirror} == set()]
    assert different and all(v.inliers < 15 for v in different)


def test_a_check_never_decodes_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _library(tmp_path / "lib")
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        features = _features(tmp_path / "lib", cache)
        expected = verify_pairs(
            _all_pairs(features), features.entries, cache, ORB_HOMOGRAPHY, 1, in_process
        )
    # Only the cached features are left: the photos are gone, and decoding would raise.
    shutil.rmtree(tmp_path / "lib")
    monkeypatch.setattr(
        "ndid_desktop.engine.files.decode.decode",
        lambda *a, **k: pytest.fail("a keypoint check decoded a file"),
    )
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        with cache._db:  # checked again, not read back
            cache._db.execute("DELETE FROM verifications")
        found = verify_pairs(
            _all_pairs(features), features.entries, cache, ORB_HOMOGRAPHY, 1, in_process
        )
    assert found.ran == 10 and found.results == expected.results


def test_pairs_without_local_features_are_absent(tmp_path: Path) -> None:
    _library(tmp_path / "lib")
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        features = _features(tmp_path / "lib", cache)
        crop = _index(features, "z-crop.jpg")
        with cache._db:
            cache._db.execute(
                "DELETE FROM local_features WHERE path=?",
                (os.fsencode(features.entries[crop].path),),
            )
        jobs = _all_pairs(features)
        found = verify_pairs(jobs, features.entries, cache, ORB_HOMOGRAPHY, 1, in_process)
    assert {k for k in found.results} == {j.key for j in jobs if crop not in (j.a, j.b)}
    assert found.ran == 6 and not found.failures


@dataclass(frozen=True)
class _Raising(OrbHomography):
    """The ORB check, raising for every pair it is told is mirrored."""

    def verify(self, a: bytes, b: bytes, orientation: int) -> Verification:
        if orientation == 1:
            raise RuntimeError("boom\nsecond line")
        return super().verify(a, b, orientation)


def test_a_check_that_raises_is_a_failure_and_is_not_cached(tmp_path: Path) -> None:
    _library(tmp_path / "lib")
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        features = _features(tmp_path / "lib", cache)
        jobs = _all_pairs(features)
        found = verify_pairs(jobs, features.entries, cache, _Raising(), 1, in_process)
        again = verify_pairs(jobs, features.entries, cache, _Raising(), 1, in_process)
    mirrored = [j for j in jobs if j.orientation == 1]
    assert len(mirrored) == 1 and len(found.failures) == 1 and found.ran == 9
    (failure,) = found.failures
    assert failure.reason == "RuntimeError: boom second line"
    assert mirrored[0].key not in found.results
    assert again.ran == 0 and len(again.failures) == 1  # tried again, cached results read


def test_failed_extraction_is_reported_with_its_pairs(tmp_path: Path) -> None:
    _library(tmp_path / "lib")
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        features = _features(tmp_path / "lib", cache)
        crop = _index(features, "z-crop.jpg")
        with cache._db:  # what a worker stores when local_features raised
            cache._db.execute(
                "UPDATE local_features SET data=x'' WHERE path=?",
                (os.fsencode(features.entries[crop].path),),
            )
        found = verify_pairs(
            _all_pairs(features), features.entries, cache, ORB_HOMOGRAPHY, 1, in_process
        )
    assert len(found.failures) == 4 and found.ran == 6
    assert all("z-crop.jpg" in f.path_a + f.path_b for f in found.failures)
    assert all(crop not in k[:2] for k in found.results)


def _many_jobs(features: FeatureSet, count: int) -> list[VerifyJob]:
    """``count`` distinct jobs over the library's pairs, in every orientation."""
    n = len(features.entries)
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    return [VerifyJob(a, b, o) for o in range(8) for a, b in pairs][:count]


def test_cancel_during_verify_pairs_raises_and_keeps_the_finished_checks(tmp_path: Path) -> None:
    _library(tmp_path / "lib")
    token = CancelToken()

    def cancel_after_first_chunk(event: ProgressEvent) -> None:
        if event.done > 0:
            token.cancel()

    with FeatureCache(tmp_path / "c.sqlite") as cache:
        features = _features(tmp_path / "lib", cache)
        jobs = _many_jobs(features, 70)  # three chunks
        with pytest.raises(ScanCancelled):
            verify_pairs(jobs, features.entries, cache, ORB_HOMOGRAPHY, 2, in_process,
                         cancel_after_first_chunk, token)  # fmt: skip
        resumed = verify_pairs(jobs, features.entries, cache, ORB_HOMOGRAPHY, 2, in_process)
    assert resumed.ran == len(jobs) - verification.CHUNK_PAIRS  # the first chunk was kept


class _NoWaitThreads(ThreadPoolExecutor):
    """Threads whose shutdown does not wait, so a test sees when the cancel was noticed."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=cancel_futures)


@dataclass(frozen=True)
class _Slow(OrbHomography):
    release: threading.Event

    def verify(self, a: bytes, b: bytes, orientation: int) -> Verification:
        self.release.wait(10.0)
        return super().verify(a, b, orientation)


def test_cancel_is_noticed_while_a_chunk_runs(tmp_path: Path) -> None:
    _library(tmp_path / "lib")
    slow = _Slow(threading.Event())
    token = CancelToken()

    def threads(workers: int) -> Executor:
        return _NoWaitThreads(workers)

    with FeatureCache(None) as cache:
        features = _features(tmp_path / "lib", cache)
        jobs = _many_jobs(features, 40)
        threading.Timer(0.2, token.cancel).start()
        started = time.monotonic()
        try:
            with pytest.raises(ScanCancelled):
                verify_pairs(jobs, features.entries, cache, slow, 2, threads, cancel=token)
            assert time.monotonic() - started < 2.0  # the chunks would take 10 s
        finally:
            slow.release.set()
