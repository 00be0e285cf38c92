"""The Lite0 ONNX file NDID ships: found first, checked, and equal to a fresh export."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ndid_desktop.engine.errors import EncoderUnavailableError
from ndid_desktop.engine.features import encoders
from ndid_desktop.engine.features import extract as features
from ndid_desktop.engine.features.encoders import (
    LITE0,
    build_encoder,
    export_encoder,
    model_input,
    onnx_path,
    recorded_sha256,
    shipped_models_dir,
    shipped_onnx,
)
from ndid_desktop.engine.features.model_store import ModelStore, sha256_of
from ndid_desktop.engine.features.runtimes import OrtEncoder

from .conftest import dev_photos

THOROUGH_HINT = "install the 'thorough' extra: pip install 'ndid-desktop[thorough]'"


def _shipped() -> Path:
    folder = shipped_models_dir()
    assert folder is not None, "resources/models is not installed with ndid_desktop.resources"
    path = shipped_onnx(LITE0)
    assert path is not None, f"{onnx_path(LITE0, folder).name} is not listed or not present"
    return path


@pytest.mark.slow
def test_the_shipped_file_is_a_fresh_export_of_the_packaged_weights(tmp_path: Path) -> None:
    shipped = _shipped()
    assert sha256_of(shipped) == recorded_sha256(shipped.parent)[shipped.name]
    fresh = onnx_path(LITE0, tmp_path)
    export_encoder(LITE0, fresh, ModelStore(use_framework_caches=False))  # needs torch
    photos = [Image.open(p).convert("RGB") for p in dev_photos(6, offset=90)]
    batch = np.stack([model_input(img, LITE0) for img in photos])
    ours, theirs = OrtEncoder(LITE0, shipped).embed(batch), OrtEncoder(LITE0, fresh).embed(batch)
    assert np.max(np.abs(ours - theirs)) <= 1e-5


def test_scans_use_the_shipped_file_and_export_nothing(tmp_path: Path) -> None:
    models = tmp_path / "models"
    assert features.prepare_onnx(LITE0, models) == _shipped()
    encoder = build_encoder(LITE0, models)
    assert isinstance(encoder, OrtEncoder) and encoder.onnx_file == _shipped()
    assert not models.exists()


def test_a_damaged_shipped_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "shipped"
    shutil.copytree(_shipped().parent, folder)
    damaged = bytearray(onnx_path(LITE0, folder).read_bytes())
    damaged[len(damaged) // 2] ^= 0x01  # one bit, deep in the weights
    onnx_path(LITE0, folder).write_bytes(bytes(damaged))
    with pytest.raises(EncoderUnavailableError, match=r"damaged .* reinstall ndid-desktop"):
        shipped_onnx(LITE0, folder)


def test_an_unlisted_file_is_not_a_shipped_model(tmp_path: Path) -> None:
    shutil.copy2(_shipped(), onnx_path(LITE0, tmp_path))  # no SHA256SUMS beside it
    assert shipped_onnx(LITE0, tmp_path) is None


def test_without_the_shipped_file_or_torch_the_scan_says_which_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoders, "shipped_models_dir", lambda: None)
    monkeypatch.setitem(sys.modules, "torch", None)  # as in the default install
    with pytest.raises(EncoderUnavailableError) as raised:
        features.prepare_onnx(LITE0, tmp_path / "models")
    assert "reinstall ndid-desktop" in str(raised.value)
    assert "torch" in str(raised.value) and THOROUGH_HINT in str(raised.value)
    with pytest.raises(EncoderUnavailableError, match="thorough"):
        build_encoder(LITE0, tmp_path / "models")
    assert not (tmp_path / "models").exists()
