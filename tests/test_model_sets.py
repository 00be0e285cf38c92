"""Model sets: offline fallback with a clear message, and the CLIP gate's accounting."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ndid_desktop.engine import Root, ScanConfig, scan
from ndid_desktop.engine.evaluation.attacks import ManifestRow
from ndid_desktop.engine.features.encoders import CLIP_B32, RESNET50, EncoderSpec
from ndid_desktop.engine.features.model_sets import model_set, model_store, resolve


class PixelEncoder:
    """A stand-in for ResNet-50 or CLIP: the picture at 12x12, centred and normalised.

    Near-duplicates get high cosines and different pictures lower ones, which is all the gate
    plumbing needs; it makes the test independent of weights this machine cannot download.
    """

    runtime = "test"

    def __init__(self, spec: EncoderSpec) -> None:
        self.spec = spec
        self.calls = 0

    def embed(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        small = np.stack(
            [np.asarray(Image.fromarray(b).resize((12, 12)), np.float32).ravel() for b in batch]
        )
        small -= small.mean(axis=1, keepdims=True)
        return (small / np.linalg.norm(small, axis=1, keepdims=True)).astype(np.float32)


def test_thorough_without_weights_falls_back_and_says_where_it_looked(tmp_path: Path) -> None:
    config = ScanConfig(model_set="thorough", models_dir=tmp_path / "models")
    resolved = resolve(config, model_store(config))
    assert resolved.models.name == "standard"
    text = "\n".join(resolved.warnings)
    assert "resnet50-11ad3fa6.pth" in text and str(tmp_path / "models") in text
    assert "instead of 'thorough'" in text


def test_thorough_without_torch_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # the default install has no torch
    config = ScanConfig(model_set="thorough", models_dir=tmp_path / "models")
    resolved = resolve(config, model_store(config))
    assert resolved.models.name == "standard"
    text = "\n".join(resolved.warnings)
    assert "model 'resnet50' needs torch" in text
    assert "install the 'thorough' extra: pip install 'ndid-desktop[thorough]'" in text
    assert "resnet50-11ad3fa6.pth" in text  # and the missing weights are still named


def _thorough_calibration(folder: Path) -> None:
    """The standard calibration re-labelled for 'thorough', its verified stage also reading
    the gate cosine (a real one is fitted by 'ndid calibrate --model-set thorough')."""
    data = json.loads(
        resources.files("ndid_desktop.resources").joinpath("calibration-standard.json").read_text()
    )
    data["model_set"] = "thorough"
    data["encoder"] = model_set("thorough").signature
    # A thorough fit keeps a band (calibrate.choose_gate: CLIP only for pairs the cheap signals
    # leave ambiguous); the standard set's band is every pair, so a thorough-like one is set.
    data["gate"] = [0.077, 0.957]
    verified = data["stages"]["verified"]
    verified["features"].append("gate_cosine_gap")
    verified["coef"].append(0.5)
    verified["mean"].append(3.0)
    verified["scale"].append(2.0)
    folder.mkdir(parents=True)
    (folder / "calibration-thorough.json").write_text(json.dumps(data))


def test_thorough_runs_clip_only_for_gated_pairs(
    tiny_library: tuple[Path, list[ManifestRow]], tmp_path: Path
) -> None:
    root, _ = tiny_library
    models = tmp_path / "models"
    models.mkdir()
    for spec in (RESNET50, CLIP_B32):  # present, so the set is not refused; never loaded
        assert spec.weights_file is not None
        (models / spec.weights_file.filename).write_bytes(b"weights")
    _thorough_calibration(tmp_path / "calibration")
    config = ScanConfig(
        model_set="thorough",
        models_dir=models,
        calibration_dir=tmp_path / "calibration",
        cache_path=tmp_path / "cache.sqlite",
    )
    gate = PixelEncoder(CLIP_B32)
    report = scan([Root(root)], config, encoder=PixelEncoder(RESNET50), gate_encoder=gate)
    stats = report.stats
    assert stats.model_set == "thorough" and not stats.warnings
    assert 0 < stats.gated_pairs < stats.candidate_pairs
    assert 0 < stats.gate_images < stats.images_used  # CLIP saw only images of gated pairs
    duplicates = [m for g in report.groups for m in g.duplicates]
    gated = [m for m in duplicates if m.signals.get("gated")]
    # Some grouped file's pair with its keeper went through the gate (else nothing below is
    # checked), at most one per gated pair; each carries CLIP's cosine for that pair, and only
    # those do (PairSignals.gate_cosine: "for gated pairs only").
    assert len(gated) > 0, "no grouped file was decided through the gate"
    assert len(gated) <= stats.gated_pairs
    for m in gated:
        cosine = m.signals.get("gate_cosine")
        assert isinstance(cosine, float) and -1.0 <= cosine <= 1.0, (m.path, cosine)
    assert [m for m in duplicates if "gate_cosine" in m.signals] == gated
    # A re-scan reads the CLIP vectors from the cache: the gate encoder is not called again.
    calls = gate.calls
    again = scan([Root(root)], config, encoder=PixelEncoder(RESNET50), gate_encoder=gate)
    assert gate.calls == calls and again.stats.gate_images == stats.gate_images


def test_unknown_model_set_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model set"):
        ScanConfig(model_set="huge")
