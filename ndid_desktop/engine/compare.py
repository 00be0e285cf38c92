"""Compare two files and explain the decision the scan would make about them.

The signals come from the same extraction the scan's decode workers run (hashes, embedding,
local features) and the probability from the same staged decision, so `compare` and a scan
give the same probability for the same pair (a test holds them to it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.actions.verdicts import Verdicts
from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.encoders import Encoder, EncoderSpec, build_encoder
from ndid_desktop.engine.features.extract import Extracted, extract, prepare_onnx
from ndid_desktop.engine.features.model_sets import model_store, resolve
from ndid_desktop.engine.features.model_store import ModelStore
from ndid_desktop.engine.files.decode import DecodeError
from ndid_desktop.engine.groups.derivation import Candidate, Geometry, load_direction_model
from ndid_desktop.engine.groups.explain import (
    describe_edit,
    evidence_of,
    reasons_against,
    signed_shares,
)
from ndid_desktop.engine.groups.identical import identical_kind
from ndid_desktop.engine.groups.keeper import keeper_reason
from ndid_desktop.engine.match.decision import VERIFIED, StagedDecision, partial_overlap
from ndid_desktop.engine.match.decisions import with_verification
from ndid_desktop.engine.match.signals import measure, reversed_signals
from ndid_desktop.engine.match.verify import VERIFIERS, PairVerifier
from ndid_desktop.engine.types import FileEntry, ImageInfo, PairSignals

# Within this of 0.5, P(A is the original) does not say which came first.
TOO_CLOSE = 0.05


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
    # Each feature's term in the deciding stage's logit (coefficient times the standardised
    # value: its push against an average pair of the calibration set); `shares` in percent.
    contributions: dict[str, float]
    edits: list[str]  # how the copy (``copy_side``) differs from the other, in short phrases
    model_set: str
    warnings: tuple[str, ...]
    # How a scan decides it: "identical file"/"identical pixels" (never scored), or the staged
    # decision's stage ("cheap", "verified", "unverified", "user").
    stage: str = ""
    # Which was made from which, by the keeper's direction model: P(A is the original of B),
    # and the keeper rule's reason for the one it would keep.
    a_is_original: float = 0.5
    original_reason: str = ""
    copy_side: str = (
        "B"  # which file ``edits`` describe: the one the direction model calls the copy
    )
    # The keypoint check found a shared region but neither shows most of the other: the
    # probability is capped below the threshold whatever the contributions say.
    partial: bool = False

    @property
    def original(self) -> str:
        """'A', 'B', or '' when nothing tells them apart."""
        if self.a_is_original == 0.5:
            return ""
        return "A" if self.a_is_original > 0.5 else "B"

    @property
    def shares(self) -> dict[str, int]:
        """Each contribution's share of the total absolute contribution, in whole percent
        that sum to 100 (largest remainders round up), signed like the contribution."""
        return signed_shares(self.contributions)

    @property
    def reasons_against(self) -> list[str]:
        """The main reasons the pair is not the same picture, in words, strongest first."""
        return reasons_against(self.contributions, self.signals)


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
    models = resolved.models
    decision = StagedDecision.of(
        resolved.calibration, config.threshold, config.gate_low, config.gate_high
    )
    verifier = VERIFIERS[models.verifier] if models.verifier is not None else None
    a = _extract(path_a, models.embedding, config, verifier)
    b = _extract(path_b, models.embedding, config, verifier)
    assert a.info and b.info and a.hashes is not None and b.hashes is not None  # checked
    vec_a = vec_b = None
    if models.embedding is not None:
        vec_a, vec_b = _embed(models.embedding, [a, b], config, store, encoder)
    signals = measure(a.hashes, b.hashes, a.info, b.info, vec_a, vec_b)
    if models.gate is not None:
        ga, gb = (_extract(p, models.gate, config, None) for p in (path_a, path_b))
        va, vb = _embed(models.gate, [ga, gb], config, store, None)
        signals = replace(signals, gate_cosine=float(np.clip(np.dot(va, vb), -1.0, 1.0)))
    if verifier is not None and a.local is not None and b.local is not None:
        check = verifier.verify(a.local, b.local, signals.orientation)
        signals = with_verification(signals, check)
    apart = (path_a, path_b) in Verdicts(config.verdicts_path)
    decided = decision.decide(signals, user_says_different=apart)
    stage_model = (
        decision.verified if decided.stage == VERIFIED and decision.verified else decision.cheap
    )
    identical = (
        None
        if apart
        else identical_kind((a.fingerprint, b.fingerprint), (a.pixel_digest, b.pixel_digest))
    )
    probability = 1.0 if identical else decided.probability
    duplicate = probability >= decision.threshold
    a_first, why = _direction(path_a, path_b, a.info, b.info, signals, config)
    # Described from the original's side, the way a report describes a copy; in the order
    # given when the direction is too close to call.
    copy_side = "A" if a_first < 0.5 - TOO_CLOSE else "B"
    if identical:
        edits = [identical]
    elif copy_side == "A":
        edits = describe_edit(reversed_signals(signals), b.info, a.info, duplicate)
    else:
        edits = describe_edit(signals, a.info, b.info, duplicate)
    return Comparison(
        path_a=path_a,
        path_b=path_b,
        info_a=a.info,
        info_b=b.info,
        signals=signals,
        cheap_probability=decided.cheap_probability,
        probability=probability,
        gated=decided.gated and identical is None,
        threshold=decision.threshold,
        duplicate=duplicate,
        contributions=stage_model.contributions(signals),
        edits=edits,
        model_set=models.name,
        warnings=resolved.warnings,
        stage=identical or decided.stage,
        a_is_original=a_first,
        original_reason=why,
        copy_side=copy_side,
        partial=(
            decided.stage == VERIFIED and partial_overlap(signals) and evidence_of(signals).geometry
        ),
    )


def _direction(
    path_a: str, path_b: str, info_a: ImageInfo, info_b: ImageInfo, signals: PairSignals,
    config: ScanConfig,
) -> tuple[float, str]:  # fmt: skip
    """P(A made B) and the keeper rule's reason, as a scan's keeper rule would see the pair."""
    model = load_direction_model(config.direction_path, config.calibration_dir)
    a, b = Candidate(0, _entry(path_a), info_a), Candidate(1, _entry(path_b), info_b)
    seen = Geometry.of(signals)

    def geometry(i: int, j: int) -> Geometry | None:
        return seen if (i, j) == (0, 1) or seen is None else seen.flipped()

    p = model.probability(a, b, seen)
    keeper = a if p >= 0.5 else b
    return p, keeper_reason(keeper, [b if keeper is a else a], geometry, model)


def _entry(path: str) -> FileEntry:
    st = os.stat(path)
    return FileEntry(path, os.path.dirname(path), False, st.st_size, st.st_mtime_ns)


def _require_file(path: str) -> None:
    # Checked before anything loads: decode's own message assumes a scan, where a missing
    # file is one that vanished after it was listed.
    if not os.path.exists(path):
        raise DecodeError(f"{path}: file does not exist", lasting=False)
    if not os.path.isfile(path):
        raise DecodeError(f"{path}: not a file", lasting=False)


def _extract(
    path: str, spec: EncoderSpec | None, config: ScanConfig, verifier: PairVerifier | None
) -> Extracted:
    result = extract(path, spec, config.max_decode_bytes, verifier)
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
