"""The design-card backbones: torchvision ResNet-50 and the open_clip ViT-B/32 image tower.

Both are built from a weights file the model store found (never from the network here), with
their heads removed, so that each returns the pooled embedding the engine L2-normalises.
"""

from __future__ import annotations

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
