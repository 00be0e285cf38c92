"""Local features: what the keypoint check needs to know about one picture, without its pixels.

They are extracted once, in the decode workers, from the picture already decoded for the hashes
and the embedding, and cached with the other features: a keypoint check then reads two of them
and never decodes (decoding both pictures again was most of what a check cost).

ORB keypoints are rotation-invariant but not mirror-invariant, so the mirror image of the
picture gets keypoints of its own: with both sets, each orientation in hashes.ORIENTATIONS is
the points of one set moved by a quarter or half turn. A texture map (which pixels are
textured, packed to bits and compressed: ~3 KB) stands in for the grey image that "how much
picture lies outside the overlap" used to be measured on. It is kept at full resolution: a map
of 8x8-cell shares (1.5 KB) let the paste edge of a framed copy leak into the thin band outside
it and lifted a border's measure from 0.0 to as much as 0.5, past the keeper's 0.15.

Everything is in the frame of the working image: the decoded picture reduced to a long side of
at most VERIFY_SIDE, as the check always worked. Coordinates are OpenCV's: x to the right, y
down, pixel (row i, column j) at (j, i).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ndid_desktop.engine.features.hashes import ORIENTATIONS

VERIFY_SIDE: Final = 512  # long side of the working image: enough keypoints, cheap to match
ORB_FEATURES: Final = 1000  # matching cost grows with the square; 1500 doubled it for no decisions
ORB_EDGE: Final = 31  # OpenCV's default edge threshold and patch size: no keypoint lies nearer
# A side shorter than this leaves no room for a single keypoint. On a 1-pixel side OpenCV would
# not even say so: its scale pyramid asks resize for a zero-size level and raises.
MIN_KEYPOINT_SIDE: Final = 2 * ORB_EDGE + 1
TEXTURE_LEVEL: Final = 4.0  # local standard deviation (grey levels) above which it is 'picture'
DESCRIPTOR_BYTES: Final = 32  # ORB: 256 bits
# Bump when the bytes or what they hold change: cached local features are keyed by it.
FORMAT_VERSION: Final = 1
# version, height, width, upright count, mirrored count, compressed texture map bytes
_HEADER = struct.Struct("<BHHIII")
_TEXTURE_COMPRESSION: Final = 1  # zlib level: 3.4 KB in 0.3 ms (level 6: 3.0 KB in 0.8 ms)


class LocalFeatureExtractor(Protocol):
    """What the decode workers need of a pair verifier (match/verify.py)."""

    @property
    def features_key(self) -> str:
        """Keys the cached local features: changes only when extraction does."""
        ...

    def local_features(self, image: Image.Image) -> bytes:
        """The picture's local features as bytes to cache, from the decoded RGB image."""
        ...


@dataclass(frozen=True)
class Keypoints:
    points: NDArray[np.float32]  # (N, 2): x, y
    descriptors: NDArray[np.uint8]  # (N, DESCRIPTOR_BYTES)

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class LocalFeatures:
    height: int  # of the working image
    width: int
    upright: Keypoints  # detected on the picture as it is
    # Detected on its left-right mirror image, the points mapped back into the picture's frame
    # (x -> width - 1 - x), so that one transform per orientation serves both sets.
    mirrored: Keypoints
    textured: NDArray[np.bool_]  # (height, width): local contrast above TEXTURE_LEVEL

    def to_bytes(self) -> bytes:
        texture = zlib.compress(np.packbits(self.textured).tobytes(), _TEXTURE_COMPRESSION)
        counts = (len(self.upright), len(self.mirrored), len(texture))
        parts = [_HEADER.pack(FORMAT_VERSION, self.height, self.width, *counts)]
        for keypoints in (self.upright, self.mirrored):
            parts.append(np.ascontiguousarray(keypoints.points, dtype="<f4").tobytes())
            parts.append(np.ascontiguousarray(keypoints.descriptors, dtype=np.uint8).tobytes())
        parts.append(texture)
        return b"".join(parts)

    @staticmethod
    def from_bytes(data: bytes) -> LocalFeatures:
        """Read ``to_bytes``'s output (the keypoint arrays are read-only views of ``data``).
        Raises ValueError for bytes of another version, or damaged ones."""
        if len(data) < _HEADER.size:
            raise ValueError("no local features: their extraction failed when it was decoded")
        version, height, width, n_upright, n_mirrored, n_texture = _HEADER.unpack_from(data)
        if version != FORMAT_VERSION:
            raise ValueError(f"local features of format {version}, not {FORMAT_VERSION}")
        reader = _Reader(data, _HEADER.size)
        upright = Keypoints(reader.points(n_upright), reader.descriptors(n_upright))
        mirrored = Keypoints(reader.points(n_mirrored), reader.descriptors(n_mirrored))
        texture = reader.uint8s(n_texture)
        if reader.offset != len(data):
            raise ValueError("local features of the wrong length")
        try:
            bits = np.frombuffer(zlib.decompress(texture.tobytes()), np.uint8)
        except zlib.error as exc:
            raise ValueError(f"local features with a damaged texture map ({exc})") from None
        if len(bits) != (height * width + 7) // 8:
            raise ValueError("local features with a texture map of the wrong size")
        textured = np.unpackbits(bits, count=height * width).reshape(height, width)
        return LocalFeatures(height, width, upright, mirrored, textured.astype(bool))


class _Reader:
    """Consecutive arrays out of one bytes object."""

    def __init__(self, data: bytes, offset: int) -> None:
        self.data = data
        self.offset = offset

    def _take(self, count: int, item: int) -> int:
        start = self.offset
        if start + count * item > len(self.data):
            raise ValueError("local features cut short")
        self.offset += count * item
        return start

    def uint8s(self, count: int) -> NDArray[np.uint8]:
        return np.frombuffer(self.data, np.uint8, count, self._take(count, 1))

    def points(self, n: int) -> NDArray[np.float32]:
        found = np.frombuffer(self.data, "<f4", 2 * n, self._take(2 * n, 4))
        return found.astype(np.float32, copy=False).reshape(n, 2)

    def descriptors(self, n: int) -> NDArray[np.uint8]:
        return self.uint8s(DESCRIPTOR_BYTES * n).reshape(n, DESCRIPTOR_BYTES)


def extract_local(image: Image.Image) -> LocalFeatures:
    """The local features of a decoded picture (RGB, the right way up)."""
    grey = working_grey(image)
    height, width = grey.shape
    upright = detect(grey)
    mirror = detect(np.ascontiguousarray(grey[:, ::-1]))
    unmirrored = mirror.points.copy()
    unmirrored[:, 0] = (width - 1) - unmirrored[:, 0]
    mirrored = Keypoints(unmirrored, mirror.descriptors)
    return LocalFeatures(height, width, upright, mirrored, textured_pixels(grey))


def working_grey(image: Image.Image) -> NDArray[np.uint8]:
    """The grey working image, made as the check always made it (reduce, then grey)."""
    if max(image.size) > VERIFY_SIDE:
        image = image.copy()  # thumbnail works in place; the caller still needs the original
        image.thumbnail((VERIFY_SIDE, VERIFY_SIDE))
    return np.asarray(image.convert("L"), dtype=np.uint8)


def detect(grey: NDArray[np.uint8]) -> Keypoints:
    import cv2

    if min(grey.shape[:2]) < MIN_KEYPOINT_SIDE:
        return _no_keypoints()  # a spacer, icon or strip: no geometry to compare
    orb = cv2.ORB.create(nfeatures=ORB_FEATURES, edgeThreshold=ORB_EDGE, patchSize=ORB_EDGE)
    found, descriptors = orb.detectAndCompute(grey, None)
    if descriptors is None or not found:
        return _no_keypoints()
    points = np.asarray(cv2.KeyPoint.convert(found), dtype=np.float32).reshape(-1, 2)
    return Keypoints(points, np.asarray(descriptors, dtype=np.uint8))


def _no_keypoints() -> Keypoints:
    return Keypoints(np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8))


def textured_pixels(grey: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Pixels whose local standard deviation (7x7, after a light blur that takes scanner and
    sensor noise out) is above TEXTURE_LEVEL grey levels."""
    import cv2

    smooth = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 1.0)
    mean = cv2.blur(smooth, (7, 7))
    square = cv2.blur(smooth * smooth, (7, 7))
    # The variance against the squared level: the same pixels as the deviation, no root.
    return np.asarray(square - mean * mean > TEXTURE_LEVEL**2, dtype=np.bool_)


# --- orientations ------------------------------------------------------------------------------


def orientation_matrix(orientation: int, height: int, width: int) -> NDArray[np.float64]:
    """The 3x3 map of pixel coordinates of a (height, width) picture to the same pixels after
    ORIENTATIONS[orientation] (PIL's transpose; ROTATE_90 is counter-clockwise)."""
    w, h = width - 1, height - 1
    transpose = ORIENTATIONS[orientation][1]
    T = Image.Transpose
    rows = {
        None: ((1, 0, 0), (0, 1, 0)),
        T.FLIP_LEFT_RIGHT: ((-1, 0, w), (0, 1, 0)),
        T.FLIP_TOP_BOTTOM: ((1, 0, 0), (0, -1, h)),
        T.ROTATE_180: ((-1, 0, w), (0, -1, h)),
        T.ROTATE_90: ((0, 1, 0), (-1, 0, w)),
        T.ROTATE_270: ((0, -1, h), (1, 0, 0)),
        T.TRANSPOSE: ((0, 1, 0), (1, 0, 0)),
        T.TRANSVERSE: ((0, -1, h), (-1, 0, w)),
    }[transpose]
    return np.array([*rows, (0, 0, 1)], dtype=np.float64)


def is_mirroring(orientation: int) -> bool:
    """Whether the orientation turns the picture over (its keypoints come from the mirror)."""
    return bool(np.linalg.det(orientation_matrix(orientation, 2, 2)[:2, :2]) < 0)


@dataclass(frozen=True)
class Oriented:
    """A picture's keypoints as if it had been turned by one of ORIENTATIONS first: what the
    check used to get by turning the pixels and detecting again."""

    height: int  # after the turn
    width: int
    keypoints: Keypoints
    to_picture: NDArray[np.float64]  # 3x3: the turned frame back to the picture's own frame
    features: LocalFeatures


def oriented(features: LocalFeatures, orientation: int) -> Oriented:
    matrix = orientation_matrix(orientation, features.height, features.width)
    source = features.mirrored if is_mirroring(orientation) else features.upright
    points = source.points.astype(np.float64) @ matrix[:2, :2].T + matrix[:2, 2]
    swapped = matrix[0, 0] == 0  # a quarter turn: width and height trade places
    height, width = (
        (features.width, features.height) if swapped else (features.height, features.width)
    )
    return Oriented(
        height,
        width,
        Keypoints(points.astype(np.float32), source.descriptors),
        np.asarray(np.linalg.inv(matrix), dtype=np.float64),
        features,
    )
