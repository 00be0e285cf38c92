"""The gate encoder's cosine (CLIP, in the thorough set) for the pairs given a second look:
only their pictures are embedded, in one batch, through the feature cache."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.encoders import Encoder, EncoderSpec
from ndid_desktop.engine.features.extract import FeatureSet, compute_features
from ndid_desktop.engine.features.model_store import ModelStore
from ndid_desktop.engine.progress import CancelToken

# indices of pictures -> their unit vectors (a picture that cannot be read again is absent)
EmbedPictures = Callable[[Sequence[int]], dict[int, NDArray[np.float32]]]


def gate_cosines(
    pairs: Sequence[tuple[int, int]], embed: EmbedPictures
) -> dict[tuple[int, int], float]:
    if not pairs:
        return {}
    vectors = embed(sorted({i for pair in pairs for i in pair}))
    out: dict[tuple[int, int], float] = {}
    for a, b in pairs:
        va, vb = vectors.get(a), vectors.get(b)
        if va is not None and vb is not None:
            out[(a, b)] = float(np.clip(np.dot(va, vb), -1.0, 1.0))
    return out


@dataclass
class GateEmbedder:
    """Embeds pictures of ``features`` with the gate encoder (CLIP) on demand, through the
    feature cache; one encoder for the whole run, built on first use."""

    spec: EncoderSpec
    features: FeatureSet
    config: ScanConfig
    cache: FeatureCache
    store: ModelStore
    cancel: CancelToken
    encoder: Encoder | None = None
    images: int = 0  # pictures embedded so far

    def __call__(self, indices: Sequence[int]) -> dict[int, NDArray[np.float32]]:
        entries = [self.features.entries[i] for i in indices]
        got = compute_features(
            entries, self.config, self.cache, self.spec, cancel=self.cancel,
            encoder=self.encoder, store=self.store,
        )  # fmt: skip
        self.encoder = self.encoder or got.encoder
        index = {e.path: i for e, i in zip(entries, indices, strict=True)}
        assert got.embeddings is not None  # a spec was given
        self.images += len(got.entries)
        return {index[e.path]: v for e, v in zip(got.entries, got.embeddings, strict=True)}
