"""The second look for labelled pairs: how pairs in the ambiguous band get their verification
(and, in the thorough set, the gate encoder's cosine) while the decision model is fitted and
measured.

This module is the one place that says so. Fitting (calibrate.fit_calibration) and the
pair-level report (pair_metrics.staged_probabilities) only call ``FittingLook.measure``, so
taking the second look another way (the scan's own stage) means changing
``second_look_for_fitting`` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.evaluation.labelled import LabelledPairs
from ndid_desktop.engine.executors import process_pool
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.model_sets import model_set, model_store
from ndid_desktop.engine.match.decisions import with_second_look
from ndid_desktop.engine.match.gate import GateEmbedder
from ndid_desktop.engine.match.second_look import Looker
from ndid_desktop.engine.match.verify import VERIFIERS
from ndid_desktop.engine.progress import CancelToken, ProgressCallback, null_progress
from ndid_desktop.engine.types import PairSignals


@dataclass(frozen=True)
class FittingLook:
    """``measure(indices)``: the signals of labelled pairs ``indices`` (into
    ``LabelledPairs.pairs``, in that order) with the second look's measurements added; a
    measurement that could not be had stays None, as in a scan."""

    measure: Callable[[Sequence[int]], list[PairSignals]]
    gate_cosine: bool  # whether those signals carry the gate encoder's cosine


def second_look_for_fitting(
    data: LabelledPairs,
    config: ScanConfig,
    cache: FeatureCache,
    progress: ProgressCallback = null_progress,
) -> FittingLook | None:
    """How band pairs of ``data`` get their second look under ``config.model_set``: the scan's
    own stage (match/second_look.py: keypoint checks from cached local features, the gate
    encoder through the cache). None when the set has no second look (fast)."""
    chosen = model_set(config.model_set)
    if chosen.verifier is None:
        return None
    cancel = CancelToken()  # fitting is not cancelled half-way: it has nothing to resume
    features = data.features
    gate = (
        GateEmbedder(chosen.gate, features, config, cache, model_store(config), cancel)
        if chosen.gate is not None
        else None
    )
    look = Looker(
        features.entries, cache, VERIFIERS[chosen.verifier], gate, config.workers,
        process_pool, progress, cancel,
    )  # fmt: skip

    def measure(indices: Sequence[int]) -> list[PairSignals]:
        keys = [(int(a), int(b)) for a, b in (data.pairs[k].tolist() for k in indices)]
        to_verify = {key: data.signals[k].orientation for key, k in zip(keys, indices, strict=True)}
        looked = look(to_verify, sorted(to_verify) if gate is not None else [])
        return [
            with_second_look(data.signals[k], key, looked.look)
            for key, k in zip(keys, indices, strict=True)
        ]

    return FittingLook(measure, gate_cosine=gate is not None)
