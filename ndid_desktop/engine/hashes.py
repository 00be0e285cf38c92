"""Perceptual hashes (pHash, dHash, wHash) in all eight orientations of the picture.

imagehash spends ~95% of its time resizing; we resize once to a 64x64 grey square and hand
imagehash that, so each hash costs a fraction of a millisecond. Hashing the eight flips and
rotations lets the hash prefilter find rotated and mirrored copies and name the transform.
"""

from __future__ import annotations

from typing import Any, Final

import imagehash
import numpy as np
from numpy.typing import NDArray
from PIL import Image

HASH_KINDS: Final = ("phash", "dhash", "whash")
HASH_BYTES: Final = 8  # 64-bit hashes
_T = Image.Transpose
# The transform at index i, applied to picture b, maps it onto picture a; the label says what b
# is relative to a (PIL's ROTATE_90 is counter-clockwise, so undoing it means b was turned right).
ORIENTATIONS: Final[tuple[tuple[str, _T | None], ...]] = (
    ("as is", None),
    ("mirrored", _T.FLIP_LEFT_RIGHT),
    ("flipped upside down", _T.FLIP_TOP_BOTTOM),
    ("rotated 180°", _T.ROTATE_180),
    ("turned 90° right", _T.ROTATE_90),
    ("turned 90° left", _T.ROTATE_270),
    ("transposed (turned and mirrored)", _T.TRANSPOSE),
    ("transversed (turned and mirrored)", _T.TRANSVERSE),
)
QUARTER_TURNS: Final = frozenset({4, 5, 6, 7})  # orientations that swap width and height


def _dct_rows(n: int, keep: int) -> NDArray[np.float64]:
    # The first ``keep`` rows of scipy.fftpack's unnormalised DCT-II matrix, so that
    # rows @ X @ rows.T equals imagehash's dct(dct(X, axis=0), axis=1)[:keep, :keep].
    k = np.arange(keep)[:, None]
    i = np.arange(n)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))


_DCT8 = _dct_rows(32, 8)


def _transpose_array(arr: NDArray[Any], transpose: _T | None) -> NDArray[Any]:
    """The numpy equivalent of PIL's Image.transpose on a 2-D (rows, cols) array."""
    match transpose:
        case None:
            return arr
        case _T.FLIP_LEFT_RIGHT:
            return arr[:, ::-1]
        case _T.FLIP_TOP_BOTTOM:
            return arr[::-1, :]
        case _T.ROTATE_180:
            return arr[::-1, ::-1]
        case _T.ROTATE_90:
            return np.rot90(arr, 1)
        case _T.ROTATE_270:
            return np.rot90(arr, 3)
        case _T.TRANSPOSE:
            return arr.T
        case _T.TRANSVERSE:
            return np.rot90(arr, 2).T
    raise ValueError(f"unsupported transpose {transpose}")


def hash_source(image: Image.Image) -> Image.Image:
    """The 64x64 grey square every hash is computed from (as imagehash converts: L, Lanczos)."""
    return image.convert("L").resize((64, 64), Image.Resampling.LANCZOS)


def compute_hashes(image: Image.Image) -> NDArray[np.uint8]:
    """Hashes of ``image`` as an array of shape (3 kinds, 8 orientations, 8 bytes).

    pHash is imagehash's algorithm on a numpy DCT (bit-identical, ~50x cheaper than its scipy
    call per hash); wHash comes from imagehash once and is re-oriented as an 8x8 bit grid, which
    is exact because its Haar low band is a grid of 8x8 block means; dHash is recomputed per
    orientation because its gradient direction is not symmetric.
    """
    source = hash_source(image)
    grey32 = np.asarray(source.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    wgrid = np.asarray(imagehash.whash(source, image_scale=64).hash, dtype=bool)
    out = np.empty((len(HASH_KINDS), len(ORIENTATIONS), HASH_BYTES), dtype=np.uint8)
    for o, (_, transpose) in enumerate(ORIENTATIONS):
        low = _DCT8 @ _transpose_array(grey32, transpose) @ _DCT8.T
        out[0, o] = np.packbits((low > np.median(low)).ravel())
        view = source if transpose is None else source.transpose(transpose)
        out[1, o] = np.packbits(np.asarray(imagehash.dhash(view).hash, dtype=bool).ravel())
        out[2, o] = np.packbits(_transpose_array(wgrid, transpose).ravel().astype(bool))
    return out


def hamming(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> NDArray[np.int64]:
    """Bit distance between packed hashes along the last axis (broadcasts)."""
    return np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1, dtype=np.int64)


def best_orientation(hashes_a: NDArray[np.uint8], hashes_b: NDArray[np.uint8]) -> tuple[int, int]:
    """(orientation, pHash distance) of the transform of b that best matches a as it is.

    Ties go to the lowest index, so an unrotated match is preferred over a symmetric one.
    """
    distances = hamming(hashes_a[0, 0][None, :], hashes_b[0])
    o = int(np.argmin(distances))
    return o, int(distances[o])


def distances_at(
    hashes_a: NDArray[np.uint8], hashes_b: NDArray[np.uint8], orientation: int
) -> tuple[int, int, int]:
    """(pHash, dHash, wHash) distances between a as is and b in ``orientation``."""
    d = hamming(hashes_a[:, 0], hashes_b[:, orientation])
    return int(d[0]), int(d[1]), int(d[2])
