"""Pair-level measurements: precision-recall and F1-versus-threshold curves, calibration quality
(Brier score, reliability), and the ablation of the pipeline's stages.

Every number is computed on labelled candidate pairs found exactly as a scan finds them (see
labelled.labelled_pairs), so "recall" here is recall among candidates; the group-level scorer
in group_scores.py measures the whole scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.match.decision import Calibration, StagedDecision
from ndid_desktop.engine.types import PairSignals

if TYPE_CHECKING:  # pure numpy here: the second look's machinery is the caller's to load
    from ndid_desktop.engine.evaluation.fitting_look import FittingLook


@dataclass(frozen=True)
class Curve:
    name: str
    thresholds: NDArray[np.float64]  # descending scores at which a pair is accepted
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]

    @property
    def f1(self) -> NDArray[np.float64]:
        p, r = self.precision, self.recall
        return np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)

    def recall_at_precision(self, target: float) -> tuple[float, float]:
        """(best recall with precision >= target, the score threshold that gives it)."""
        ok = np.nonzero(self.precision >= target)[0]
        if len(ok) == 0:
            return 0.0, float("inf")
        best = ok[np.argmax(self.recall[ok])]
        return float(self.recall[best]), float(self.thresholds[best])


def curve(name: str, scores: NDArray[np.float64], labels: NDArray[np.bool_]) -> Curve:
    """Precision and recall when accepting every pair scoring at least each distinct score."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the last pair of each distinct score
    positives = max(int(labels.sum()), 1)
    return Curve(name, s[last], tp[last] / (tp[last] + fp[last]), tp[last] / positives)


def brier(probabilities: NDArray[np.float64], labels: NDArray[np.bool_]) -> float:
    return float(np.mean((probabilities - labels.astype(np.float64)) ** 2))


def reliability(
    probabilities: NDArray[np.float64], labels: NDArray[np.bool_], bins: int = 10
) -> list[tuple[float, float, int]]:
    """(mean predicted, observed share, count) per probability bin with pairs in it."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges) - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(
                (float(probabilities[mask].mean()), float(labels[mask].mean()), int(mask.sum()))
            )
    return out


def staged_probabilities(
    signals: Sequence[PairSignals],
    calibration: Calibration,
    second_look: FittingLook | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """(cheap, final, gated): the scan's staged decision (match/decision.py) for each pair.

    ``second_look`` measures the pairs inside the gate band (only those, as in a scan) with the
    verifier's (and gate encoder's) signals; see fitting_look.py.
    """
    decision = StagedDecision.of(calibration)
    measured_signals = list(signals)
    band = [i for i, s in enumerate(signals) if decision.in_band(decision.cheap.probability(s))]
    if second_look is not None and band:
        for i, s in zip(band, second_look.measure(band), strict=True):
            measured_signals[i] = s
    decided = [decision.decide(s) for s in measured_signals]
    cheap = np.array([d.cheap_probability for d in decided], dtype=np.float64)
    final = np.array([d.probability for d in decided], dtype=np.float64)
    gated = np.array([d.gated for d in decided], dtype=bool)
    return cheap, final, gated
