"""Small frozen dataclasses that carry data between the engine's stages and out to the CLI/GUI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FileEntry:
    """A file found under a root: the path exactly as found, and what identifies its content."""

    path: str
    root: str
    reference: bool
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ImageInfo:
    """What the decoder learned about a picture, beyond its pixels (all after EXIF orientation)."""

    width: int
    height: int
    format: str
    jpeg_quality: int | None = None
    camera: str | None = None  # "Make Model" from EXIF, when the file came from a camera
    taken_at: str | None = None  # EXIF DateTimeOriginal, as written by the camera
    # Evidence of provenance (which file was made from which), measured once by the decoder.
    # Colourfulness (Hasler & Süsstrunk 2003) of the decoded picture; ~0 for greyscale.
    chroma: float | None = None
    # Lossless files only: strength of an 8x8 block grid, ~1.0 natural, higher when the pixels
    # were once a JPEG (None for lossy formats and pictures too small to measure).
    jpeg_grid: float | None = None
    software: str | None = None  # EXIF Software tag (the app that wrote the file), when present
    orientation: int = 1  # the EXIF orientation tag as stored in the file (1 when absent)
    has_exif: bool = False  # the file carries an EXIF block with at least one tag

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def aspect(self) -> float:
        return self.width / self.height if self.height else 1.0


@dataclass(frozen=True)
class Skipped:
    """A file the scan could not use, with a reason a person can act on."""

    path: str
    error: str


@dataclass(frozen=True)
class PairSignals:
    """Every measured signal for one pair; the decision model reads a fixed vector of these."""

    phash: int  # Hamming distances (0..64) in the best-matching orientation
    dhash: int
    whash: int
    orientation: int  # index into hashes.ORIENTATIONS of the transform that maps b onto a
    cosine: float | None  # embedding cosine; None when the model set has no embedding
    aspect_log_ratio: float
    area_log_ratio: float
    inliers: int | None = None  # geometric verifier; None when it did not run
    inlier_ratio: float | None = None
    coverage_ab: float | None = None  # share of a's area that b covers (from the homography)
    coverage_ba: float | None = None
    detail_ab: float | None = None  # keypoint density of a outside b, relative to a's average
    detail_ba: float | None = None
    gate_cosine: float | None = None  # the gate encoder's cosine (CLIP), for gated pairs only
    short_side: int | None = None  # the smaller of the two pictures' short sides, in pixels

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Member:
    path: str
    probability: float  # that it is the same picture as the keeper (1.0 for the keeper)
    reason: str
    reference: bool
    size: int
    info: ImageInfo
    signals: dict[str, Any] = field(default_factory=dict)
    mtime_ns: int = 0  # as scanned: a file that changed since is never trashed
    fingerprint: str = ""  # fingerprint.py, of the bytes scanned; "" in reports from before it
    # The keeper does not hold all of this file's picture (a collage, a sharper crop, another
    # cut): it is kept too, never proposed for the trash.
    overlapping: bool = False


@dataclass(frozen=True)
class Group:
    keep: str
    reason: str
    members: tuple[Member, ...]  # the keeper first

    @property
    def duplicates(self) -> tuple[Member, ...]:
        return self.members[1:]


@dataclass(frozen=True)
class ScanStats:
    files_found: int
    images_used: int
    skipped: int
    decoded: int  # images decoded in this scan (the rest came from the cache)
    from_cache: int
    candidate_pairs: int
    gated_pairs: int
    verified_pairs: int
    duplicate_pairs: int
    groups: int
    model_set: str
    encoder: str | None  # the model set's signature: the encoders its calibration was fitted on
    threshold: float
    gate_band: tuple[float, float]
    seconds: dict[str, float]
    gate_images: int = 0  # images the gate encoder (CLIP) had to embed for gated pairs
    runtime: str = ""  # how the embedding encoder ran (e.g. onnxruntime-fp32)
    warnings: tuple[str, ...] = ()  # e.g. a model set that fell back because weights are missing
    calibration: str = ""  # where the calibration came from
    roots: tuple[str, ...] = ()  # the scanned folders: nothing outside them is ever trashed
    scan_id: str = ""  # names the scan record in the data folder that trash is checked against
    identical_files: int = 0  # joined their group as identical copies, never paired
    checks_over_bound: int = 0  # band pairs left unverified by the per-picture bound


@dataclass(frozen=True)
class ScanReport:
    groups: tuple[Group, ...]
    skipped: tuple[Skipped, ...]
    stats: ScanStats
