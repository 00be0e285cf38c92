"""The design-card backbones: torchvision ResNet-50 and the open_clip ViT-B/32 image tower.

Both are built from a weights file the model store found (never from the network here), with
their heads removed, so that each returns the pooled embedding the engine L2-normalises.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def resnet50_module(weights: Path | None) -> torch.nn.Module:
    """ResNet-50 without its classifier: the 2048-d global-average-pooled feature.

    ``weights`` is a torchvision state dict (IMAGENET1K_V2); None gives random weights, which
    only tests use.
    """
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights=None)
    if weights is not None:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    model.fc = torch.nn.Identity()
    return model.eval()


def clip_b32_module(weights: Path | None) -> torch.nn.Module:
    """open_clip ViT-B-32's image tower (512-d), from a checkpoint file (safetensors or .bin).

    The laion2b_s34b_b79k checkpoint: trained on LAION-2B, MIT licensed like open_clip itself,
    and stronger than OpenAI's ViT-B/32 on retrieval benchmarks; OpenAI's weights carry their
    own terms. None gives random weights (tests only).
    """
    import open_clip

    model = open_clip.create_model("ViT-B-32", pretrained=str(weights) if weights else None)
    return model.visual.eval()


def sscd_module(weights: Path | None, dim: int) -> torch.nn.Module:
    """Meta's SSCD copy-detection descriptor: a standalone TorchScript file (ResNet-50 with GeM
    pooling and its own L2 normalisation), loaded on the CPU. Its output width is checked
    against ``dim``, so that a user's own sscd.pt of another width (sscd_disc_large is 1024-d)
    is refused here, not by the vector index later."""
    import torch

    if weights is None:
        raise RuntimeError("SSCD has no built-in weights: it needs its TorchScript file")
    with warnings.catch_warnings():  # recent torch deprecates TorchScript; SSCD ships as one
        warnings.simplefilter("ignore", FutureWarning)
        module = torch.jit.load(str(weights), map_location="cpu")
    module.eval()
    with torch.inference_mode():
        out = module(torch.zeros(1, 3, 64, 64))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, dim):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise RuntimeError(f"expected a ({dim},) embedding per image, got {shape} for one image")
    return module
