"""Perceptual hashes (pHash, dHash, wHash) in all eight orientations of the picture.

The three hashes are imagehash's algorithms (phash, dhash, whash with image_scale=64),
reimplemented here in numpy and PIL so that a scan needs neither imagehash nor the scipy and
PyWavelets it imports; they are bit-identical to imagehash on the 64x64 grey square we compute
them from (tests/test_hashes.py checks this against imagehash itself; the one exception is a
pHash coefficient that ties the median exactly, which only symmetric synthetic pictures have).
We resize once to that square, which is where imagehash spent ~95% of its time. Hashing the
eight flips and rotations lets the hash prefilter find rotated and mirrored copies and name
the transform.
"""

from __future__ import annotations

from typing import Any, Final

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

# pywt's Haar filter taps are all +-sqrt(1/2) as this double (rec_lo, rec_hi, dec_lo, dec_hi).
_HAAR: Final = float.fromhex("0x1.6a09e667f3bcdp-1")


def _halves(x: NDArray[np.float64], axis: int) -> tuple[NDArray[np.float64], ...]:
    """The even and odd entries of ``x`` along ``axis`` (-2: rows, -1: columns)."""
    if axis == -2:
        return x[..., 0::2, :], x[..., 1::2, :]
    return x[..., 0::2], x[..., 1::2]


def _haar_split(x: NDArray[np.float64], axis: int) -> tuple[NDArray[np.float64], ...]:
    """pywt.dwt_axis(x, "haar", axis=axis) for an even length: (approximation, detail).

    pywt's C convolution sums ``0 + dec[0] * x[2k+1] + dec[1] * x[2k]`` with dec_lo = (c, c) and
    dec_hi = (-c, c); each product and each sum is rounded once, exactly as these numpy ops do.
    """
    c_even, c_odd = _halves(_HAAR * x, axis)
    return c_odd + c_even, c_even - c_odd


def _haar_merge(a: NDArray[np.float64], d: NDArray[np.float64], axis: int) -> NDArray[np.float64]:
    """pywt.idwt_axis(a, d, "haar", axis=axis): x[2k] = c*a + c*d, x[2k+1] = c*a - c*d.

    pywt zeroes the output, adds the approximation's products, then the detail's.
    """
    c_a, c_d = _HAAR * a, _HAAR * d
    shape = list(a.shape)
    shape[axis] *= 2
    out = np.empty(shape, dtype=np.float64)
    even, odd = _halves(out, axis)
    np.add(c_a, c_d, out=even)
    np.subtract(c_a, c_d, out=odd)
    return out


def _whash_grid(source: Image.Image) -> NDArray[np.bool_]:
    """imagehash.whash(source, image_scale=64) (Haar, remove_max_haar_ll) as an 8x8 bool grid.

    ``source`` is already the 64x64 "L" square, so imagehash's convert and resize are copies.
    pywt.wavedec2 transforms the rows (axis -2) then the columns of both halves at each level;
    waverec2 undoes the columns first.
    """
    x = np.asarray(source) / 255.0
    details = []
    for _ in range(6):  # wavedec2(pixels, "haar", level=6)
        rows_a, rows_d = _haar_split(x, -2)
        x, ad = _haar_split(rows_a, -1)
        da, dd = _haar_split(rows_d, -1)
        details.append((ad, da, dd))
    x = np.zeros_like(x)  # coeffs[0] *= 0
    for ad, da, dd in reversed(details):  # waverec2
        x = _haar_merge(_haar_merge(x, ad, -1), _haar_merge(da, dd, -1), -2)
    for _ in range(3):  # wavedec2(pixels, "haar", level=3)[0]
        x = _haar_split(_haar_split(x, -2)[0], -1)[0]
    return x > np.median(x)


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
    call per hash). wHash is imagehash's Haar wavelet hash in numpy, computed once and
    re-oriented as an 8x8 bit grid, since its Haar low band is a grid of 8x8 block means (for
    flips that is exactly the wHash of the flipped square; for quarter turns the float sums run
    in the other order, so a few pictures in a hundred differ from it by 1-4 bits, as stored
    hashes always have). dHash is recomputed per orientation (the PIL calls of imagehash.dhash)
    because its gradient direction is not symmetric.
    """
    source = hash_source(image)
    grey32 = np.asarray(source.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    wgrid = _whash_grid(source)
    out = np.empty((len(HASH_KINDS), len(ORIENTATIONS), HASH_BYTES), dtype=np.uint8)
    for o, (_, transpose) in enumerate(ORIENTATIONS):
        low = _DCT8 @ _transpose_array(grey32, transpose) @ _DCT8.T
        out[0, o] = np.packbits((low > np.median(low)).ravel())
        view = source if transpose is None else source.transpose(transpose)
        small = np.asarray(view.resize((9, 8), Image.Resampling.LANCZOS))  # imagehash.dhash
        out[1, o] = np.packbits((small[:, 1:] > small[:, :-1]).ravel())
        out[2, o] = np.packbits(_transpose_array(wgrid, transpose).ravel())
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
