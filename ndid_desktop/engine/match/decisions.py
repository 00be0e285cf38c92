"""The decide stage: each scored pair's signals (with its second look, when it had one) through
the staged decision. Grouping, the keeper rule and the report read the result; nothing after
this stage computes a probability."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from ndid_desktop.engine.groups.derivation import Geometry
from ndid_desktop.engine.match.cheap import CANCEL_EVERY, CheapScores
from ndid_desktop.engine.match.decision import Decision, StagedDecision
from ndid_desktop.engine.match.signals import reversed_signals
from ndid_desktop.engine.match.verify import Verification
from ndid_desktop.engine.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from ndid_desktop.engine.types import PairSignals


@dataclass(frozen=True)
class SecondLook:
    """What the expensive stage measured, keyed by pair (a < b)."""

    verifications: Mapping[tuple[int, int], Verification]
    gate_cosines: Mapping[tuple[int, int], float]


@dataclass(frozen=True)
class DecidedPair:
    a: int
    b: int
    signals: PairSignals  # seen from a
    decision: Decision


@dataclass(frozen=True)
class Decisions:
    """The pairs worth remembering (accepted, or given a second look), keyed (a, b), a < b.
    A pair not here was rejected by the cheap stage, or never a candidate: probability 0."""

    pairs: Mapping[tuple[int, int], DecidedPair]
    threshold: float

    def get(self, a: int, b: int) -> DecidedPair | None:
        return self.pairs.get((min(a, b), max(a, b)))

    def probability(self, a: int, b: int) -> float:
        pair = self.get(a, b)
        return pair.decision.probability if pair is not None else 0.0

    def signals_from(self, a: int, b: int) -> PairSignals | None:
        """The pair's signals seen from a's side."""
        pair = self.get(a, b)
        if pair is None:
            return None
        return pair.signals if pair.a == a else reversed_signals(pair.signals)

    def geometry(self, a: int, b: int) -> Geometry | None:
        signals = self.signals_from(a, b)
        return Geometry.of(signals) if signals is not None else None

    def accepted(self) -> list[tuple[int, int]]:
        return sorted(k for k, p in self.pairs.items() if p.decision.probability >= self.threshold)

    def merged(self, other: Decisions) -> Decisions:
        return Decisions({**self.pairs, **other.pairs}, self.threshold)


def with_verification(signals: PairSignals, check: Verification) -> PairSignals:
    if not check.measurable:  # too few keypoints to try: as if it had not been checked
        return signals
    return replace(
        signals,
        inliers=check.inliers,
        inlier_ratio=check.inlier_ratio,
        coverage_ab=check.coverage_ab,
        coverage_ba=check.coverage_ba,
        detail_ab=check.detail_ab,
        detail_ba=check.detail_ba,
    )


def with_second_look(signals: PairSignals, key: tuple[int, int], look: SecondLook) -> PairSignals:
    check = look.verifications.get(key)
    if check is not None:
        signals = with_verification(signals, check)
    cosine = look.gate_cosines.get(key)
    if cosine is not None:
        signals = replace(signals, gate_cosine=cosine)
    return signals


def decide_pairs(
    pairs: Sequence[tuple[int, int, PairSignals]],
    look: SecondLook,
    decision: StagedDecision,
    user_says_different: Callable[[int, int], bool],
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> Decisions:
    cancel = cancel or CancelToken()
    kept: dict[tuple[int, int], DecidedPair] = {}
    for i, (a, b, cheap_signals) in enumerate(pairs):
        if i % CANCEL_EVERY == 0:  # ~50 ms of work between checks
            cancel.raise_if_cancelled()
            progress(ProgressEvent("decide", i, len(pairs), "deciding"))
        signals = with_second_look(cheap_signals, (a, b), look)
        decided = decision.decide(signals, user_says_different(a, b))
        if decided.gated or decision.accepts(decided):
            kept[(a, b)] = DecidedPair(a, b, signals, decided)
    return Decisions(kept, decision.threshold)


def scored_rows(scores: CheapScores) -> list[tuple[int, int, PairSignals]]:
    return [
        (a, b, signals)
        for (a, b), signals in zip(scores.pairs.tolist(), scores.signals, strict=True)
    ]
