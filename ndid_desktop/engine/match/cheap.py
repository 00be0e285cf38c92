"""The cheap stage: every candidate pair's signals (hashes, embedding, shape) and the cheap
model's probability. Nothing here decodes or loads a model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.features.extract import FeatureSet
from ndid_desktop.engine.match.decision import StagedDecision
from ndid_desktop.engine.match.signals import measure
from ndid_desktop.engine.progress import CancelToken, ProgressCallback, ProgressEvent
from ndid_desktop.engine.types import PairSignals

CANCEL_EVERY = 2048  # pairs between cancel checks: ~50 ms of work


@dataclass(frozen=True)
class CheapScores:
    """Row i: pair ``pairs[i]`` (a < b), its signals and its cheap probability."""

    pairs: NDArray[np.int64]  # (M, 2)
    signals: tuple[PairSignals, ...]
    cheap: NDArray[np.float64]  # (M,)

    def __len__(self) -> int:
        return len(self.signals)


def pair_key(a: int, b: int) -> tuple[int, int]:
    """How a pair is keyed everywhere after the candidates: (a, b) with a < b."""
    return (int(a), int(b)) if a < b else (int(b), int(a))


def measure_pair(features: FeatureSet, a: int, b: int) -> PairSignals:
    """The cheap signals of pictures a and b of ``features``."""
    vectors = features.embeddings
    return measure(
        features.hashes[a],
        features.hashes[b],
        features.infos[a],
        features.infos[b],
        vectors[a] if vectors is not None else None,
        vectors[b] if vectors is not None else None,
    )


def cheap_scores(
    features: FeatureSet,
    pairs: NDArray[np.int64],
    decision: StagedDecision,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> CheapScores:
    signals: list[PairSignals] = []
    cheap = np.empty(len(pairs), dtype=np.float64)
    for i, (a, b) in enumerate(pairs.tolist()):
        if i % CANCEL_EVERY == 0:
            cancel.raise_if_cancelled()
            progress(ProgressEvent("decide", i, len(pairs), "comparing pairs"))
        s = measure_pair(features, a, b)
        signals.append(s)
        cheap[i] = decision.cheap.probability(s)
    progress(ProgressEvent("decide", len(pairs), len(pairs), "comparing pairs"))
    return CheapScores(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), tuple(signals), cheap)
