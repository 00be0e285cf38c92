"""Scoring one pair: signals, cheap probability, the verifier when ambiguous, final probability."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .cache import FeatureCache
from .decision import Calibration
from .decode import DecodeError
from .features import FeatureSet
from .keeper import Geometry
from .signals import measure, reversed_signals
from .types import PairSignals, ScoredPair
from .verify import Verification, Verifier


@dataclass
class GateCounter:
    gated: int = 0
    verified: int = 0  # gated pairs that really ran the verifier (not from the cache)


class PairScorer:
    def __init__(
        self,
        features: FeatureSet,
        calibration: Calibration,
        cache: FeatureCache,
        verifier: Verifier | None,
        gate: tuple[float, float],
    ) -> None:
        self.features = features
        self.calibration = calibration
        self.cache = cache
        self.verifier = verifier
        self.gate = gate
        self.counter = GateCounter()
        self._scored: dict[tuple[int, int], ScoredPair] = {}

    def signals(self, a: int, b: int) -> PairSignals:
        f = self.features
        vectors = f.embeddings
        return measure(
            f.hashes[a],
            f.hashes[b],
            f.infos[a],
            f.infos[b],
            vectors[a] if vectors is not None else None,
            vectors[b] if vectors is not None else None,
        )

    def score(self, a: int, b: int) -> ScoredPair:
        key = (min(a, b), max(a, b))
        if key not in self._scored:
            self._scored[key] = self._score(*key)
        return self._scored[key]

    def _score(self, a: int, b: int) -> ScoredPair:
        signals = self.signals(a, b)
        p = self.calibration.cheap.probability(signals)
        low, high = self.gate
        if self.calibration.verified is None or self.verifier is None or not low <= p < high:
            return ScoredPair(a, b, signals, p, gated=False)
        self.counter.gated += 1
        check = self.verification(a, b, signals.orientation)
        if check is None:  # a file vanished or broke since its features were cached
            return ScoredPair(a, b, signals, p, gated=True)
        signals = with_verification(signals, check)
        return ScoredPair(a, b, signals, self.calibration.verified.probability(signals), True)

    def verification(self, a: int, b: int, orientation: int) -> Verification | None:
        """The verifier's result for (a, b), from the cache when both files are unchanged."""
        ea, eb = self.features.entries[a], self.features.entries[b]
        cached = self.cache.lookup_verification(ea, eb, orientation)
        if cached is not None:
            return Verification.from_tuple(cached)
        if self.verifier is None:
            return None
        try:
            result = self.verifier.verify(ea.path, eb.path, orientation)
        except DecodeError:
            return None
        self.counter.verified += 1
        self.cache.store_verification(ea, eb, orientation, result.as_tuple())
        return result

    def geometry(self, a: int, b: int) -> Geometry | None:
        """How a and b overlap (from a's side), verifying the pair if it was not yet."""
        pair = self.score(a, b)
        s = pair.signals
        if s.coverage_ab is None:
            check = self.verification(pair.a, pair.b, s.orientation)
            if check is None:
                return None
            s = with_verification(s, check)
            self._scored[(pair.a, pair.b)] = replace(pair, signals=s)
        return Geometry.of(s if a == pair.a else reversed_signals(s))


def with_verification(signals: PairSignals, check: Verification) -> PairSignals:
    return replace(
        signals,
        inliers=check.inliers,
        inlier_ratio=check.inlier_ratio,
        coverage_ab=check.coverage_ab,
        coverage_ba=check.coverage_ba,
        detail_ab=check.detail_ab,
        detail_ba=check.detail_ba,
    )
