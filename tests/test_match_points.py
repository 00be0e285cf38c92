"""The matched keypoints shown in Compare: the scan's own check, its inliers in each file's
pixels as shown (crop offsets, EXIF orientation, quarter turns), capped and spread."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ndid_desktop.engine.features.extract import extract
from ndid_desktop.engine.match.match_points import (
    GRID,
    MAX_LINES,
    match_points,
    matches_from_features,
    spread,
)
from ndid_desktop.engine.match.signals import TRUSTED_INLIERS
from ndid_desktop.engine.match.verify import ORB_HOMOGRAPHY, RANSAC_THRESHOLD, correspondences

from .conftest import dev_photos


def _photo(folder: Path, index: int = 0) -> tuple[Path, Image.Image]:
    source = dev_photos(1, offset=index)[0]
    with Image.open(source) as image:
        picture = image.convert("RGB")
    path = folder / f"photo{index}.png"  # lossless: the crop differs only by its frame
    picture.save(path)
    return path, picture


def _crop(picture: Image.Image, share: float = 0.8) -> tuple[Image.Image, tuple[int, int]]:
    width, height = picture.size
    w, h = int(width * share), int(height * share)
    x, y = (width - w) // 3, (height - h) // 2
    return picture.crop((x, y, x + w, y + h)), (x, y)


def _scale(size: tuple[int, int]) -> float:
    """File pixels per pixel of the verifier's working frame (long side 512)."""
    return max(max(size) / 512, 1.0)


def _assert_maps(found: np.ndarray, expected: np.ndarray, size: tuple[int, int]) -> None:
    """The points land where the true mapping puts them: no offset beyond ORB's own (its
    pyramid levels place keypoints up to about half a working pixel towards their top left,
    which a quarter turn shows as a shift; a wrong crop offset or a mixed-up axis is tens of
    pixels), and each within what ORB locates and RANSAC accepts."""
    scale = _scale(size)
    error = found - expected
    distance = np.hypot(*error.T)
    assert np.all(np.abs(error.mean(axis=0)) < 0.75 * scale), error.mean(axis=0)
    assert np.median(distance) < 1.5 * scale, np.median(distance)
    assert distance.max() < 2 * RANSAC_THRESHOLD * scale, distance.max()


def test_a_crop_gives_many_inliers_that_map_through_the_crop_offset(tmp_path: Path) -> None:
    path_a, picture = _photo(tmp_path)
    crop, (x, y) = _crop(picture)
    path_b = tmp_path / "crop.jpg"
    crop.save(path_b, quality=92)

    found = match_points(str(path_a), str(path_b))

    assert found.inliers >= 100 and found.trusted and found.measurable
    assert found.orientation == 0
    assert found.size_a == picture.size and found.size_b == crop.size
    assert 0 < len(found.points_a) == len(found.points_b) <= MAX_LINES
    _assert_maps(found.points_b + np.array([x, y]), found.points_a, picture.size)
    # The homography maps b's pixels onto a's: about a shift by the crop offset.
    assert found.homography is not None
    corner = found.homography @ np.array([0.0, 0.0, 1.0])
    assert np.allclose(corner[:2] / corner[2], [x, y], atol=2 * _scale(picture.size))


def test_the_inliers_are_the_scans_own_check(tmp_path: Path) -> None:
    path_a, picture = _photo(tmp_path)
    path_b = tmp_path / "crop.jpg"
    _crop(picture, 0.7)[0].save(path_b, quality=85)
    a, b = (extract(str(p), None, 1 << 30, ORB_HOMOGRAPHY) for p in (path_a, path_b))
    assert a.local and b.local and a.info and b.info

    scans_check = ORB_HOMOGRAPHY.verify(a.local, b.local, 0)
    shown = match_points(str(path_a), str(path_b))
    cached = matches_from_features(
        a.local, b.local, (a.info.width, a.info.height), (b.info.width, b.info.height), 0
    )
    assert shown.inliers == cached.inliers == scans_check.inliers
    assert shown.inlier_ratio == scans_check.inlier_ratio
    assert np.array_equal(shown.points_a, cached.points_a)
    # The evidence keeps the verifier's result bit for bit, seen from either side.
    assert correspondences(a.local, b.local, 0).verification == scans_check
    assert correspondences(b.local, a.local, 0).verification == ORB_HOMOGRAPHY.verify(
        b.local, a.local, 0
    )


def test_either_order_shows_the_same_matches_swapped(tmp_path: Path) -> None:
    path_a, picture = _photo(tmp_path)
    path_b = tmp_path / "crop.jpg"
    _crop(picture)[0].save(path_b, quality=90)
    ab = match_points(str(path_a), str(path_b), max_lines=10_000)
    ba = match_points(str(path_b), str(path_a), max_lines=10_000)
    assert ab.inliers == ba.inliers
    pairs_ab = {
        tuple(np.round(np.r_[p, q], 2)) for p, q in zip(ab.points_a, ab.points_b, strict=True)
    }
    pairs_ba = {
        tuple(np.round(np.r_[q, p], 2)) for p, q in zip(ba.points_a, ba.points_b, strict=True)
    }
    assert pairs_ab == pairs_ba


@pytest.mark.parametrize(("first", "second"), [(0, 1), (2, 5), (3, 7)])
def test_unrelated_pictures_give_few_or_no_inliers(tmp_path: Path, first: int, second: int) -> None:
    path_a, _ = _photo(tmp_path, first)
    path_b, _ = _photo(tmp_path, second)
    found = match_points(str(path_a), str(path_b))
    assert found.inliers < TRUSTED_INLIERS and not found.trusted
    assert len(found.points_a) == found.inliers or found.inliers > MAX_LINES


def test_an_exif_rotated_files_points_are_in_its_shown_orientation(tmp_path: Path) -> None:
    path_a, picture = _photo(tmp_path)
    crop, (x, y) = _crop(picture)
    # Stored a quarter turn counter-clockwise, with the tag (6) that turns it back to show.
    stored = crop.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path_b = tmp_path / "rotated-by-exif.jpg"
    stored.save(path_b, quality=92, exif=exif)

    found = match_points(str(path_a), str(path_b))

    assert found.size_b == crop.size != stored.size  # the shown orientation
    assert found.orientation == 0  # decoded the right way up: nothing left to turn
    assert found.inliers >= 100
    _assert_maps(found.points_b + np.array([x, y]), found.points_a, picture.size)


def test_a_turned_copys_points_stay_in_its_own_frame(tmp_path: Path) -> None:
    path_a, picture = _photo(tmp_path)
    width = picture.width
    turned = picture.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise, no tag
    path_b = tmp_path / "turned.png"
    turned.save(path_b)

    found = match_points(str(path_a), str(path_b))

    assert found.orientation != 0 and found.size_b == turned.size
    assert found.inliers >= 100
    # A pixel (x, y) of the picture lies at (y, width - 1 - x) in the turned copy.
    expected_b = np.stack([found.points_a[:, 1], width - 1 - found.points_a[:, 0]], axis=1)
    _assert_maps(found.points_b, expected_b, picture.size)


def test_the_lines_kept_are_spread_over_the_grid() -> None:
    rng = np.random.default_rng(3)
    crowded = rng.uniform(0, 50, (900, 2))  # one corner cell, 900 points
    elsewhere = np.array(
        [[(i + 0.5) * 800 / GRID, (j + 0.5) * 800 / GRID] for i in range(GRID) for j in range(GRID)]
    )
    points = np.vstack([crowded, elsewhere]).astype(np.float32)

    kept = spread(points, (800, 800), 150)

    assert len(kept) == 150 and np.all(np.diff(kept) > 0)
    # The point of every other cell is kept (index 900 shares the crowded corner's cell); the
    # crowded corner fills the rest.
    assert set(range(901, 900 + GRID * GRID)) <= set(kept.tolist())
    assert np.sum(kept < 900) == 150 - (GRID * GRID - 1) - int(900 in kept)
    assert np.array_equal(spread(points[:100], (800, 800), 150), np.arange(100))
