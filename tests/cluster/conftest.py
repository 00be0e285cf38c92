"""Fixtures for the cluster package: the extra must be installed (a missing one fails, with
what to install), a small photo set (dev photos with edited copies, made with Pillow), and one
local Ray instance with 2 CPUs for the whole session."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.evaluation.attacks import EDITS_BY_NAME, ManifestRow, make_dataset
from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config
from tests.conftest import dev_photos

EXTRA = ("ray", "pyarrow", "fastapi", "uvicorn", "httpx")
# One of each kind of change a re-upload makes, cheap to keypoint-check at 512 px.
EDITS = ("resize-50", "jpeg-q30", "png", "greyscale", "crop-80", "rotate-90", "flip", "border")


@pytest.fixture(autouse=True, scope="session")
def cluster_extra() -> None:
    absent = [m for m in EXTRA if importlib.util.find_spec(m) is None]
    if absent:  # never a silent skip: these tests are part of the suite
        pytest.fail(
            f"the 'cluster' extra is not installed ({', '.join(absent)} missing): "
            "pip install -e '.[cluster]'"
        )


@pytest.fixture(scope="session")
def photo_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ManifestRow]]:
    """5 dev photos with 8 edited copies each, and 5 untouched distractors (45 files)."""
    root = tmp_path_factory.mktemp("photos")
    rows = make_dataset(
        dev_photos(5, offset=20),
        root,
        edits=[EDITS_BY_NAME[n] for n in EDITS],
        distractors=dev_photos(5, offset=40),
        seed=3,
        max_side=512,
    )
    return root, rows


def config_in(folder: Path, use_cache: bool = True) -> ScanConfig:
    return scan_config(DataFolder.at(folder), ScanOptions(use_cache=use_cache, workers=2))


@pytest.fixture(scope="session")
def local_ray() -> Iterator[Any]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
