"""Running an encoder fast on the CPU, with torch fp32 as the reference.

Measured on this project's 2-core AVX-512/AMX machine (one thread, batch 8): EfficientNet-Lite0
runs ~3x faster in ONNX Runtime fp32 than in torch fp32, with the same outputs; ResNet-50 and
the ViT-B/32 run 3-4x faster in torch with bf16 weights and channels-last than in fp32, while ONNX
Runtime gains little for them. bf16 is used only where the CPU computes it natively and where
its embeddings agree with fp32 on probe pictures (cosine >= 0.999); dynamic int8 was slower and
lossy, so it is not offered. Pixels are identical across runtimes: only the arithmetic differs.
"""

from __future__ import annotations

import os
import warnings
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import torch

    from ndid_desktop.engine.features.encoder_spec import EncoderSpec

AGREEMENT = 0.999  # minimum cosine between a fast runtime's embedding and fp32's


def _normalise(out: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class TorchEncoder:
    """A torch module on batches, in fp32 (the reference) or bf16 weights with channels-last."""

    def __init__(self, spec: EncoderSpec, module: torch.nn.Module, precision: str = "fp32") -> None:
        import torch

        self.spec = spec
        self.precision = precision
        self.runtime = f"torch-{precision}"
        self._torch = torch
        self._dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.module = module.eval()
        if precision == "bf16":
            self.module = self.module.to(memory_format=torch.channels_last).to(torch.bfloat16)
        self._mean = torch.tensor(spec.mean).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(spec.std).view(1, 3, 1, 1) * 255.0

    def embed(self, batch: NDArray[np.uint8]) -> NDArray[np.float32]:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float()
            x = ((x - self._mean) / self._std).to(self._dtype)
            if self.precision == "bf16":
                x = x.contiguous(memory_format=torch.channels_last)
            out = self.module(x).float().numpy()
        return _normalise(out)


class OrtEncoder:
    """ONNX Runtime on the model exported from torch (one thread: other cores decode)."""

    runtime = "onnxruntime-fp32"

    def __init__(self, spec: EncoderSpec, onnx_file: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # The memory pattern pre-plans one arena block for a whole batch's activations and keeps
        # it: measured on Lite0, batch 8, 320 MB resident with it, 234 MB without, at the same
        # speed (105-113 ms a batch without, 110-134 with). Those 85 MB go to the decode budget.
        options.enable_mem_pattern = False
        self.spec = spec
        self.onnx_file = onnx_file  # where the exported model lives (to share or inspect)
        self._session = ort.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        self._mean = (np.array(spec.mean, np.float32) * 255.0).reshape(1, 3, 1, 1)
        self._std = (np.array(spec.std, np.float32) * 255.0).reshape(1, 3, 1, 1)

    def embed(self, batch: NDArray[np.uint8]) -> NDArray[np.float32]:
        x = (batch.transpose(0, 3, 1, 2).astype(np.float32) - self._mean) / self._std
        return _normalise(np.asarray(self._session.run(None, {self._input: x})[0], np.float32))


def has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@cache
def bf16_is_native() -> bool:
    """True when the CPU has bf16 arithmetic (AVX512-BF16 or AMX); emulated bf16 is slow."""
    try:
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (ImportError, AttributeError, RuntimeError):
        return False


def export_onnx(module: torch.nn.Module, spec: EncoderSpec, target: Path) -> None:
    """Export once; written to a temporary name and moved, so a crash leaves no half file."""
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    example = torch.zeros(1, 3, spec.input_size, spec.input_size)
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of torch.export, which needs the
            # extra onnxscript package; it still exports these plain CNNs exactly (cosine 1.0).
            warnings.simplefilter("ignore", DeprecationWarning)
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
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # on a full disk, the half file holds the space it lacks
        raise


def probe_batch(spec: EncoderSpec, count: int = 8) -> NDArray[np.uint8]:
    """Deterministic picture-like inputs (smooth colour fields with edges) for runtime checks."""
    rng = np.random.default_rng(0)
    size = spec.input_size
    coarse = rng.integers(0, 256, (count, 7, 7, 3)).astype(np.float32)
    ramp = np.linspace(0, 6, size)
    idx = np.clip(ramp.round().astype(int), 0, 6)
    images = coarse[:, idx][:, :, idx]
    edges = (np.add.outer(np.arange(size), np.arange(size)) % 37 < 3)[None, :, :, None]
    return np.clip(images + 60 * edges, 0, 255).astype(np.uint8)


def agreement(
    fast: TorchEncoder | OrtEncoder, reference: TorchEncoder, batch: NDArray[np.uint8]
) -> float:
    """The lowest cosine between the two runtimes' embeddings of ``batch``."""
    return float(np.min(np.sum(fast.embed(batch) * reference.embed(batch), axis=1)))
