"""SSCD (Meta's copy-detection descriptor) as an optional model, with a stand-in TorchScript
file: found in the models folder under either name, embedded as unit-length 512-d rows, listed
by `ndid models`, and its 'copydetect' set falling back to 'standard' when anything is missing.
Nothing here measures accuracy."""

from __future__ import annotations

import json
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ndid_desktop.cli.main import main
from ndid_desktop.engine import ScanConfig
from ndid_desktop.engine.evaluation.calibration_run import missing_for_calibration
from ndid_desktop.engine.features.encoders import SSCD, build_encoder, model_input
from ndid_desktop.engine.features.model_sets import model_set, model_store, resolve
from ndid_desktop.engine.features.model_store import SSCD_FILE, ModelStore
from ndid_desktop.engine.match.decision import CalibrationError, load_calibration

torch = pytest.importorskip("torch")

URL = "https://dl.fbaipublicfiles.com/sscd-copy-detection/sscd_disc_mixup.torchscript.pt"


class _StandIn(torch.nn.Module):
    """Pooled colours through a fixed linear map to 512-d, L2-normalised like SSCD's output."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        self.proj = torch.nn.Linear(48, 512)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(self.pool(x).flatten(1))
        return torch.nn.functional.normalize(y, dim=1)


def _save_stand_in(folder: Path, name: str = SSCD_FILE.filename) -> Path:
    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with warnings.catch_warnings():  # recent torch deprecates TorchScript; SSCD ships as one
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(_StandIn().eval()), str(path))
    return path


def _images() -> list[Image.Image]:
    ramp = np.linspace(0, 255, 90 * 120, dtype=np.float32).reshape(90, 120)
    a = np.stack([ramp, ramp[::-1], np.full_like(ramp, 80)], axis=-1).astype(np.uint8)
    return [Image.fromarray(a), Image.fromarray(255 - a).rotate(90, expand=True)]


@pytest.mark.parametrize("name", [SSCD_FILE.filename, "sscd.pt"])
def test_the_weights_are_found_in_the_models_folder_under_either_name(
    tmp_path: Path, name: str
) -> None:
    path = _save_stand_in(tmp_path / "models", name)
    location = ModelStore(user_dir=tmp_path / "models", use_framework_caches=False).locate(
        SSCD_FILE
    )
    assert location.path == path and location.source == "models folder"
    assert SSCD.weights_file is SSCD_FILE and SSCD.input_size == 288 and SSCD.dim == 512


@pytest.mark.parametrize("name", [SSCD_FILE.filename, "sscd.pt"])
def test_embeddings_are_unit_length_512_d_and_deterministic(tmp_path: Path, name: str) -> None:
    _save_stand_in(tmp_path / "models", name)
    encoder = build_encoder(SSCD, models_dir=tmp_path / "models")
    assert encoder.runtime == "torch-fp32"
    batch = np.stack([model_input(im, SSCD) for im in _images()])
    assert batch.shape == (2, 288, 288, 3)
    first = encoder.embed(batch)
    assert first.shape == (2, 512) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first, encoder.embed(batch))
    assert not np.allclose(first[0], first[1])


def test_a_file_of_another_width_is_refused_with_the_reason(tmp_path: Path) -> None:
    from ndid_desktop.engine.errors import EncoderUnavailableError

    folder = tmp_path / "models"
    folder.mkdir()
    module = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 8)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(module, torch.zeros(1, 3, 32, 32))
        torch.jit.save(traced, str(folder / "sscd.pt"))
    with pytest.raises(EncoderUnavailableError, match="expected a \\(512,\\) embedding"):
        build_encoder(SSCD, models_dir=folder)


def test_ndid_models_lists_sscd_and_where_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path), "models"]) == 0
    out = capsys.readouterr().out
    assert "sscd-disc-mixup" in out and "model sets: copydetect" in out
    assert URL in out and "sscd.pt" in out and "licence MIT" in out
    assert "copydetect" in out.split("model sets:\n")[-1]


def _copydetect_calibration(folder: Path) -> None:
    """The standard calibration re-labelled for 'copydetect' (a real one is fitted by
    'ndid calibrate --auto --model-set copydetect'); only the plumbing is under test."""
    data = json.loads(
        resources.files("ndid_desktop.resources").joinpath("calibration-standard.json").read_text()
    )
    data["model_set"] = "copydetect"
    data["encoder"] = model_set("copydetect").signature
    folder.mkdir(parents=True)
    (folder / "calibration-copydetect.json").write_text(json.dumps(data))


def test_copydetect_resolves_to_itself_with_its_file_and_a_calibration(tmp_path: Path) -> None:
    _save_stand_in(tmp_path / "models")
    _copydetect_calibration(tmp_path / "calibration")
    config = ScanConfig(
        model_set="copydetect",
        models_dir=tmp_path / "models",
        calibration_dir=tmp_path / "calibration",
    )
    resolved = resolve(config, model_store(config))
    assert resolved.models.name == "copydetect" and not resolved.warnings
    assert resolved.models.embedding is SSCD and resolved.models.gate is None
    assert resolved.models.verifier == "orb-homography"
    assert missing_for_calibration("copydetect") is None  # torch is here, so is scikit-learn


def test_copydetect_without_its_file_falls_back_and_says_where_it_looked(tmp_path: Path) -> None:
    config = ScanConfig(model_set="copydetect", models_dir=tmp_path / "models")
    resolved = resolve(config, model_store(config))
    assert resolved.models.name == "standard"
    text = "\n".join(resolved.warnings)
    assert SSCD_FILE.filename in text and "sscd.pt" in text and URL in text
    assert str(tmp_path / "models") in text and "instead of 'copydetect'" in text


def test_copydetect_without_a_calibration_says_how_to_make_one(tmp_path: Path) -> None:
    _save_stand_in(tmp_path / "models")
    with pytest.raises(CalibrationError, match="ndid calibrate --auto --model-set copydetect"):
        load_calibration("copydetect", model_set("copydetect").signature, None, tmp_path / "c")
    # A scan is not refused: it says so, and runs the standard set instead.
    config = ScanConfig(
        model_set="copydetect", models_dir=tmp_path / "models", calibration_dir=tmp_path / "c"
    )
    resolved = resolve(config, model_store(config))
    assert resolved.models.name == "standard"
    text = "\n".join(resolved.warnings)
    assert "no calibration for model set 'copydetect'" in text
    assert "ndid calibrate --auto --model-set copydetect" in text
