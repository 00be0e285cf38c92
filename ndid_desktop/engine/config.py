"""The one typed configuration object every engine stage receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".avif",
        ".dng",
        ".nef",
        ".cr2",
        ".cr3",
        ".arw",
        ".orf",
        ".rw2",
        ".raf",
    }
)

MODEL_SETS: tuple[str, ...] = ("fast", "standard", "thorough", "copydetect")  # see modelsets.py
# Keeps a decode worker under 600 MB of RSS: measured, a worker holding its ONNX Runtime session
# sits at ~265 MB before a picture (benchmarks/bench_decode_memory.py --onnx; that is with the
# session's memory pattern off, see runtimes.py, else a long scan's workers sit ~85 MB higher).
# Admits 50 MP PNGs (~210 MB), 100 MP panorama JPEGs, 16-bit 48 MP TIFFs and 48 MP 8-bit HEICs
# (~244 MB, read in strips); refuses a 13300 px square 16-bit PNG (366 MB: 615 MB peak when
# admitted) and 48 MP 10-bit or 4:4:4 HEICs (628-700 MB peaks when admitted).
MAX_DECODE_BYTES = 320_000_000


@dataclass(frozen=True)
class ScanConfig:
    """Everything a scan needs to know, passed down explicitly (no module state)."""

    model_set: str = "standard"
    extensions: frozenset[str] = DEFAULT_EXTENSIONS
    skip_hidden: bool = True
    # Bytes one decode may allocate (decode.py adds them up from the header before decoding).
    max_decode_bytes: int = MAX_DECODE_BYTES
    workers: int = 0  # decode processes; 0 = one per core
    batch_size: int = 8  # measured: batch 8 beats 32 on this CPU (2 MB L2 per core)
    knn_k: int = 10
    knn_min_cosine: float = 0.60
    hash_radius: int = 12  # pHash Hamming radius for the hash prefilter (of 64 bits)
    exact_index_max: int = 50_000  # above this many images the embedding index is HNSW
    # Keypoint checks one picture may take part in (match/selection.py says why a bound).
    max_checks_per_image: int = 24
    # Candidate pairs from keypoint votes (match/keypoint_votes.py): heavy crops, screenshots,
    # print-scans, whose global signals change too much for the hashes and the embedding.
    keypoint_votes: bool = True
    threshold: float | None = None  # decision threshold; None = the calibration's own
    gate_low: float | None = None  # ambiguity band for the verifier; None = calibration's
    gate_high: float | None = None
    cache_path: Path | None = None  # None = no cache (in-memory only)
    calibration_path: Path | None = None  # None = the user's own, else the bundled one
    calibration_dir: Path | None = None  # where `ndid calibrate --auto` keeps the user's own
    direction_path: Path | None = None  # the keeper's direction model; None = own, else bundled
    models_dir: Path | None = None  # the user's models folder (weights, exported ONNX files)
    bundled_models_dir: Path | None = None  # weights shipped next to a packaged app
    allow_download: bool = False  # fetch missing weights (only when the user asked to)
    verdicts_path: Path | None = None  # the user's "not duplicates" pairs (see verdicts.py)
    # Where the scan writes its record (roots, files, fingerprints) that trash is checked
    # against; None = no record, so nothing from this scan can be trashed.
    scan_records_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.model_set not in MODEL_SETS:
            raise ValueError(
                f"unknown model set {self.model_set!r}; choose one of {', '.join(MODEL_SETS)}"
            )
        if self.hash_radius < 0 or self.hash_radius > 64:
            raise ValueError("hash_radius must be between 0 and 64")
        if self.knn_k < 1:
            raise ValueError("knn_k must be at least 1")
        if self.max_checks_per_image < 1:
            raise ValueError("max_checks_per_image must be at least 1")


@dataclass(frozen=True)
class Root:
    """A folder the user chose; files under a reference root are never proposed for deletion."""

    path: Path
    reference: bool = False
    excluded: tuple[Path, ...] = field(default_factory=tuple)
