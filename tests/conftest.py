"""Shared fixtures: small generated images, a tiny library of real dev photos with edited copies,
and one EfficientNet-Lite0 encoder per test session (the shipped ONNX file, as scans use it)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ndid_desktop.engine.evaluation.attacks import EDITS_BY_NAME, ManifestRow, make_dataset
from ndid_desktop.engine.features.encoders import LITE0, Encoder, build_encoder

DEV_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "dev-photos"


def dev_photos(count: int, offset: int = 0) -> list[Path]:
    if not DEV_PHOTOS.is_dir():  # a missing data set is a broken checkout, not a pass
        pytest.fail(f"development photos not found at {DEV_PHOTOS} (../shared/dev-photos)")
    return sorted(DEV_PHOTOS.glob("*.jpg"))[offset : offset + count]


def textured(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A picture with structure at several scales, different for each seed."""
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    coarse = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC), np.int16)
    fine = rng.integers(-40, 40, (h // 4, w // 4, 3)).astype(np.int16)
    detail = np.asarray(
        Image.fromarray((fine + 128).astype(np.uint8)).resize((w, h), Image.Resampling.NEAREST),
        np.int16,
    )
    return Image.fromarray(np.clip(base + detail - 128, 0, 255).astype(np.uint8))


@pytest.fixture(scope="session")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    # The engine's own path: the shipped resources/models file on ONNX Runtime, no export.
    return build_encoder(LITE0, tmp_path_factory.mktemp("models"))


# The edits the end-to-end library uses: each tier, each family of change.
E2E_EDITS = (
    "resize-50", "jpeg-q30", "png", "exif-rotate", "rotate-90", "flip", "crop-80",
    "greyscale", "text", "border", "crop-40", "screenshot",
)  # fmt: skip


@pytest.fixture(scope="session")
def tiny_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ManifestRow]]:
    """6 dev photos with 12 edited copies each, plus 6 untouched distractors."""
    root = tmp_path_factory.mktemp("library")
    rows = make_dataset(
        dev_photos(6),
        root,
        edits=[EDITS_BY_NAME[n] for n in E2E_EDITS],
        distractors=dev_photos(6, offset=6),
        seed=7,
        max_side=640,
    )
    return root, rows


@pytest.fixture
def rng() -> Iterator[random.Random]:
    yield random.Random(1234)
