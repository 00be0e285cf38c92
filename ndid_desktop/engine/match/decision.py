"""Stage 5: the decision — a logistic regression over the pair's signals.

The coefficients live in a small JSON file (no pickle), fitted by scikit-learn in
``ndid calibrate``. Two stages share one file: ``cheap`` reads the signals every pair has;
``verified`` adds the geometric verifier's signals and decides the pairs ``cheap`` left in the
ambiguous band.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ndid_desktop.engine.match.signals import FEATURES, feature_vector
from ndid_desktop.engine.types import PairSignals

CALIBRATION_FORMAT = 1


class CalibrationError(ValueError):
    """A calibration file is missing, malformed, or made for another model set."""


@dataclass(frozen=True)
class LogisticStage:
    features: tuple[str, ...]
    coef: tuple[float, ...]  # on standardised features: comparable magnitudes
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def logit(self, signals: PairSignals) -> float:
        x = (feature_vector(signals, self.features) - np.array(self.mean)) / np.array(self.scale)
        return float(np.dot(x, self.coef) + self.intercept)

    def probability(self, signals: PairSignals) -> float:
        z = self.logit(signals)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def contributions(self, signals: PairSignals) -> dict[str, float]:
        """Each feature's share of the logit: the model's own explanation of a decision."""
        x = (feature_vector(signals, self.features) - np.array(self.mean)) / np.array(self.scale)
        return {n: float(c * v) for n, c, v in zip(self.features, self.coef, x, strict=True)}

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "mean": list(self.mean),
            "scale": list(self.scale),
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> LogisticStage:
        stage = LogisticStage(
            features=tuple(data["features"]),
            coef=tuple(float(c) for c in data["coef"]),
            intercept=float(data["intercept"]),
            mean=tuple(float(m) for m in data["mean"]),
            scale=tuple(float(s) for s in data["scale"]),
        )
        unknown = [f for f in stage.features if f not in FEATURES]
        if unknown:
            raise CalibrationError(f"calibration uses unknown features: {', '.join(unknown)}")
        n = len(stage.features)
        if not (len(stage.coef) == len(stage.mean) == len(stage.scale) == n):
            raise CalibrationError("calibration stage has mismatched vector lengths")
        return stage


@dataclass(frozen=True)
class Calibration:
    model_set: str
    encoder: str | None  # the encoder cache key the cosine came from
    cheap: LogisticStage
    verified: LogisticStage | None
    threshold: float
    gate: tuple[float, float]  # cheap probabilities in [low, high) go to the verifier
    metrics: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CALIBRATION_FORMAT,
            "model_set": self.model_set,
            "encoder": self.encoder,
            "threshold": self.threshold,
            "gate": list(self.gate),
            "stages": {
                "cheap": self.cheap.to_json(),
                **({"verified": self.verified.to_json()} if self.verified else {}),
            },
            "metrics": self.metrics,
            "source": self.source,
        }

    def save(self, path: Path) -> None:
        save_json(self.to_json(), path)

    @staticmethod
    def from_json(data: dict[str, Any], origin: str) -> Calibration:
        try:
            if data.get("format") != CALIBRATION_FORMAT:
                raise CalibrationError(f"{origin}: unsupported calibration format")
            stages = data["stages"]
            low, high = (float(g) for g in data["gate"])
            return Calibration(
                model_set=str(data["model_set"]),
                encoder=data.get("encoder"),
                cheap=LogisticStage.from_json(stages["cheap"]),
                verified=LogisticStage.from_json(stages["verified"])
                if "verified" in stages
                else None,
                threshold=float(data["threshold"]),
                gate=(low, high),
                metrics=dict(data.get("metrics", {})),
                source=origin,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CalibrationError):
                raise
            raise CalibrationError(f"{origin}: malformed calibration ({exc})") from exc


def save_json(data: dict[str, Any], path: Path) -> None:
    """A model file, written whole or not at all (a crash leaves the previous one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def bundled_calibration_name(model_set: str) -> str:
    return f"calibration-{model_set}.json"


def load_calibration(
    model_set: str, encoder: str | None, path: Path | None = None, user_dir: Path | None = None
) -> Calibration:
    """The calibration for ``model_set``: from ``path`` when given; else the user's own (made by
    ``ndid calibrate --auto``) in ``user_dir`` when there is one; else the bundled one.

    A calibration fitted for another model set or encoder is refused: its probabilities would
    mean something else.
    """
    own = user_dir / bundled_calibration_name(model_set) if user_dir is not None else None
    if path is None and own is not None and own.is_file():
        path = own
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CalibrationError(f"cannot read calibration {path}: {exc}") from exc
        origin = str(path)
    else:
        name = bundled_calibration_name(model_set)
        res = resources.files("ndid_desktop.resources").joinpath(name)
        if not res.is_file():
            raise CalibrationError(
                f"no calibration for model set {model_set!r} yet: make one on your own photos "
                f"with 'ndid calibrate --auto --model-set {model_set} PHOTO_FOLDER'"
            )
        text = res.read_text(encoding="utf-8")
        origin = f"bundled {name}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{origin}: not valid JSON ({exc})") from exc
    calibration = Calibration.from_json(data, origin)
    if calibration.model_set != model_set or calibration.encoder != encoder:
        raise CalibrationError(
            f"{origin} was fitted for model set {calibration.model_set!r} "
            f"(encoder {calibration.encoder}), not {model_set!r} (encoder {encoder}); "
            "run 'ndid calibrate' for this model set"
        )
    return calibration


# How a pair's probability was reached: the one rule for every caller (scan, compare,
# calibration, evaluation), so what is fitted is exactly what runs.
CHEAP, VERIFIED, UNVERIFIED, USER = "cheap", "verified", "unverified", "user"


@dataclass(frozen=True)
class Decision:
    probability: float
    cheap_probability: float
    # CHEAP: outside the band; VERIFIED: the band's second look decided; UNVERIFIED: in the
    # band, but a signal the verified stage reads could not be had (a file vanished or broke,
    # a check failed, or the pair was over the per-image bound), so the cheap stage decides;
    # USER: the user said the two are different pictures.
    stage: str

    @property
    def gated(self) -> bool:
        return self.stage in (VERIFIED, UNVERIFIED)


@dataclass(frozen=True)
class StagedDecision:
    """The decision model as it runs: cheap stage, ambiguous band, verified stage, threshold.

    Built once from a calibration and the user's overrides; every place that turns signals into
    a duplicate probability asks this object, never the stages directly."""

    cheap: LogisticStage
    verified: LogisticStage | None
    threshold: float
    band: tuple[float, float]  # cheap probabilities in [low, high) get the second look

    @staticmethod
    def of(
        calibration: Calibration,
        threshold: float | None = None,
        band_low: float | None = None,
        band_high: float | None = None,
    ) -> StagedDecision:
        low, high = calibration.gate
        return StagedDecision(
            cheap=calibration.cheap,
            verified=calibration.verified,
            threshold=calibration.threshold if threshold is None else threshold,
            band=(low if band_low is None else band_low, high if band_high is None else band_high),
        )

    def in_band(self, cheap_probability: float) -> bool:
        low, high = self.band
        return self.verified is not None and low <= cheap_probability < high

    @property
    def needs_gate_cosine(self) -> bool:
        return self.verified is not None and "gate_cosine_gap" in self.verified.features

    def decide(self, signals: PairSignals, user_says_different: bool = False) -> Decision:
        """The pair's probability from its signals; band pairs read the second-look signals
        in ``signals`` (verification, gate cosine) when they were measured."""
        cheap = self.cheap.probability(signals)
        if user_says_different:
            return Decision(0.0, cheap, USER)
        if self.verified is None or not self.in_band(cheap):
            return Decision(cheap, cheap, CHEAP)
        if not measured(signals, self.verified.features):
            return Decision(cheap, cheap, UNVERIFIED)
        verified = self.verified.probability(signals)
        if partial_overlap(signals):
            verified = min(verified, PARTIAL_CAP)
        return Decision(verified, cheap, VERIFIED)

    def accepts(self, decision: Decision) -> bool:
        return decision.probability >= self.threshold


# Two pictures of which neither shows most of the other share a region, they are not copies
# of one picture: two collages with a tile in common, two mosaics cut from one photo, a photo
# and a crop of its corner in another frame. The keypoint check sees real, clean geometry on the
# shared region, and the fitting pairs have no such negatives to learn from, so the rule is
# stated: such a pair is at most "related", never accepted. Measured: on a library of 2,500
# mosaics with shared regions (benchmarks/bench_scale.py) they made most of the false groups;
# on the held-apart dev photos 39 of 2,472 checked (original, copy) pairs (1.6%: rotate-25,
# combo, crop-60-off...) have both coverages under this, most found again through a sibling.
PARTIAL = 0.6
PARTIAL_CAP = 0.49  # below any threshold (precision_threshold never goes under 0.5)


def partial_overlap(signals: PairSignals) -> bool:
    """Both pictures checked, overlapping, and neither covered by the other beyond PARTIAL."""
    a, b = signals.coverage_ab, signals.coverage_ba
    if a is None or b is None or not signals.inliers:
        return False
    return max(a, b) < PARTIAL


def measured(signals: PairSignals, names: tuple[str, ...]) -> bool:
    """Whether every feature in ``names`` can be computed from ``signals``."""
    try:
        feature_vector(signals, names)
    except ValueError:
        return False
    return True
