"""Compare two files and explain the decision the scan would make about them."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.encoders import Encoder, EncoderSpec, build_encoder
from ndid_desktop.engine.features.extract import Extracted, extract, prepare_onnx
from ndid_desktop.engine.features.model_sets import model_store, resolve
from ndid_desktop.engine.features.model_store import ModelStore
from ndid_desktop.engine.files.decode import DecodeError
from ndid_desktop.engine.groups.explain import describe_edit
from ndid_desktop.engine.match.scoring import with_verification
from ndid_desktop.engine.match.signals import measure
from ndid_desktop.engine.match.verify import Verifier
from ndid_desktop.engine.types import ImageInfo, PairSignals


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
    model_set: str
    warnings: tuple[str, ...]


def compare(
    path_a: str, path_b: str, config: ScanConfig, encoder: Encoder | None = None
) -> Comparison:
    """Every signal for the pair, the calibrated probability and the decision.

    Unlike a scan, compare always runs the keypoint check and the gate encoder, to show every
    signal; the probability is still the one a scan would give. Raises DecodeError when either
    file cannot be read.
    """
    for path in (path_a, path_b):
        _require_file(path)
    store = model_store(config)
    resolved = resolve(config, store)
    models, calibration = resolved.models, resolved.calibration
    a = _extract(path_a, models.embedding, config)
    b = _extract(path_b, models.embedding, config)
    assert a.info and b.info and a.hashes is not None and b.hashes is not None  # checked
    vec_a = vec_b = None
    if models.embedding is not None:
        vec_a, vec_b = _embed(models.embedding, [a, b], config, store, encoder)
    signals = measure(a.hashes, b.hashes, a.info, b.info, vec_a, vec_b)
    cheap = calibration.cheap.probability(signals)
    if models.gate is not None:
        ga, gb = (_extract(p, models.gate, config) for p in (path_a, path_b))
        va, vb = _embed(models.gate, [ga, gb], config, store, None)
        signals = replace(signals, gate_cosine=float(np.dot(va, vb)))
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
        model_set=models.name,
        warnings=resolved.warnings,
    )


def _require_file(path: str) -> None:
    # Checked before anything loads: decode's own message assumes a scan, where a missing
    # file is one that vanished after it was listed.
    if not os.path.exists(path):
        raise DecodeError(f"{path}: file does not exist", lasting=False)
    if not os.path.isfile(path):
        raise DecodeError(f"{path}: not a file", lasting=False)


def _extract(path: str, spec: EncoderSpec | None, config: ScanConfig) -> Extracted:
    result = extract(path, spec, config.max_decode_bytes)
    if result.error is not None:
        raise DecodeError(f"{path}: {result.error}")
    return result


def _embed(
    spec: EncoderSpec,
    items: list[Extracted],
    config: ScanConfig,
    store: ModelStore,
    encoder: Encoder | None,
) -> NDArray[np.float32]:
    if encoder is None:
        prepare_onnx(spec, config.models_dir, store)  # keeps torch out of this process if it can
        encoder = build_encoder(spec, config.models_dir, store)
    return encoder.embed(np.stack([i.pixels for i in items if i.pixels is not None]))
