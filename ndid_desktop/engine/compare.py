"""Compare two files and explain the decision the scan would make about them."""

from __future__ import annotations

from dataclasses import dataclass

from .config import ScanConfig
from .decision import load_calibration
from .decode import DecodeError
from .encoders import Encoder, build_encoder, encoder_for_model_set
from .explain import describe_edit
from .features import extract
from .scoring import with_verification
from .signals import measure
from .types import ImageInfo, PairSignals
from .verify import Verifier


@dataclass(frozen=True)
class Comparison:
    path_a: str
    path_b: str
    info_a: ImageInfo
    info_b: ImageInfo
    signals: PairSignals  # with the verifier's signals, which compare always measures
    cheap_probability: float
    probability: float  # what a scan would report for this pair
    gated: bool
    threshold: float
    duplicate: bool
    contributions: dict[str, float]  # each feature's share of the deciding stage's logit
    edits: list[str]


def compare(
    path_a: str, path_b: str, config: ScanConfig, encoder: Encoder | None = None
) -> Comparison:
    """Every signal for the pair, the calibrated probability and the decision.

    Raises DecodeError when either file cannot be read.
    """
    spec = encoder_for_model_set(config.model_set)
    calibration = load_calibration(
        config.model_set, spec.cache_key if spec else None, config.calibration_path
    )
    a = extract(path_a, spec, config.max_pixels)
    b = extract(path_b, spec, config.max_pixels)
    for path, result in ((path_a, a), (path_b, b)):
        if result.error is not None:
            raise DecodeError(f"{path}: {result.error}")
    assert a.info and b.info and a.hashes is not None and b.hashes is not None  # no error above
    vec_a = vec_b = None
    if spec is not None and a.pixels is not None and b.pixels is not None:
        import numpy as np

        model = encoder or build_encoder(spec, config.models_dir)
        vec_a, vec_b = model.embed(np.stack([a.pixels, b.pixels]))
    signals = measure(a.hashes, b.hashes, a.info, b.info, vec_a, vec_b)
    cheap = calibration.cheap.probability(signals)
    signals = with_verification(signals, Verifier().verify(path_a, path_b, signals.orientation))
    threshold = config.threshold if config.threshold is not None else calibration.threshold
    low, high = calibration.gate
    gated = calibration.verified is not None and low <= cheap < high
    stage = calibration.verified if gated and calibration.verified else calibration.cheap
    probability = stage.probability(signals)
    return Comparison(
        path_a=path_a,
        path_b=path_b,
        info_a=a.info,
        info_b=b.info,
        signals=signals,
        cheap_probability=cheap,
        probability=probability,
        gated=gated,
        threshold=threshold,
        duplicate=probability >= threshold,
        contributions=stage.contributions(signals),
        edits=describe_edit(signals, a.info, b.info),
    )
