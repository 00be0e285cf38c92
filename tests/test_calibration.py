"""Calibration: fitting improves a mis-calibrated model; `ndid calibrate --auto` writes the
user's own calibration, versioned, and scans then use it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ndid_desktop.cli.main import main
from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.evaluation.attacks import EDITS_BY_NAME, make_dataset
from ndid_desktop.engine.evaluation.calibrate import fit_calibration
from ndid_desktop.engine.evaluation.labelled import labelled_pairs
from ndid_desktop.engine.evaluation.pair_metrics import brier
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.match.decision import LogisticStage

from .conftest import dev_photos

EDITS = ["resize-50", "jpeg-q30", "crop-80", "greyscale", "flip", "text", "rotate-5", "crop-40"]


def test_fitting_repairs_a_miscalibrated_model(tmp_path: Path) -> None:
    rows = make_dataset(dev_photos(10, offset=80), tmp_path / "ds",
                        edits=[EDITS_BY_NAME[e] for e in EDITS], seed=2, max_side=400)  # fmt: skip
    with FeatureCache(None) as cache:
        data = labelled_pairs(tmp_path / "ds", rows, ScanConfig(model_set="fast"), cache)
    fitted = fit_calibration(data, "fast", None, "test")
    # Deliberately wrong: the same features with shrunken weights and a shifted intercept.
    wrong: LogisticStage = replace(
        fitted.cheap,
        coef=tuple(0.2 * c for c in fitted.cheap.coef),
        intercept=fitted.cheap.intercept + 2.0,
    )
    p_wrong = np.array([wrong.probability(s) for s in data.signals])
    p_fit = np.array([fitted.cheap.probability(s) for s in data.signals])
    assert brier(p_fit, data.labels) < 0.8 * brier(p_wrong, data.labels)
    assert fitted.metrics["train_precision"] >= 0.99


def test_auto_calibration_is_stored_versioned_and_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "my photos"
    photos.mkdir()
    for source in dev_photos(12, offset=100):
        from PIL import Image

        with Image.open(source) as img:
            img.thumbnail((400, 400))
            img.save(photos / source.name)
    data = tmp_path / "data"
    args = ["--data-dir", str(data), "calibrate", "--auto", str(photos), "--edits-per-photo", "4"]
    assert main(args) == 0
    own = data / "calibration" / "calibration-standard.json"
    assert own.is_file()
    assert main(args) == 0  # again: the first one is kept beside it, dated
    assert len(list((data / "calibration").glob("calibration-standard.*.json"))) == 1
    capsys.readouterr()
    assert (
        main(["--data-dir", str(data), "scan", str(photos), "--json", str(tmp_path / "r.json")])
        == 0
    )
    import json

    report = json.loads((tmp_path / "r.json").read_text())
    assert report["stats"]["calibration"] == str(own)
