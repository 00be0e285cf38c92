"""Encoders: shapes, unit length, runtime agreement on real photos, loading from the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ndid_desktop.engine.features.encoders import (
    CLIP_B32,
    LITE0,
    RESNET50,
    build_encoder,
    model_input,
)
from ndid_desktop.engine.features.model_store import ModelStore
from ndid_desktop.engine.features.runtimes import AGREEMENT, TorchEncoder, agreement, bf16_is_native

from .conftest import dev_photos


def _photo_batch(spec, count: int = 8) -> np.ndarray:
    images = [Image.open(p).convert("RGB") for p in dev_photos(count, offset=60)]
    return np.stack([model_input(img, spec) for img in images])


def test_lite0_onnx_runtime_agrees_with_torch_fp32_on_real_photos(tmp_path: Path) -> None:
    from ndid_desktop.engine.features.lite0 import lite0_module

    fast = build_encoder(LITE0, tmp_path)
    assert fast.runtime == "onnxruntime-fp32"
    reference = TorchEncoder(LITE0, lite0_module())
    batch = _photo_batch(LITE0)
    out = fast.embed(batch)
    assert out.shape == (8, 1280)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert agreement(fast, reference, batch) >= AGREEMENT


def test_resnet50_loads_weights_from_the_models_folder(tmp_path: Path) -> None:
    import torch

    from ndid_desktop.engine.features.backbones import resnet50_module

    # Random weights saved in the layout torchvision's checkpoint has (this machine is offline).
    assert RESNET50.weights_file is not None
    state = {k: v for k, v in resnet50_module(None).state_dict().items() if not k.startswith("fc")}
    torch.save(state | _fc_keys(), tmp_path / RESNET50.weights_file.filename)
    encoder = build_encoder(RESNET50, tmp_path, ModelStore(user_dir=tmp_path))
    out = encoder.embed(_photo_batch(RESNET50, 4))
    assert out.shape == (4, 2048)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)
    assert encoder.runtime in {"torch-bf16", "onnxruntime-fp32", "torch-fp32"}
    if bf16_is_native():
        assert encoder.runtime == "torch-bf16"


def _fc_keys() -> dict:
    import torch

    # torchvision's checkpoint includes the classifier, which our module drops.
    return {"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}


def test_resnet50_bf16_agrees_with_fp32_on_real_photos() -> None:
    if not bf16_is_native():
        pytest.skip("this CPU has no native bf16")
    from ndid_desktop.engine.features.backbones import resnet50_module

    module = resnet50_module(None)
    reference = TorchEncoder(RESNET50, module)
    import copy

    fast = TorchEncoder(RESNET50, copy.deepcopy(module), "bf16")
    assert agreement(fast, reference, _photo_batch(RESNET50)) >= AGREEMENT


def test_clip_image_tower_gives_512_unit_vectors() -> None:
    from ndid_desktop.engine.features.backbones import clip_b32_module

    encoder = TorchEncoder(CLIP_B32, clip_b32_module(None))
    out = encoder.embed(_photo_batch(CLIP_B32, 2))
    assert out.shape == (2, 512)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)


def test_each_encoder_keeps_its_own_cache_key() -> None:
    keys = {s.cache_key for s in (LITE0, RESNET50, CLIP_B32)}
    assert len(keys) == 3
