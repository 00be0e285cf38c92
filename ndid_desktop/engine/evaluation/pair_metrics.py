"""Pair-level measurements: precision-recall and F1-versus-threshold curves, calibration quality
(Brier score, reliability), and the ablation of the pipeline's stages.

Every number is computed on labelled candidate pairs found exactly as a scan finds them (see
calibrate.labelled_pairs), so "recall" here is recall among candidates; the group-level scorer
in evaluation.py measures the whole scan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.match.decision import Calibration
from ndid_desktop.engine.types import PairSignals


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
    verified_signals: Callable[[int], PairSignals] | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """(cheap, final, gated): the scan's two-stage decision for each pair.

    ``verified_signals(i)`` gives pair i's signals with the verifier's (and gate encoder's)
    measurements; it is called only for pairs inside the gate band, as in a scan.
    """
    cheap = np.array([calibration.cheap.probability(s) for s in signals])
    final = cheap.copy()
    low, high = calibration.gate
    gated = (cheap >= low) & (cheap < high)
    if calibration.verified is not None and verified_signals is not None:
        for i in np.nonzero(gated)[0].tolist():
            final[i] = calibration.verified.probability(verified_signals(i))
    else:
        gated[:] = False
    return cheap, final, gated
