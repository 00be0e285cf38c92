"""Which file of a pair was made from the other: the direction-of-derivation model.

A small logistic regression, in the spirit of the match calibration: each feature is measured
for an ordered pair (a, b) so that swapping the files flips its sign, and the model has no
intercept, so P(a made b) = 1 - P(b made a) by construction. Its weights are fitted on copies
whose direction is known (the edit generator and the lifelike library, evaluation/
direction_fit.py) and kept in JSON (resources/direction.json, or the user's own).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.match.decision import CalibrationError, save_json
from ndid_desktop.engine.types import FileEntry, ImageInfo, PairSignals

DIRECTION_FORMAT = 1
DIRECTION_FILE = "direction.json"
LOSSLESS = frozenset({"PNG", "TIFF", "BMP", "RAW"})
WEB_FORMATS = frozenset({"WEBP", "GIF"})
CAMERA_FORMATS = frozenset({"HEIF", "AVIF"})  # phones write these as originals, with EXIF
# A lossless file whose 8x8 grid is at least this strong was once a JPEG (decode.py's
# jpeg_grid: ~1.0 for pixels that never were one).
JPEG_GRID = 1.1
# Colourfulness (Hasler & Süsstrunk) below GREY is a greyscale picture, above COLOUR a colour one.
GREY, COLOUR = 3.0, 8.0
# File times closer than this say nothing about which was first (copies made in one go).
SAME_TIME_NS = 2_000_000_000
# Aspect ratios cameras and phones write (either way up). A picture far from all of them was
# usually cropped or stretched.
CAMERA_ASPECTS = (1.0, 5 / 4, 4 / 3, 3 / 2, 16 / 9)


@dataclass(frozen=True)
class Candidate:
    index: int
    entry: FileEntry
    info: ImageInfo


@dataclass(frozen=True)
class Geometry:
    """How pictures a and b overlap, seen from a (from the verifier's homography)."""

    a_covered: float  # share of a that b covers
    b_covered: float  # share of b that a covers
    a_detail_outside: float  # texture of a outside b, relative to a's own (~1: picture, ~0: flat)
    b_detail_outside: float

    @staticmethod
    def of(s: PairSignals) -> Geometry | None:
        """None when the keypoint check did not run; no overlap either way when it ran and
        found no geometry (it could not confirm that either file holds the other)."""
        if s.coverage_ab is None or s.coverage_ba is None:
            return None
        if not s.inliers:
            return NOT_FOUND
        return Geometry(
            s.coverage_ab,
            s.coverage_ba,
            1.0 if s.detail_ab is None else s.detail_ab,
            1.0 if s.detail_ba is None else s.detail_ba,
        )

    def flipped(self) -> Geometry:
        return Geometry(
            self.b_covered, self.a_covered, self.b_detail_outside, self.a_detail_outside
        )

    def a_extra_picture(self) -> float:
        """How much real picture a shows that b lacks (b is a crop of a: large)."""
        return (1.0 - self.a_covered) * min(self.a_detail_outside, 1.5)

    def b_extra_frame(self) -> float:
        """How much flat surround b adds around a (a border, app window, page: large)."""
        return (1.0 - self.b_covered) * max(0.0, 1.0 - self.b_detail_outside)


NOT_FOUND = Geometry(0.0, 0.0, 1.0, 1.0)  # checked: no geometry found between the two
# geometry(i, j): how candidates i and j overlap seen from i, or None when it was not measured
GeometryFn = Callable[[int, int], Geometry | None]


def aspect_oddness(info: ImageInfo) -> int:
    """0 for a camera aspect ratio, growing in steps of ~5% away from the nearest one."""
    ratio = max(info.aspect, 1 / info.aspect) if info.aspect > 0 else 1.0
    distance = min(abs(math.log(ratio / a)) for a in CAMERA_ASPECTS)
    return 0 if distance < 0.03 else int(distance / 0.05) + 1


def _converted(info: ImageInfo) -> bool:
    return info.format in LOSSLESS and (info.jpeg_grid or 0.0) >= JPEG_GRID


def _clean_lossless(info: ImageInfo) -> bool:
    return info.format in LOSSLESS and not _converted(info)


def _reencoded(info: ImageInfo) -> bool:
    # WebP and GIF are web formats no camera writes; a HEIF/AVIF without the camera's EXIF was
    # converted by an app (a phone always writes its EXIF into its own HEIF).
    return info.format in WEB_FORMATS or (info.format in CAMERA_FORMATS and info.camera is None)


# Apps whose name in EXIF Software says the file was edited or exported by them (cameras and
# scanners write their firmware or driver there, which says nothing of the kind).
EDITORS = (
    "photoshop", "lightroom", "gimp", "snapseed", "picasa", "paint.net", "pixelmator",
    "affinity", "darktable", "capture one", "luminar", "acdsee", "photoscape", "canva",
    "facetune", "vsco", "instagram", "photos", "preview", "windows photo editor",
)  # fmt: skip


def _edited_by_app(info: ImageInfo) -> bool:
    software = (info.software or "").lower()
    return any(name in software for name in EDITORS)


def _grey(info: ImageInfo) -> bool:
    return info.chroma is not None and info.chroma < GREY


def _colour(info: ImageInfo) -> bool:
    return info.chroma is not None and info.chroma > COLOUR


def _turned_by_tool(info: ImageInfo) -> bool:
    # An orientation tag on a file no camera wrote: a tool turned it without touching pixels.
    return info.orientation != 1 and info.camera is None


def _camera_turned(info: ImageInfo) -> bool:
    # Stored turned with the tag, as the camera wrote it (a copy usually bakes the turn in).
    return info.orientation != 1 and info.camera is not None


def _flag(x: bool) -> float:
    return 1.0 if x else 0.0


def _shared_pixels(a: Candidate, b: Candidate, g: Geometry | None) -> float:
    """log of how many more pixels a spends on the content both show than b does."""
    pa, pb = float(a.info.pixels), float(b.info.pixels)
    if g is not None:
        pa, pb = pa * max(g.a_covered, 0.01), pb * max(g.b_covered, 0.01)
    return float(np.clip(math.log(max(pa, 1.0) / max(pb, 1.0)), -3.0, 3.0))


def _older(a: FileEntry, b: FileEntry) -> float:
    gap = b.mtime_ns - a.mtime_ns
    return 0.0 if abs(gap) < SAME_TIME_NS else math.copysign(1.0, gap)


def _jpeg_quality(a: ImageInfo, b: ImageInfo) -> float:
    if a.jpeg_quality is None or b.jpeg_quality is None:
        return 0.0
    return float(np.clip((a.jpeg_quality - b.jpeg_quality) / 10.0, -3.0, 3.0))


# Each feature of an ordered pair (a, b): positive when it says a is the source of b, and
# exactly negated when a and b swap.
PairFeature = Callable[[Candidate, Candidate, Geometry | None], float]
FEATURES: Mapping[str, PairFeature] = {
    "shared_pixels": _shared_pixels,
    "crop": lambda a, b, g: (
        0.0 if g is None else g.a_extra_picture() - g.flipped().a_extra_picture()
    ),
    "frame": lambda a, b, g: 0.0 if g is None else g.b_extra_frame() - g.flipped().b_extra_frame(),
    "jpeg_quality": lambda a, b, g: _jpeg_quality(a.info, b.info),
    "lossless": lambda a, b, g: _flag(_clean_lossless(a.info)) - _flag(_clean_lossless(b.info)),
    "converted": lambda a, b, g: _flag(_converted(b.info)) - _flag(_converted(a.info)),
    "reencoded": lambda a, b, g: _flag(_reencoded(b.info)) - _flag(_reencoded(a.info)),
    "colour": lambda a, b, g: (
        _flag(_colour(a.info) and _grey(b.info)) - _flag(_colour(b.info) and _grey(a.info))
    ),
    "camera": lambda a, b, g: _flag(a.info.camera is not None) - _flag(b.info.camera is not None),
    "taken_at": lambda a, b, g: (
        _flag(a.info.taken_at is not None) - _flag(b.info.taken_at is not None)
    ),
    "editor": lambda a, b, g: _flag(_edited_by_app(b.info)) - _flag(_edited_by_app(a.info)),
    "exif": lambda a, b, g: _flag(a.info.has_exif) - _flag(b.info.has_exif),
    "older": lambda a, b, g: _older(a.entry, b.entry),
    "aspect": lambda a, b, g: float(
        np.clip((aspect_oddness(b.info) - aspect_oddness(a.info)) / 3.0, -1.0, 1.0)
    ),
    "tool_turned": lambda a, b, g: _flag(_turned_by_tool(b.info)) - _flag(_turned_by_tool(a.info)),
    "camera_turned": lambda a, b, g: _flag(_camera_turned(a.info)) - _flag(_camera_turned(b.info)),
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)


def direction_features(a: Candidate, b: Candidate, g: Geometry | None) -> NDArray[np.float64]:
    """The feature vector of the ordered pair (a, b), ``g`` seen from a. Rounded: a picture
    and its identical copy measure coverage 1 - 1e-16 one way and 1.0 the other, which must
    read as no evidence, not as a crop (rounding keeps the sign flip exact)."""
    values = np.array([f(a, b, g) for f in FEATURES.values()], dtype=np.float64)
    return np.asarray(np.round(values, 3), dtype=np.float64)


class DirectionModelError(CalibrationError):
    """A direction model file that cannot be used (said wherever a bad calibration is)."""


@dataclass(frozen=True)
class DirectionModel:
    """P(a is the source of b) = sigmoid(coef . features(a, b)); no intercept (see above)."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def logit(self, a: Candidate, b: Candidate, g: Geometry | None) -> float:
        return float(np.dot(self.contributions_vector(a, b, g), np.ones(len(self.coef))))

    def contributions_vector(
        self, a: Candidate, b: Candidate, g: Geometry | None
    ) -> NDArray[np.float64]:
        x = direction_features(a, b, g)
        picked = np.array([x[FEATURE_NAMES.index(n)] for n in self.features], dtype=np.float64)
        return picked * np.array(self.coef, dtype=np.float64)

    def contributions(self, a: Candidate, b: Candidate, g: Geometry | None) -> dict[str, float]:
        """Each feature's part of the logit: the model's own explanation of a direction."""
        values = self.contributions_vector(a, b, g)
        return {n: float(v) for n, v in zip(self.features, values, strict=True)}

    def probability(self, a: Candidate, b: Candidate, g: Geometry | None) -> float:
        z = self.logit(a, b, g)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DIRECTION_FORMAT,
            "features": list(self.features),
            "coef": list(self.coef),
            "metrics": self.metrics,
            "source": self.source,
        }

    def save(self, path: Path) -> None:
        save_json(self.to_json(), path)

    @staticmethod
    def from_json(data: dict[str, Any], origin: str) -> DirectionModel:
        try:
            if data.get("format") != DIRECTION_FORMAT:
                raise DirectionModelError(f"{origin}: unsupported direction model format")
            model = DirectionModel(
                features=tuple(str(f) for f in data["features"]),
                coef=tuple(float(c) for c in data["coef"]),
                metrics=dict(data.get("metrics", {})),
                source=str(data.get("source", origin)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DirectionModelError):
                raise
            raise DirectionModelError(f"{origin}: malformed direction model ({exc})") from exc
        unknown = [f for f in model.features if f not in FEATURES]
        if unknown:
            raise DirectionModelError(f"{origin}: unknown features {', '.join(unknown)}")
        if len(model.coef) != len(model.features):
            raise DirectionModelError(f"{origin}: features and coefficients differ in length")
        return model


def load_direction_model(path: Path | None = None, user_dir: Path | None = None) -> DirectionModel:
    """From ``path``; else the user's own (``ndid calibrate --auto``) in ``user_dir``; else the
    bundled one."""
    own = user_dir / DIRECTION_FILE if user_dir is not None else None
    if path is None and own is not None and own.is_file():
        path = own
    if path is not None:
        try:
            text, origin = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise DirectionModelError(f"cannot read direction model {path}: {exc}") from exc
    else:
        text = (
            resources.files("ndid_desktop.resources")
            .joinpath(DIRECTION_FILE)
            .read_text(encoding="utf-8")
        )
        origin = f"bundled {DIRECTION_FILE}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DirectionModelError(f"{origin}: not valid JSON ({exc})") from exc
    return DirectionModel.from_json(data, origin)
