"""The second look at the pairs the cheap stage left open: the keypoint check (from cached
local features) and, in the thorough set, the gate encoder's cosine. Used by the scan and by
calibration fitting alike, so the fitted verified stage reads exactly what a scan measures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ndid_desktop.engine.executors import ExecutorFactory
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.match.decisions import SecondLook
from ndid_desktop.engine.match.gate import EmbedPictures, gate_cosines
from ndid_desktop.engine.match.verification import VerifyJob, verify_pairs
from ndid_desktop.engine.match.verify import PairVerifier, Verification, VerificationFailure
from ndid_desktop.engine.progress import CancelToken, ProgressCallback
from ndid_desktop.engine.types import FileEntry


@dataclass(frozen=True)
class LookResult:
    look: SecondLook
    ran: int  # keypoint checks computed now (the rest came from the cache)
    failures: tuple[VerificationFailure, ...]


@dataclass(frozen=True)
class Looker:
    """Everything the second look needs besides the pairs."""

    entries: Sequence[FileEntry]
    cache: FeatureCache
    verifier: PairVerifier | None
    embed_gate: EmbedPictures | None
    workers: int
    executor: ExecutorFactory
    progress: ProgressCallback
    cancel: CancelToken

    def __call__(
        self, to_verify: Mapping[tuple[int, int], int], gate_pairs: Sequence[tuple[int, int]]
    ) -> LookResult:
        """``to_verify`` maps pairs (a < b) to the orientation that turns b onto a."""
        verifications: dict[tuple[int, int], Verification] = {}
        ran = 0
        failures: tuple[VerificationFailure, ...] = ()
        if self.verifier is not None and to_verify:
            jobs = [VerifyJob(a, b, o) for (a, b), o in sorted(to_verify.items())]
            outcome = verify_pairs(
                jobs, self.entries, self.cache, self.verifier, self.workers, self.executor,
                self.progress, self.cancel,
            )  # fmt: skip
            ran, failures = outcome.ran, tuple(outcome.failures)
            verifications = {(a, b): v for (a, b, _), v in outcome.results.items()}
        cosines = gate_cosines(gate_pairs, self.embed_gate) if self.embed_gate is not None else {}
        return LookResult(SecondLook(verifications, cosines), ran, failures)
