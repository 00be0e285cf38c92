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

MODEL_SETS: tuple[str, ...] = ("fast", "standard", "thorough")  # see modelsets.py


@dataclass(frozen=True)
class ScanConfig:
    """Everything a scan needs to know, passed down explicitly (no module state)."""

    model_set: str = "standard"
    extensions: frozenset[str] = DEFAULT_EXTENSIONS
    skip_hidden: bool = True
    # Pillow's own bomb guard fires at ~89 MP (warning) and ~179 MP (error); a phone panorama
    # can pass 100 MP, so we allow up to 250 MP and refuse beyond with a clear reason.
    max_pixels: int = 250_000_000
    workers: int = 0  # decode processes; 0 = one per core
    batch_size: int = 8  # measured: batch 8 beats 32 on this CPU (2 MB L2 per core)
    knn_k: int = 10
    knn_min_cosine: float = 0.60
    hash_radius: int = 12  # pHash Hamming radius for the hash prefilter (of 64 bits)
    exact_index_max: int = 50_000  # above this many images the embedding index is HNSW
    threshold: float | None = None  # decision threshold; None = the calibration's own
    gate_low: float | None = None  # ambiguity band for the verifier; None = calibration's
    gate_high: float | None = None
    cache_path: Path | None = None  # None = no cache (in-memory only)
    calibration_path: Path | None = None  # None = the user's own, else the bundled one
    calibration_dir: Path | None = None  # where `ndid calibrate --auto` keeps the user's own
    models_dir: Path | None = None  # the user's models folder (weights, exported ONNX files)
    bundled_models_dir: Path | None = None  # weights shipped next to a packaged app
    allow_download: bool = False  # fetch missing weights (only when the user asked to)
    verdicts_path: Path | None = None  # the user's "not duplicates" pairs (see verdicts.py)

    def __post_init__(self) -> None:
        if self.model_set not in MODEL_SETS:
            raise ValueError(
                f"unknown model set {self.model_set!r}; choose one of {', '.join(MODEL_SETS)}"
            )
        if self.hash_radius < 0 or self.hash_radius > 64:
            raise ValueError("hash_radius must be between 0 and 64")
        if self.knn_k < 1:
            raise ValueError("knn_k must be at least 1")


@dataclass(frozen=True)
class Root:
    """A folder the user chose; files under a reference root are never proposed for deletion."""

    path: Path
    reference: bool = False
    excluded: tuple[Path, ...] = field(default_factory=tuple)
