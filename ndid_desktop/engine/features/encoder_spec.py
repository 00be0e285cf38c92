"""What an encoder is (its spec, the protocol every runtime implements, its input), apart from
how encoders are built: runtimes and the encoder registry both read this, neither imports the
other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ndid_desktop.engine.features.model_store import ModelFile


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
    weights_file: ModelFile | None = None  # None: the weights ship inside a Python package
    runtimes: tuple[str, ...] = ("onnx", "torch-fp32")  # tried in order; see runtimes.py
    libraries: tuple[str, ...] = ("torch",)  # modules that building the torch model needs

    @property
    def cache_key(self) -> str:
        return f"{self.name}@{self.version}"


class Encoder(Protocol):
    spec: EncoderSpec
    runtime: str

    def embed(self, batch: NDArray[np.uint8]) -> NDArray[np.float32]:
        """(N, S, S, 3) uint8 RGB -> (N, dim) float32 rows of unit length."""
        ...


def model_input(image: Image.Image, spec: EncoderSpec) -> NDArray[np.uint8]:
    """The whole picture squashed to the model's square.

    No centre crop, unlike the models' training transforms: a crop would hide exactly the
    borders that tell a cropped copy from its original, and squashing makes an aspect-ratio
    change invisible to the model. The mean and std are the weights' own.
    """
    size = (spec.input_size, spec.input_size)
    return np.asarray(image.resize(size, Image.Resampling.BICUBIC), dtype=np.uint8)
