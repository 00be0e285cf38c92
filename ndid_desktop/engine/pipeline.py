"""The scan, end to end: discover -> features -> candidates -> decide -> group -> keep."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.actions.scan_record import record_scan
from ndid_desktop.engine.actions.verdicts import Verdicts
from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.encoders import Encoder
from ndid_desktop.engine.features.extract import FeatureSet, compute_features
from ndid_desktop.engine.features.model_sets import ModelSet, model_set, model_store, resolve
from ndid_desktop.engine.features.model_store import ModelStore
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.groups.explain import pair_reason
from ndid_desktop.engine.groups.grouping import RawGroup, build_groups
from ndid_desktop.engine.groups.keeper import Candidate
from ndid_desktop.engine.match.candidates import find_candidates
from ndid_desktop.engine.match.decision import Calibration
from ndid_desktop.engine.match.scoring import GateVectors, PairScorer
from ndid_desktop.engine.match.signals import reversed_signals
from ndid_desktop.engine.match.verify import Verifier, failure_warning, verify_in_parallel
from ndid_desktop.engine.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from ndid_desktop.engine.types import Group, Member, ScanReport, ScanStats, Skipped


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)


def scan(
    roots: Sequence[Root],
    config: ScanConfig,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    encoder: Encoder | None = None,
    gate_encoder: Encoder | None = None,
) -> ScanReport:
    """Find the groups of files under ``roots`` that are the same picture.

    ``encoder`` and ``gate_encoder`` may be handed in (tests, a long-lived GUI session);
    otherwise they are built when first needed, in the fastest runtime that agrees with fp32.
    """
    cancel = cancel or CancelToken()
    timer = _Timer()
    store = model_store(config)
    resolved = resolve(config, store)
    config = replace(config, model_set=resolved.models.name)
    spec = resolved.models.embedding
    with timer.stage("discover"):
        progress(ProgressEvent("discover", 0, 0, "looking for photos"))
        found = discover(roots, config)
        progress(ProgressEvent("discover", len(found.files), len(found.files)))
    cancel.raise_if_cancelled()
    with FeatureCache(config.cache_path) as cache:
        with timer.stage("features"):
            features = compute_features(
                found.files, config, cache, spec, progress, cancel, encoder, store
            )
        cancel.raise_if_cancelled()
        gate = _gate_vectors(resolved.models, features, config, cache, store, cancel, gate_encoder)
        report = _match(
            features, found.skipped, resolved.calibration, cache, config, timer, progress, cancel,
            gate,
        )  # fmt: skip
        # Read after the whole scan: the cache can fail at any stage that touches it.
        cache_warnings = tuple(cache.warnings)
    report = replace(
        report,
        stats=replace(
            report.stats,
            warnings=resolved.warnings + report.stats.warnings + cache_warnings,
            runtime=features.runtime,
            calibration=resolved.calibration.source,
            gate_images=gate.images if gate is not None else 0,
            roots=tuple(str(r.path) for r in roots),
        ),
    )
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


def _gate_vectors(
    models: ModelSet,
    features: FeatureSet,
    config: ScanConfig,
    cache: FeatureCache,
    store: ModelStore,
    cancel: CancelToken,
    gate_encoder: Encoder | None,
) -> GateVectors | None:
    """Embeds images with the gate encoder (CLIP) on demand, through the same cache."""
    gate_spec = models.gate
    if gate_spec is None:
        return None
    # One encoder for the whole scan, built on first use.
    built: list[Encoder] = [gate_encoder] if gate_encoder is not None else []

    def compute(indices: Sequence[int]) -> dict[int, NDArray[np.float32]]:
        entries = [features.entries[i] for i in indices]
        encoder = built[0] if built else None
        got = compute_features(entries, config, cache, gate_spec, cancel=cancel,
                               encoder=encoder, store=store)  # fmt: skip
        if got.encoder is not None and not built:
            built.append(got.encoder)
        index = {e.path: i for e, i in zip(entries, indices, strict=True)}
        assert got.embeddings is not None  # a spec was given
        return {index[e.path]: v for e, v in zip(got.entries, got.embeddings, strict=True)}

    return GateVectors(compute)


def _match(
    features: FeatureSet,
    discovery_skipped: Sequence[Skipped],
    calibration: Calibration,
    cache: FeatureCache,
    config: ScanConfig,
    timer: _Timer,
    progress: ProgressCallback,
    cancel: CancelToken,
    gate_vectors: GateVectors | None,
) -> ScanReport:
    threshold = config.threshold if config.threshold is not None else calibration.threshold
    gate = (
        config.gate_low if config.gate_low is not None else calibration.gate[0],
        config.gate_high if config.gate_high is not None else calibration.gate[1],
    )
    reference = np.array([e.reference for e in features.entries], dtype=bool)
    with timer.stage("candidates"):
        progress(ProgressEvent("candidates", 0, 0, "searching for similar pictures"))
        pairs = find_candidates(features.hashes, features.embeddings, reference, config).pairs
    verifier = Verifier() if model_set(config.model_set).verifier else None
    verdicts = Verdicts(config.verdicts_path)
    scorer = PairScorer(features, calibration, cache, verifier, gate, gate_vectors, verdicts)
    with timer.stage("decide"):
        gated = [(a, b) for a, b in pairs.tolist() if scorer.is_gated(a, b)]
        if gate_vectors is not None:
            # Every image of an ambiguous pair, embedded by the gate encoder in one run.
            progress(ProgressEvent("decide", 0, len(pairs), "second look at ambiguous pairs"))
            gate_vectors.prefetch(i for pair in gated for i in pair)
        if verifier is not None:
            verify_in_parallel(gated, scorer, config, progress, cancel)
        accepted: list[tuple[int, int]] = []
        for done, (a, b) in enumerate(pairs.tolist(), start=1):
            if scorer.score(a, b).probability >= threshold:
                accepted.append((a, b))
            if done % 64 == 0 or done == len(pairs):
                cancel.raise_if_cancelled()
                progress(ProgressEvent("decide", done, len(pairs)))
    with timer.stage("group"):
        progress(ProgressEvent("group", 0, 0, "grouping and choosing originals"))
        candidates = [Candidate(i, e, features.infos[i]) for i, e in enumerate(features.entries)]
        raw = build_groups(
            candidates,
            accepted,
            lambda a, b: scorer.score(a, b).probability,
            threshold,
            scorer.geometry,
        )
        groups = tuple(_report_group(g, features, scorer) for g in raw)
    skipped = tuple(discovery_skipped) + features.skipped
    stats = ScanStats(
        files_found=len(features.entries) + len(features.skipped),
        images_used=len(features.entries),
        skipped=len(skipped),
        decoded=features.decoded,
        from_cache=features.from_cache,
        candidate_pairs=len(pairs),
        gated_pairs=scorer.counter.gated,
        verified_pairs=scorer.verification.ran,
        warnings=failure_warning(scorer.verification.failures),
        duplicate_pairs=len(accepted),
        groups=len(groups),
        model_set=config.model_set,
        encoder=calibration.encoder,
        threshold=threshold,
        gate_band=gate,
        seconds=timer.seconds,
    )
    return ScanReport(
        groups=tuple(sorted(groups, key=lambda g: g.keep)), skipped=skipped, stats=stats
    )


def _report_group(raw: RawGroup, features: FeatureSet, scorer: PairScorer) -> Group:
    k = raw.keeper
    keeper_entry, keeper_info = features.entries[k], features.infos[k]
    members = [
        Member(
            path=keeper_entry.path,
            probability=1.0,
            reason=raw.reason,
            reference=keeper_entry.reference,
            size=keeper_entry.size,
            info=keeper_info,
            mtime_ns=keeper_entry.mtime_ns,
            fingerprint=features.fingerprints[k],
        )
    ]
    for m in raw.members:
        pair = scorer.score(k, m)
        signals = pair.signals if pair.a == k else reversed_signals(pair.signals)
        entry, info = features.entries[m], features.infos[m]
        members.append(
            Member(
                path=entry.path,
                probability=round(pair.probability, 4),
                reason=pair_reason(signals, pair.probability, keeper_info, info, pair.gated),
                reference=entry.reference,
                size=entry.size,
                info=info,
                signals={**signals.as_dict(), "gated": pair.gated},
                mtime_ns=entry.mtime_ns,
                fingerprint=features.fingerprints[m],
            )
        )
    return Group(keep=keeper_entry.path, reason=raw.reason, members=tuple(members))
