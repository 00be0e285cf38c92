import imagehash
import numpy as np
import pytest
from PIL import Image

from ndid_desktop.engine.hashes import (
    ORIENTATIONS,
    best_orientation,
    compute_hashes,
    distances_at,
    hash_source,
)

from .conftest import textured


def test_identity_hashes_equal_imagehash_on_the_same_source() -> None:
    img = textured(1)
    source = hash_source(img)
    ours = compute_hashes(img)
    for k, fn in enumerate((imagehash.phash, imagehash.dhash)):
        ref = np.packbits(np.asarray(fn(source).hash, dtype=bool).ravel())
        assert (ours[k, 0] == ref).all()
    ref_w = np.packbits(np.asarray(imagehash.whash(source, image_scale=64).hash).ravel())
    assert (ours[2, 0] == ref_w).all()


@pytest.mark.parametrize("orientation", range(1, 8))
def test_every_flip_and_rotation_is_found_and_named(orientation: int) -> None:
    img = textured(2, (320, 240))
    transpose = ORIENTATIONS[orientation][1]
    assert transpose is not None
    copy = img.transpose(transpose)
    found, distance = best_orientation(compute_hashes(copy), compute_hashes(img))
    # Undoing the edit is the transform that maps the copy back; it must match closely.
    assert distance <= 4
    back = ORIENTATIONS[found][1]
    restored = img if back is None else img.transpose(back)
    assert np.abs(np.asarray(restored, int) - np.asarray(copy, int)).mean() < 1.0


def test_unrelated_pictures_are_far_apart() -> None:
    a, b = compute_hashes(textured(3)), compute_hashes(textured(4))
    assert min(distances_at(a, b, best_orientation(a, b)[0])) > 12


def test_recompressed_copy_stays_close(tmp_path) -> None:
    img = textured(5)
    img.save(tmp_path / "q.jpg", "JPEG", quality=30)
    a, b = compute_hashes(img), compute_hashes(Image.open(tmp_path / "q.jpg").convert("RGB"))
    assert max(distances_at(a, b, 0)) <= 6
