"""Hashes and orientations. imagehash (a dev/test dependency only) is the reference: the
numpy hashes must reproduce its bits exactly, since users' caches and the fitted calibration
hold hashes computed with it (wHash, dHash) or bit-identical to it (pHash)."""

import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import imagehash
import numpy as np
import pytest
import scipy.fftpack
from numpy.typing import NDArray
from PIL import Image

from ndid_desktop.engine.features.hashes import (
    HASH_BYTES,
    HASH_KINDS,
    ORIENTATIONS,
    best_orientation,
    compute_hashes,
    distances_at,
    hash_source,
)

from .conftest import dev_photos, textured


def _bits(h: imagehash.ImageHash) -> NDArray[np.uint8]:
    return np.packbits(np.asarray(h.hash, dtype=bool).ravel())


def imagehash_reference(image: Image.Image) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """compute_hashes as it was built on imagehash, the bits stored in caches and calibration;
    and, packed the same way, the pHash bits whose DCT coefficient in imagehash equals the median.

    pHash re-orients the 32x32 grey square it hashes (a PIL transpose is a pure pixel move, and
    imagehash's own resize of a 32x32 image is a copy); wHash is computed once and its 8x8 grid
    re-oriented; dHash hashes each re-oriented 64x64 square.
    """
    source = hash_source(image)
    grey32 = source.resize((32, 32), Image.Resampling.LANCZOS)
    wgrid = Image.fromarray(np.asarray(imagehash.whash(source, image_scale=64).hash, dtype=bool))
    out = np.empty((len(HASH_KINDS), len(ORIENTATIONS), HASH_BYTES), dtype=np.uint8)
    ties = np.empty((len(ORIENTATIONS), HASH_BYTES), dtype=np.uint8)
    for o, (_, t) in enumerate(ORIENTATIONS):
        view32 = grey32 if t is None else grey32.transpose(t)
        out[0, o] = _bits(imagehash.phash(view32))
        out[1, o] = _bits(imagehash.dhash(source if t is None else source.transpose(t)))
        out[2, o] = np.packbits(np.asarray(wgrid if t is None else wgrid.transpose(t)).ravel())
        px = np.asarray(view32)  # imagehash.phash's own coefficients, to find exact ties
        low = scipy.fftpack.dct(scipy.fftpack.dct(px, axis=0), axis=1)[:8, :8]
        ties[o] = np.packbits((low == np.median(low)).ravel())
    return out, ties


def _mismatches(images: list[tuple[str, Image.Image]], phash_ties_ok: bool = False) -> list[str]:
    """Every (picture, orientation of the input) whose hashes differ from imagehash's.

    With ``phash_ties_ok``, pHash bits whose coefficient exactly equals the median in imagehash
    (where only symmetric synthetic pictures put one) are not compared: imagehash's FFT DCT
    gives such a coefficient exactly, our matrix DCT gives it +-1e-13 of rounding noise, and
    ``>`` then decides on the noise. Those bits have been the numpy DCT's since the first
    commit, so they are what the caches hold. dHash and wHash are always compared in full.
    """
    failures = []
    for name, picture in images:
        for label, t in ORIENTATIONS:
            img = picture if t is None else picture.transpose(t)
            ours, (ref, ties) = compute_hashes(img), imagehash_reference(img)
            diff = ours ^ ref
            if phash_ties_ok:
                diff[0] &= ~ties
            if diff.any():
                counts = np.bitwise_count(diff).sum(axis=(1, 2)).tolist()
                bits = dict(zip(HASH_KINDS, counts, strict=True))
                failures.append(f"{name} {label}: bits differ {bits}")
    return failures


def test_identity_hashes_equal_imagehash_on_the_same_source() -> None:
    img = textured(1)
    source = hash_source(img)
    ours = compute_hashes(img)
    refs = imagehash.phash(source), imagehash.dhash(source), imagehash.whash(source, 8, 64)
    for k, ref in enumerate(refs):
        assert (ours[k, 0] == _bits(ref)).all(), HASH_KINDS[k]


def test_hashes_match_imagehash_bit_for_bit_on_real_photos() -> None:
    photos = []
    for path in dev_photos(50):
        with Image.open(path) as im:
            im.draft("RGB", (512, 512))  # any input will do; decoding small keeps this quick
            photos.append((path.name, im.convert("RGB")))
    assert len(photos) == 50
    assert _mismatches(photos) == []


def _checkerboard(size: tuple[int, int], period: int, lo: int = 0, hi: int = 255) -> Image.Image:
    y, x = np.indices((size[1], size[0]))
    return Image.fromarray(np.where((x // period + y // period) % 2, hi, lo).astype(np.uint8))


def _gradient(size: tuple[int, int], axis: str) -> Image.Image:
    y, x = np.indices((size[1], size[0]), dtype=np.float64)
    ramp = {"x": x / max(size[0] - 1, 1), "y": y / max(size[1] - 1, 1)}.get(axis)
    if ramp is None:
        ramp = (x + y) / max(size[0] + size[1] - 2, 1)
    return Image.fromarray(np.round(ramp * 255).astype(np.uint8))


def _noise(size: tuple[int, int], seed: int, mode: str = "L") -> Image.Image:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


def _one_pixel_off(value: int, delta: int) -> Image.Image:
    arr = np.full((64, 64), value, dtype=np.uint8)
    arr[17, 42] = value + delta
    return Image.fromarray(arr)


PERIODS = (1, 2, 3, 4, 8, 16, 32)
SYNTHETIC: dict[str, Callable[[], Image.Image]] = {
    **{f"flat-L-{v}": partial(Image.new, "L", (64, 64), v) for v in (0, 1, 127, 128, 255)},
    "flat-RGB-big": lambda: Image.new("RGB", (640, 480), (200, 30, 90)),
    "flat-1px": lambda: Image.new("L", (1, 1), 77),
    "one-pixel-off-dark": lambda: _one_pixel_off(0, 1),
    "one-pixel-off-bright": lambda: _one_pixel_off(255, -1),
    "one-pixel-off-grey": lambda: _one_pixel_off(128, 1),
    "strip-1x300-noise": lambda: _noise((1, 300), 1),
    "strip-300x1-noise": lambda: _noise((300, 1), 2),
    "strip-1x64-gradient": lambda: _gradient((1, 64), "y"),
    "strip-64x1-gradient": lambda: _gradient((64, 1), "x"),
    "strip-2x500-checker": lambda: _checkerboard((2, 500), 1),
    **{f"checker-64-p{p}": partial(_checkerboard, (64, 64), p) for p in PERIODS},
    **{f"checker-640x480-p{p}": partial(_checkerboard, (640, 480), p) for p in (1, 7, 80)},
    "checker-low-contrast": lambda: _checkerboard((64, 64), 4, 127, 128),
    "half-black-half-white": lambda: _checkerboard((64, 64), 32, 0, 255).crop((0, 0, 64, 32)),
    **{f"gradient-{a}": partial(_gradient, (64, 64), a) for a in ("x", "y", "xy")},
    "gradient-x-333x97": lambda: _gradient((333, 97), "x"),
    "gradient-xy-1000x3": lambda: _gradient((1000, 3), "xy"),
    **{f"noise-64-{s}": partial(_noise, (64, 64), s) for s in range(5)},
    "noise-RGB-tiny-2x2": lambda: _noise((2, 2), 7, "RGB"),
    "noise-RGB-7x5": lambda: _noise((7, 5), 8, "RGB"),
    "textured-RGBA": lambda: textured(9).convert("RGBA"),
    "textured-P": lambda: textured(10).convert("P"),
    "textured-1": lambda: textured(11).convert("1"),
}


@pytest.mark.parametrize("name", SYNTHETIC)
def test_hashes_match_imagehash_bit_for_bit_on_edge_cases(name: str) -> None:
    assert _mismatches([(name, SYNTHETIC[name]())], phash_ties_ok=True) == []


def test_importing_hashes_pulls_in_neither_imagehash_nor_scipy_nor_pywavelets() -> None:
    code = (
        "import sys, ndid_desktop.engine.features.hashes;"
        "print(sorted(m for m in ('imagehash', 'scipy', 'pywt') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


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


def test_recompressed_copy_stays_close(tmp_path: Path) -> None:
    img = textured(5)
    img.save(tmp_path / "q.jpg", "JPEG", quality=30)
    a, b = compute_hashes(img), compute_hashes(Image.open(tmp_path / "q.jpg").convert("RGB"))
    assert max(distances_at(a, b, 0)) <= 6
