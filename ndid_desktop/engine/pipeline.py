"""The scan, end to end, as a line of stages, each from typed input to typed output:

discover -> features -> identical files collapsed -> candidates -> cheap scores -> the set to
verify -> second look (keypoint check, gate encoder) -> decisions -> what grouping needs (the
same stages again, for those pairs) -> groups and keepers -> report.

Grouping and the keeper rule only read decisions; every probability comes from the staged
decision (match/decision.py), the same object `compare`, calibration and evaluation use.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.actions.scan_record import record_scan
from ndid_desktop.engine.actions.verdicts import Verdicts
from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.executors import ExecutorFactory, process_pool
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.encoders import Encoder
from ndid_desktop.engine.features.extract import FeatureSet, compute_features
from ndid_desktop.engine.features.model_sets import model_store, resolve
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.groups.assemble import report_groups
from ndid_desktop.engine.groups.completion import complete_for_grouping
from ndid_desktop.engine.groups.derivation import Candidate, DirectionModel, load_direction_model
from ndid_desktop.engine.groups.grouping import build_groups
from ndid_desktop.engine.groups.identical import Collapsed, collapse_identical, keep_apart
from ndid_desktop.engine.match.candidates import candidate_pairs
from ndid_desktop.engine.match.cheap import CheapScores, cheap_scores, pair_key
from ndid_desktop.engine.match.decision import StagedDecision
from ndid_desktop.engine.match.decisions import DecidedPair, Decisions, decide_pairs, scored_rows
from ndid_desktop.engine.match.gate import GateEmbedder
from ndid_desktop.engine.match.keypoint_votes import voted_pairs
from ndid_desktop.engine.match.second_look import Looker
from ndid_desktop.engine.match.selection import select_second_look
from ndid_desktop.engine.match.verify import VERIFIERS, VerificationFailure, failure_warning
from ndid_desktop.engine.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from ndid_desktop.engine.types import Group, ScanReport, ScanStats, Skipped


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:  # a stage that runs in rounds adds up
            elapsed = time.perf_counter() - start
            self.seconds[name] = round(self.seconds.get(name, 0.0) + elapsed, 3)


def scan(
    roots: Sequence[Root],
    config: ScanConfig,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    encoder: Encoder | None = None,
    gate_encoder: Encoder | None = None,
    executor: ExecutorFactory = process_pool,
) -> ScanReport:
    """Find the groups of files under ``roots`` that are the same picture.

    ``encoder`` and ``gate_encoder`` may be handed in (tests, a long-lived GUI session);
    otherwise they are built when first needed. ``executor`` runs the decode workers and the
    keypoint checks (a process per core unless told otherwise).
    """
    cancel = cancel or CancelToken()
    timer = _Timer()
    store = model_store(config)
    resolved = resolve(config, store)
    config = replace(config, model_set=resolved.models.name)
    models = resolved.models
    verifier = VERIFIERS[models.verifier] if models.verifier is not None else None
    decision = StagedDecision.of(
        resolved.calibration, config.threshold, config.gate_low, config.gate_high
    )
    direction = load_direction_model(config.direction_path, config.calibration_dir)
    with timer.stage("discover"):
        found = discover(roots, config, progress, cancel)
    cancel.raise_if_cancelled()
    # Opening the cache, looking every file up and starting the decode workers takes seconds
    # on a large library: say so, instead of leaving "discover" at 100% meanwhile.
    progress(ProgressEvent("features", 0, 0, "looking up the cache"))
    with FeatureCache(config.cache_path) as cache:
        with timer.stage("features"):
            features = compute_features(
                found.files, config, cache, models.embedding, progress, cancel, encoder, store,
                verifier=verifier, executor=executor,
            )  # fmt: skip
        cancel.raise_if_cancelled()
        gate = (
            GateEmbedder(models.gate, features, config, cache, store, cancel, gate_encoder)
            if models.gate is not None
            else None
        )
        looker = Looker(
            features.entries, cache, verifier, gate, config.workers, executor, progress, cancel
        )
        run = _MatchRun(
            features, config, decision, direction, looker, progress, cancel, timer,
            Verdicts(config.verdicts_path),
        )  # fmt: skip
        report = run.report(found.skipped)
        # Read after the whole scan: the cache can fail at any stage that touches it.
        cache_warnings = tuple(cache.warnings)
    stats = replace(
        report.stats,
        warnings=resolved.warnings + report.stats.warnings + cache_warnings,
        runtime=features.runtime,
        calibration=resolved.calibration.source,
        encoder=resolved.calibration.encoder,
        gate_images=gate.images if gate is not None else 0,
        roots=tuple(str(r.path) for r in roots),
    )
    return _recorded(replace(report, stats=stats), config)


def _recorded(report: ScanReport, config: ScanConfig) -> ScanReport:
    if config.scan_records_dir is None:
        return report
    try:
        return record_scan(report, config.scan_records_dir)
    except OSError as exc:  # a full or read-only data folder must not cost the scan's findings
        warning = (
            f"the scan record could not be written ({exc.strerror or exc}); nothing from this "
            "scan can be moved to the trash until a scan can record what it saw"
        )
        return replace(
            report, stats=replace(report.stats, warnings=(*report.stats.warnings, warning))
        )


@dataclass
class _Counts:
    candidates: int = 0
    in_band: int = 0
    over_bound: int = 0
    verified: int = 0
    identical: int = 0
    voted: int = 0
    failures: list[VerificationFailure] = field(default_factory=list)


@dataclass
class _MatchRun:
    """The stages after features, for one scan: each method is one stage or one round."""

    features: FeatureSet
    config: ScanConfig
    decision: StagedDecision
    direction: DirectionModel
    look: Looker
    progress: ProgressCallback
    cancel: CancelToken
    timer: _Timer
    verdicts: Verdicts
    counts: _Counts = field(default_factory=_Counts)
    voted: frozenset[tuple[int, int]] = frozenset()  # the candidate pairs keypoint votes found

    def report(self, discovery_skipped: Sequence[Skipped]) -> ScanReport:
        features = self.features
        candidates = [Candidate(i, e, features.infos[i]) for i, e in enumerate(features.entries)]
        with self.timer.stage("candidates"):
            self.progress(ProgressEvent("candidates", 0, 0, "searching for similar pictures"))
            collapsed = self._collapsed(candidates)
            pairs = self._candidate_pairs(collapsed)
        decisions = self._decide(self._cheap(pairs), {}, ())
        decisions = self._complete(decisions, {(a, b) for a, b in pairs.tolist()})
        with self.timer.stage("group"):
            self.progress(ProgressEvent("group", 0, 0, "grouping and choosing originals"))
            raw = build_groups(
                candidates,
                decisions.accepted(),
                decisions.probability,
                decisions.threshold,
                decisions.geometry,
                self.direction,
            )
            groups = report_groups(raw, features, decisions, collapsed)
        skipped = tuple(discovery_skipped) + features.skipped
        return ScanReport(groups, skipped, self._stats(groups, decisions, len(skipped)))

    def _collapsed(self, candidates: list[Candidate]) -> Collapsed:
        features = self.features
        collapsed = collapse_identical(candidates, features.fingerprints, features.pixel_digests)
        collapsed = keep_apart(collapsed, self._apart)
        self.counts.identical = len(collapsed.copies)
        return collapsed

    def _apart(self, a: int, b: int) -> bool:
        entries = self.features.entries
        return (entries[a].path, entries[b].path) in self.verdicts

    def _candidate_pairs(self, collapsed: Collapsed) -> NDArray[np.int64]:
        reps = collapsed.representatives
        votes = voted_pairs(self.features, reps, self.look.cache, self.look.verifier, self.config)
        self.voted = frozenset((a, b) for a, b in votes.pairs.tolist())
        pairs = candidate_pairs(self.features, reps, self.config, votes.pairs)
        self.counts.candidates = len(pairs)
        self.counts.voted = len(votes.pairs)
        return pairs

    def _cheap(self, pairs: NDArray[np.int64]) -> CheapScores:
        with self.timer.stage("decide"):
            return cheap_scores(self.features, pairs, self.decision, self.progress, self.cancel)

    def _decide(
        self,
        scores: CheapScores,
        geometry: dict[tuple[int, int], int],
        earlier: Sequence[DecidedPair],
    ) -> Decisions:
        """One round: the set to verify, the second look, the decisions. ``geometry`` maps
        accepted pairs that need only their overlap measured to their orientation; the
        ``earlier`` decided pairs among them are decided again with it."""
        selection = select_second_look(
            scores, self.decision, self.config.max_checks_per_image, self.voted
        )
        self.counts.in_band += selection.in_band
        self.counts.over_bound += selection.over_bound
        band = {_key(scores.pairs[r]): scores.signals[r].orientation for r in selection.rows}
        with self.timer.stage("verify"):
            looked = self.look({**geometry, **band}, sorted(band))
        self.counts.verified += looked.ran
        known = {(f.path_a, f.path_b) for f in self.counts.failures}
        self.counts.failures += [f for f in looked.failures if (f.path_a, f.path_b) not in known]
        rows = [*scored_rows(scores), *((p.a, p.b, p.signals) for p in earlier)]
        with self.timer.stage("decide"):
            return decide_pairs(
                rows, looked.look, self.decision, self._apart, self.progress, self.cancel
            )

    def _complete(self, decisions: Decisions, scored: set[tuple[int, int]]) -> Decisions:
        """The pairs grouping and the keeper rule will read, decided before they run."""
        with self.timer.stage("complete"):
            completion = complete_for_grouping(len(self.features.entries), decisions, scored)
        scores = self._cheap(np.array(completion.new_pairs, dtype=np.int64).reshape(-1, 2))
        earlier = [decisions.pairs[k] for k in completion.needs_geometry]
        geometry = {(p.a, p.b): p.signals.orientation for p in earlier}
        for row, p in enumerate(scores.cheap.tolist()):
            if not self.decision.in_band(p) and p >= self.decision.threshold:
                geometry[_key(scores.pairs[row])] = scores.signals[row].orientation
        return decisions.merged(self._decide(scores, geometry, earlier))

    def _stats(self, groups: Sequence[Group], decisions: Decisions, skipped: int) -> ScanStats:
        features, counts = self.features, self.counts
        return ScanStats(
            files_found=len(features.entries) + len(features.skipped),
            images_used=len(features.entries),
            skipped=skipped,
            decoded=features.decoded,
            from_cache=features.from_cache,
            candidate_pairs=counts.candidates,
            gated_pairs=sum(1 for p in decisions.pairs.values() if p.decision.gated),
            verified_pairs=counts.verified,
            warnings=failure_warning(counts.failures),
            duplicate_pairs=len(decisions.accepted()),
            groups=len(groups),
            model_set=self.config.model_set,
            encoder=None,
            threshold=self.decision.threshold,
            gate_band=self.decision.band,
            seconds=self.timer.seconds,
            identical_files=counts.identical,
            checks_over_bound=counts.over_bound,
        )


def _key(pair: NDArray[np.int64]) -> tuple[int, int]:
    return pair_key(*pair.tolist())
