"""The second-look band: without a gate encoder every candidate pair is checked, so a pair is
accepted on global signals alone only when its check could not be had."""

from __future__ import annotations

import numpy as np

from ndid_desktop.engine.evaluation.calibrate import choose_gate
from ndid_desktop.engine.match.decision import (
    CHEAP,
    UNVERIFIED,
    VERIFIED,
    LogisticStage,
    StagedDecision,
)
from ndid_desktop.engine.match.decisions import with_verification
from ndid_desktop.engine.match.verify import TOO_FEW_KEYPOINTS, Verification
from ndid_desktop.engine.types import PairSignals

COSINE_ONLY = LogisticStage(("cosine_gap",), (4.0,), 0.0, (0.0,), (1.0,))
INLIERS_ONLY = LogisticStage(("log_inliers",), (3.0,), -6.0, (0.0,), (1.0,))


def _look_alike(check: Verification) -> PairSignals:
    # Two different star fields: the embeddings all but agree, the keypoints do not.
    signals = PairSignals(20, 22, 18, 0, cosine=0.97, aspect_log_ratio=0.0, area_log_ratio=0.0)
    return with_verification(signals, check)


def test_without_a_gate_encoder_the_band_is_every_pair() -> None:
    rng = np.random.default_rng(5)
    labels = rng.uniform(size=400) < 0.4
    cheap = np.where(labels, rng.uniform(0.3, 1.0, 400), rng.uniform(0.0, 1.0, 400))
    low, high = choose_gate(cheap, labels, 0.95, gate_encoder=False)
    assert low == 0.0 and high > 1.0
    low, high = choose_gate(cheap, labels, 0.95, gate_encoder=True)
    assert low > 0.0 and high <= 1.0  # CLIP's band stays narrow: it costs per picture


def test_a_confident_cheap_stage_is_overruled_by_a_check_that_finds_nothing() -> None:
    staged = StagedDecision(COSINE_ONLY, INLIERS_ONLY, threshold=0.95, band=(0.0, 1.0 + 1e-9))
    signals = _look_alike(Verification(0, 0.0, 0.0, 0.0))
    decision = staged.decide(signals)
    assert decision.cheap_probability > 0.95  # what accepted it unchecked before
    assert decision.stage == VERIFIED and not staged.accepts(decision)


def test_an_unmeasurable_check_leaves_the_cheap_decision() -> None:
    staged = StagedDecision(COSINE_ONLY, INLIERS_ONLY, threshold=0.95, band=(0.0, 1.0 + 1e-9))
    decision = staged.decide(_look_alike(TOO_FEW_KEYPOINTS))
    assert decision.stage == UNVERIFIED and staged.accepts(decision)
    old_band = StagedDecision(COSINE_ONLY, INLIERS_ONLY, threshold=0.95, band=(0.0, 0.957))
    assert old_band.decide(_look_alike(Verification(0, 0.0, 0.0, 0.0))).stage == CHEAP
