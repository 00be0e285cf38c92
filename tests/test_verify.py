import re
import shutil
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from ndid_desktop.engine import Root, ScanConfig, scan
from ndid_desktop.engine.compare import compare
from ndid_desktop.engine.features.encoders import Encoder
from ndid_desktop.engine.match import verify
from ndid_desktop.engine.match.verify import (
    MIN_KEYPOINT_SIDE,
    Verification,
    Verifier,
    detect,
    verify_images,
)
from ndid_desktop.engine.types import ScanReport

from .conftest import dev_photos


def _grey(img: Image.Image) -> np.ndarray:
    img = img.copy()
    img.thumbnail((512, 512))
    return np.asarray(img.convert("L"))


def test_crop_is_verified_with_its_coverage() -> None:
    photo = Image.open(dev_photos(1, offset=10)[0]).convert("RGB")
    w, h = photo.size
    crop = photo.crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4))
    check = verify_images(_grey(photo), _grey(crop))
    assert check.inliers >= 20
    assert 0.15 < check.coverage_ab < 0.4  # the crop covers a quarter of the photo
    assert check.coverage_ba > 0.95  # and the photo covers all of the crop
    assert check.detail_ab > 0.35  # what lies outside the crop is picture, not a frame


def test_border_is_seen_as_a_flat_frame() -> None:
    photo = Image.open(dev_photos(1, offset=11)[0]).convert("RGB")
    framed = ImageOps.expand(photo, border=photo.height // 5, fill=(0, 0, 0))
    check = verify_images(_grey(photo), _grey(framed))
    assert check.coverage_ab > 0.95 and check.coverage_ba < 0.8
    assert check.detail_ba < 0.35


def test_different_photos_do_not_verify() -> None:
    a, b = (Image.open(p).convert("RGB") for p in dev_photos(2, offset=20))
    assert verify_images(_grey(a), _grey(b)).inliers < 15


# --- pictures with no room for keypoints, and checks that fail --------------------------------


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)


@pytest.mark.parametrize(
    "shape", [(1, 1), (1, 512), (512, 1), (2, 512), (MIN_KEYPOINT_SIDE - 1, 512)]
)
def test_too_small_or_too_thin_pictures_have_no_geometry(shape: tuple[int, int]) -> None:
    grey = _noise(*shape)
    check = verify_images(grey, grey.copy())
    assert check.inliers == 0 and check.coverage_ab == 0.0


def test_the_smallest_side_with_room_for_keypoints_still_gets_them() -> None:
    assert len(detect(_noise(MIN_KEYPOINT_SIDE, 512)).points) > 0


def _strange_files(folder: Path) -> list[Path]:
    """A 1x1 spacer GIF and two 20000x10 strips (1 pixel thin at the verifier's size), each
    with a byte-identical copy: a copy, not a link, so the two are a candidate pair."""
    Image.new("P", (1, 1)).save(folder / "spacer.gif")
    Image.fromarray(_noise(10, 20000, seed=1)).save(folder / "wide.png")
    Image.fromarray(_noise(20000, 10, seed=2)).save(folder / "tall.png")
    made = [folder / "spacer.gif", folder / "wide.png", folder / "tall.png"]
    for path in list(made):
        copy = path.with_name(f"{path.stem}-copy{path.suffix}")
        shutil.copyfile(path, copy)
        made.append(copy)
    return made


def _photos(folder: Path, count: int) -> None:
    for photo in dev_photos(count, offset=40):
        shutil.copyfile(photo, folder / photo.name)


# Every candidate goes to the keypoint check, and every image is a candidate of the others.
OPEN_GATE = {"gate_low": 0.0, "gate_high": 1.0, "knn_min_cosine": 0.0}


def _keypoint_warnings(report: ScanReport) -> list[str]:
    return [w for w in report.stats.warnings if w.startswith("keypoint check failed")]


@pytest.mark.parametrize("workers", [1, 2])  # the scoring loop; the parallel keypoint path
def test_scan_survives_pictures_with_a_one_pixel_side(
    tmp_path: Path, encoder: Encoder, workers: int
) -> None:
    _photos(tmp_path, 6)
    strange = _strange_files(tmp_path)
    report = scan([Root(tmp_path)], ScanConfig(workers=workers, **OPEN_GATE), encoder=encoder)
    stats = report.stats
    assert stats.images_used == 6 + len(strange) and not report.skipped
    assert stats.candidate_pairs >= 32  # enough for the parallel path with two workers
    assert stats.gated_pairs == stats.verified_pairs == stats.candidate_pairs
    assert not _keypoint_warnings(report)  # "no geometry", not a failed check
    grouped = {Path(m.path).name for g in report.groups for m in g.members}
    assert {"spacer.gif", "spacer-copy.gif"} <= grouped  # the copies are still found


def test_compare_answers_for_pictures_with_a_one_pixel_side(
    tmp_path: Path, encoder: Encoder
) -> None:
    spacer, wide, tall, spacer_copy, _, _ = _strange_files(tmp_path)
    for a, b in [(spacer, spacer_copy), (wide, tall)]:
        result = compare(str(a), str(b), ScanConfig(), encoder)
        assert result.signals.inliers == 0
        assert 0.0 <= result.probability <= 1.0


VerifyMethod = Callable[[Verifier, str, str, int], Verification]


BROKEN = "broken-copy.jpg"  # (not "bad": dev photos have hex names)
GOOD = "good-copy.jpg"


def _involves_broken(*paths: str) -> bool:
    return any(Path(p).name == BROKEN for p in paths)


def _failing_verify(calls: Counter[tuple[str, str]]) -> VerifyMethod:
    """Verifier.verify, raising for every pair with the broken file in it; counts the calls."""
    real = Verifier.verify

    def verify_or_raise(self: Verifier, path_a: str, path_b: str, orientation: int) -> Verification:
        calls[(path_a, path_b)] += 1
        if _involves_broken(path_a, path_b):
            raise RuntimeError("boom\nsecond line")
        return real(self, path_a, path_b, orientation)

    return verify_or_raise


def _failure_count(report: ScanReport) -> int:
    (line,) = _keypoint_warnings(report)
    found = re.match(r"keypoint check failed for (\d+) pairs? \(left unverified\): ", line)
    assert found, line
    return int(found.group(1))


def _library_with_a_broken_copy(folder: Path, photos: int) -> Path:
    _photos(folder, photos)
    first = sorted(folder.glob("*.jpg"))[0]
    shutil.copyfile(first, folder / GOOD)
    broken = folder / BROKEN
    shutil.copyfile(first, broken)
    return broken


def test_a_check_that_raises_costs_its_pair_only(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _library_with_a_broken_copy(tmp_path, 4)
    calls: Counter[tuple[str, str]] = Counter()
    monkeypatch.setattr(Verifier, "verify", _failing_verify(calls))
    report = scan([Root(tmp_path)], ScanConfig(workers=1, **OPEN_GATE), encoder=encoder)
    stats = report.stats
    failed = _failure_count(report)
    assert failed == sum(1 for pair in calls if _involves_broken(*pair)) > 0
    assert stats.verified_pairs + failed == stats.gated_pairs  # every other pair was checked
    assert max(calls.values()) == 1  # a failed pair is not tried again within the scan
    line = _keypoint_warnings(report)[0]
    assert str(broken) in line and "RuntimeError: boom second line" in line
    grouped = {Path(m.path).name for g in report.groups for m in g.members}
    assert GOOD in grouped  # the healthy pair still decides as it should


@pytest.fixture
def threads_for_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """verify_in_parallel's pool, in threads: monkeypatches reach its workers."""

    def pool(workers: int, **_: object) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(workers)

    monkeypatch.setattr("concurrent.futures.ProcessPoolExecutor", pool)


@pytest.mark.usefixtures("threads_for_processes")
def test_a_check_that_raises_in_a_worker_costs_its_pair_only(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _library_with_a_broken_copy(tmp_path, 8)
    calls: Counter[tuple[str, str]] = Counter()
    monkeypatch.setattr(Verifier, "verify", _failing_verify(calls))
    report = scan([Root(tmp_path)], ScanConfig(workers=2, **OPEN_GATE), encoder=encoder)
    stats = report.stats
    assert stats.gated_pairs >= 32  # the parallel path ran
    failed = _failure_count(report)
    assert failed == sum(1 for pair in calls if _involves_broken(*pair)) > 0
    assert stats.verified_pairs + failed == stats.gated_pairs
    assert max(calls.values()) == 1  # the scoring loop did not run the failed ones again


@pytest.mark.usefixtures("threads_for_processes")
def test_a_worker_that_dies_costs_its_chunk_only(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _library_with_a_broken_copy(tmp_path, 8)
    real_chunk = verify._verify_chunk
    doomed: list[int] = []

    def chunk_or_crash(jobs: list[tuple[str, str, int]]) -> list[verify.ChunkResult]:
        if any({Path(a).name, Path(b).name} == {BROKEN, GOOD} for a, b, _ in jobs):
            doomed.append(len(jobs))
            raise BrokenProcessPool("a worker was killed")
        return real_chunk(jobs)

    monkeypatch.setattr(verify, "_verify_chunk", chunk_or_crash)
    report = scan([Root(tmp_path)], ScanConfig(workers=2, **OPEN_GATE), encoder=encoder)
    assert len(doomed) == 1 and _failure_count(report) == doomed[0]
    assert report.stats.verified_pairs + sum(doomed) == report.stats.gated_pairs
    assert "BrokenProcessPool: a worker was killed" in _keypoint_warnings(report)[0]
