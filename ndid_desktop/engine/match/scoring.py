"""Scoring one pair: signals, cheap probability, the verifier when ambiguous, final probability."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.actions.verdicts import Verdicts
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.extract import FeatureSet
from ndid_desktop.engine.files.decode import DecodeError
from ndid_desktop.engine.groups.keeper import Geometry
from ndid_desktop.engine.match.decision import Calibration
from ndid_desktop.engine.match.signals import measure, reversed_signals
from ndid_desktop.engine.match.verify import (
    CheckFailed,
    Verification,
    VerificationFailure,
    Verifier,
)
from ndid_desktop.engine.types import FileEntry, PairSignals, ScoredPair


@dataclass
class GateCounter:
    gated: int = 0


class GateVectors:
    """The gate encoder's embeddings (CLIP), computed only for images in gated pairs.

    ``compute(indices)`` embeds a batch of images (through the cache); the scan calls
    ``prefetch`` with every image of the gated pairs first, so they run as one batch.
    """

    def __init__(self, compute: Callable[[Sequence[int]], dict[int, NDArray[np.float32]]]) -> None:
        self._compute = compute
        self._vectors: dict[int, NDArray[np.float32]] = {}

    @property
    def images(self) -> int:
        return len(self._vectors)

    def prefetch(self, indices: Iterable[int]) -> None:
        missing = sorted(set(indices) - set(self._vectors))
        if missing:
            self._vectors.update(self._compute(missing))

    def cosine(self, a: int, b: int) -> float | None:
        self.prefetch((a, b))
        va, vb = self._vectors.get(a), self._vectors.get(b)
        if va is None or vb is None:
            return None  # the image could not be read again
        return float(np.clip(np.dot(va, vb), -1.0, 1.0))


class CachedVerification:
    """The keypoint check for candidates (a, b), remembered in the feature cache so that a
    re-scan of unchanged files verifies nothing."""

    def __init__(
        self, entries: Sequence[FileEntry], cache: FeatureCache, verifier: Verifier | None
    ) -> None:
        self.entries = entries
        self.cache = cache
        self.verifier = verifier
        self.ran = 0
        self.failures: list[VerificationFailure] = []
        self._failed: set[tuple[int, int, int]] = set()

    def __call__(self, a: int, b: int, orientation: int) -> Verification | None:
        """The pair's check, or None when it cannot be had: the scorer then treats the pair
        as unverified, whether a file broke or the check itself failed."""
        ea, eb = self.entries[a], self.entries[b]
        cached = self.cache.lookup_verification(ea, eb, orientation)
        if cached is not None:
            return Verification.from_tuple(cached)
        if self.verifier is None or (a, b, orientation) in self._failed:
            return None
        try:
            result = self.verifier.verify(ea.path, eb.path, orientation)
        except DecodeError:
            return None  # a file vanished or broke since its features were cached
        except Exception as exc:  # one pair's problem, reported with the scan, never its end
            self.record_failure(a, b, orientation, CheckFailed.of(exc).reason)
            return None
        self.ran += 1
        self.cache.store_verification(ea, eb, orientation, result.as_tuple())
        return result

    def record_failure(self, a: int, b: int, orientation: int, reason: str) -> None:
        """Remembers a failed check, so it is reported once and not run again in this scan
        (nor cached: a later version, or a repaired file, gets another try)."""
        if (a, b, orientation) in self._failed:
            return
        self._failed.add((a, b, orientation))
        self.failures.append(
            VerificationFailure(self.entries[a].path, self.entries[b].path, reason)
        )


class PairScorer:
    def __init__(
        self,
        features: FeatureSet,
        calibration: Calibration,
        cache: FeatureCache,
        verifier: Verifier | None,
        gate: tuple[float, float],
        gate_vectors: GateVectors | None = None,
        verdicts: Verdicts | None = None,
    ) -> None:
        self.gate_vectors = gate_vectors
        self.verdicts = verdicts
        self.features = features
        self.calibration = calibration
        self.cache = cache
        self.verifier = verifier
        self.gate = gate
        self.counter = GateCounter()
        self.verification = CachedVerification(features.entries, cache, verifier)
        self._scored: dict[tuple[int, int], ScoredPair] = {}
        self._signals: dict[tuple[int, int], PairSignals] = {}

    def is_gated(self, a: int, b: int) -> bool:
        """Whether the cheap signals leave this pair to the second check."""
        if self.calibration.verified is None:
            return False
        low, high = self.gate
        return low <= self.calibration.cheap.probability(self.signals(a, b)) < high

    def signals(self, a: int, b: int) -> PairSignals:
        key = (min(a, b), max(a, b))
        if key not in self._signals:
            self._signals[key] = measure_pair(self.features, *key)
        return self._signals[key]

    def score(self, a: int, b: int) -> ScoredPair:
        key = (min(a, b), max(a, b))
        if key not in self._scored:
            self._scored[key] = self._score(*key)
        return self._scored[key]

    def _score(self, a: int, b: int) -> ScoredPair:
        signals = self.signals(a, b)
        entries = self.features.entries
        if self.verdicts is not None and (entries[a].path, entries[b].path) in self.verdicts:
            return ScoredPair(a, b, signals, 0.0, gated=False)  # the user said: different
        p = self.calibration.cheap.probability(signals)
        verified = self.calibration.verified
        if verified is None or not self.is_gated(a, b):
            return ScoredPair(a, b, signals, p, gated=False)
        self.counter.gated += 1
        if self.gate_vectors is not None:
            signals = replace(signals, gate_cosine=self.gate_vectors.cosine(a, b))
        check = self.verification(a, b, signals.orientation)
        needed = ("gate_cosine_gap" in verified.features, "log_inliers" in verified.features)
        if (needed[0] and signals.gate_cosine is None) or (needed[1] and check is None):
            return ScoredPair(a, b, signals, p, gated=True)  # a file vanished or broke since
        if check is not None:
            signals = with_verification(signals, check)
        return ScoredPair(a, b, signals, verified.probability(signals), True)

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


def measure_pair(features: FeatureSet, a: int, b: int) -> PairSignals:
    """The cheap signals of candidates a and b (hashes, embedding, shape)."""
    vectors = features.embeddings
    return measure(
        features.hashes[a],
        features.hashes[b],
        features.infos[a],
        features.infos[b],
        vectors[a] if vectors is not None else None,
        vectors[b] if vectors is not None else None,
    )


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
