"""Fitting the decision model on labelled candidate pairs (scikit-learn), saved as JSON.

The pairs come from the same candidate search the scan runs, with the same class balance (no
re-weighting), so a fitted probability means the same thing at scan time: "of candidate pairs
that look like this, this share are the same picture".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.evaluation.fitting_look import FittingLook
from ndid_desktop.engine.evaluation.labelled import LabelledPairs
from ndid_desktop.engine.match.decision import (
    Calibration,
    CalibrationError,
    LogisticStage,
    StagedDecision,
    measured,
)
from ndid_desktop.engine.match.signals import feature_vector
from ndid_desktop.engine.types import PairSignals

# Few, monotone features: each coefficient reads as "more of this signal, more (or less)
# likely the same picture" (cross-validated on the dev photos, these four lose no recall at
# 99.5% precision against ten raw and transformed ones).
_SHAPE = ("aspect_log_ratio", "area_log_ratio")
CHEAP_FEATURES = {
    "fast": ("hash_close", "phash", *_SHAPE),
    "standard": ("hash_close", "hash_close_small", "cosine_gap", *_SHAPE),
    "thorough": ("hash_close", "hash_close_small", "cosine_gap", *_SHAPE),
    "copydetect": ("hash_close", "hash_close_small", "cosine_gap", *_SHAPE),
}
GATE_EXTRA = ("gate_cosine_gap",)
# The verified stage reads the inlier count and, through inlier_evidence, how clean the
# matches are (inlier_ratio alone beside the count only takes a sign-flipped weight).
VERIFIED_EXTRA = ("log_inliers", "inlier_evidence", "coverage")
TARGET_PRECISION = 0.995
# The band that gets the second look: every pair the cheap stage would not accept outright,
# that is, all but FALSE_SHARE of the negatives it would accept and no low edge. A pair is never
# rejected unchecked because a global signal (hash, embedding) is low: a print-scan's cheap
# probability is 0.04-0.25 beside 200-400 clean inliers. The checks stay bounded by the
# selection's per-picture budget (ScanConfig.max_checks_per_image). Measured on the held-apart
# dev photos against the old low edge (0.077, 3% of the positives below it): keypoint checks
# 37,382 -> 52,115 of 56,952 candidate pairs, pairwise recall 0.820 -> 0.888, precision
# 0.9949 -> 0.9983 (with inlier_evidence and the thumbnails' hash_close_small, refitted).
# Nor is a pair accepted unchecked because global signals are high: look-alikes (two star
# fields, the light and dark cut of one wallpaper, a pair the cheap stage turned to mirror) reach
# a cheap probability of 0.97 with no keypoint geometry at all. Measured on the 335 distinct dev
# photos, where every group is a false match: with the band's top at the cheap stage's own
# acceptance (FALSE_SHARE of the negatives above it), 1,597 of 1,599 candidate pairs were
# checked already, and the 2 that were not were both accepted falsely. So without a gate
# encoder the band is everything; with one (CLIP, a hundred checks' cost per picture) it keeps
# FALSE_SHARE at the top and MISS_SHARE of the positives at the bottom (choose_gate).
MISS_SHARE = 0.03
FALSE_SHARE = 0.001
# The thresholds a sensitivity setting may pick: their precision and recall go into the file.
_OPERATING_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)


def fit_stage(
    signals: Sequence[PairSignals], labels: NDArray[np.bool_], names: tuple[str, ...]
) -> LogisticStage:
    from sklearn.linear_model import LogisticRegression

    x = np.stack([feature_vector(s, names) for s in signals])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((x - mean) / scale, labels)
    return LogisticStage(
        features=names,
        coef=tuple(float(c) for c in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        mean=tuple(float(m) for m in mean),
        scale=tuple(float(s) for s in scale),
    )


def precision_threshold(
    probabilities: NDArray[np.float64], labels: NDArray[np.bool_], target: float
) -> float:
    """The lowest threshold (>= 0.5) whose accepted pairs reach ``target`` precision."""
    order = np.argsort(-probabilities)
    p_sorted = probabilities[order]
    tp = np.cumsum(labels[order])
    precision = tp / np.arange(1, len(order) + 1)
    ok = np.nonzero(precision >= target)[0]
    if len(ok) == 0:
        return 0.99
    # The last rank at which precision still holds; its probability is the threshold.
    return float(max(0.5, p_sorted[ok[-1]]))


def _operating_points(
    probabilities: NDArray[np.float64], labels: NDArray[np.bool_]
) -> list[list[float]]:
    """(threshold, precision, recall) on the fitting pairs: what a sensitivity setting means."""
    points = []
    for t in _OPERATING_THRESHOLDS:
        accepted = probabilities >= t
        tp = int((accepted & labels).sum())
        precision = tp / max(int(accepted.sum()), 1)
        points.append([t, round(precision, 4), round(tp / max(int(labels.sum()), 1), 4)])
    return points


def choose_gate(
    cheap: NDArray[np.float64], labels: NDArray[np.bool_], threshold: float, gate_encoder: bool
) -> tuple[float, float]:
    """The band that gets the second look (see FALSE_SHARE). Without a gate encoder it is
    every pair: the second look is a keypoint check from cached descriptors. With one (CLIP,
    the thorough set) it runs from MISS_SHARE of the positives to where the cheap stage
    accepts on its own: CLIP runs only for pairs the cheap signals leave ambiguous."""
    if not gate_encoder:
        return 0.0, 1.0 + 1e-9
    negatives = np.sort(cheap[~labels])
    positives = np.sort(cheap[labels])
    high = float(np.quantile(negatives, 1.0 - FALSE_SHARE)) if len(negatives) else 0.95
    low = float(np.quantile(positives, MISS_SHARE)) if len(positives) else 0.0
    return min(low, threshold), max(high, threshold) + 1e-9


def fit_calibration(
    data: LabelledPairs,
    model_set: str,
    encoder_key: str | None,
    source: str,
    second_look: FittingLook | None = None,
) -> Calibration:
    """Fit the cheap stage on every candidate pair, choose the gate band, and fit the verified
    stage on the pairs inside it, with the signals ``second_look`` measures for them (see
    fitting_look.py); None fits no verified stage (the fast model set)."""
    _require_both_kinds(data.labels)
    names = CHEAP_FEATURES[model_set]
    cheap = fit_stage(data.signals, data.labels, names)
    p_cheap = np.array([cheap.probability(s) for s in data.signals])
    first_threshold = precision_threshold(p_cheap, data.labels, TARGET_PRECISION)
    gate_encoder = second_look is not None and second_look.gate_cosine
    gate = choose_gate(p_cheap, data.labels, first_threshold, gate_encoder)
    in_band = np.nonzero((p_cheap >= gate[0]) & (p_cheap < gate[1]))[0]
    verified = None
    final = p_cheap.copy()
    band_labels = data.labels[in_band]
    # The verified stage needs both kinds of pair in the band; a small set may have only one.
    if second_look is not None and band_labels.any() and not band_labels.all():
        checked = second_look.measure(in_band.tolist())
        extra = VERIFIED_EXTRA + (GATE_EXTRA if second_look.gate_cosine else ())
        # Pairs whose second look could not be had are left out of the fit; at scan time the
        # staged decision gives them the cheap probability, and so does ``final`` here.
        ok = np.array([measured(s, names + extra) for s in checked], dtype=bool)
        if band_labels[ok].any() and not band_labels[ok].all():
            verified = fit_stage([s for s, m in zip(checked, ok, strict=True) if m],
                                 band_labels[ok], names + extra)  # fmt: skip
            staged = StagedDecision(cheap, verified, first_threshold, gate)
            final[in_band] = [staged.decide(s).probability for s in checked]
    threshold = precision_threshold(final, data.labels, TARGET_PRECISION)
    if verified is not None and second_look is not None and threshold >= gate[1]:
        # A pair the cheap stage scores between the band's top and the final threshold would
        # be rejected unchecked: the band reaches the threshold, and those pairs are checked
        # and decided like the rest of it.
        extension = np.nonzero((p_cheap >= gate[1]) & (p_cheap < threshold + 1e-9))[0]
        gate = (gate[0], threshold + 1e-9)
        staged = StagedDecision(cheap, verified, threshold, gate)
        looked = second_look.measure(extension.tolist()) if len(extension) else []
        final[extension] = [staged.decide(s).probability for s in looked]
        in_band = np.union1d(in_band, extension).astype(np.int64)
        threshold = min(precision_threshold(final, data.labels, TARGET_PRECISION), gate[1])
    if verified is None:
        gate, in_band = (threshold, threshold), in_band[:0]  # nothing is ever gated
    return Calibration(
        model_set=model_set,
        encoder=encoder_key,
        cheap=cheap,
        verified=verified,
        threshold=threshold,
        gate=gate,
        metrics=_training_metrics(final, data.labels, threshold, gated=len(in_band)),
        source=source,
    )


def _require_both_kinds(labels: NDArray[np.bool_]) -> None:
    """A logistic fit needs duplicates and look-alikes both; say which the photos lacked."""
    if labels.all() or not labels.any():
        kind = "look-alike (different) pairs" if labels.all() else "duplicate pairs"
        raise CalibrationError(
            f"cannot calibrate: the candidate search found no {kind} among these photos; "
            "use more photos, or more varied ones"
        )


def _training_metrics(
    final: NDArray[np.float64], labels: NDArray[np.bool_], threshold: float, gated: int
) -> dict[str, Any]:
    """What the calibration file records about its own fitting pairs."""
    accepted = final >= threshold
    tp = int((accepted & labels).sum())
    return {
        "precision_at": _operating_points(final, labels),
        "pairs": len(labels),
        "positives": int(labels.sum()),
        "gated": gated,
        "train_precision": tp / max(int(accepted.sum()), 1),
        "train_recall": tp / max(int(labels.sum()), 1),
        "target_precision": TARGET_PRECISION,
    }
