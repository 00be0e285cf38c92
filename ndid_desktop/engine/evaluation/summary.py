"""The numbers `ndid eval score` and `ndid eval report` print: a scan of a labelled dataset
scored by groups, and its candidate pairs measured stage by stage (curves, calibration
quality, the ablation table)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.evaluation.attacks import ManifestRow, read_manifest
from ndid_desktop.engine.evaluation.direction_fit import (
    DirectionAccuracy,
    direction_accuracy,
    direction_pairs,
)
from ndid_desktop.engine.evaluation.fitting_look import second_look_for_fitting
from ndid_desktop.engine.evaluation.group_scores import Score, score_report
from ndid_desktop.engine.evaluation.labelled import LabelledPairs, labelled_pairs
from ndid_desktop.engine.evaluation.pair_metrics import (
    Curve,
    brier,
    curve,
    reliability,
    staged_probabilities,
)
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.model_sets import model_set
from ndid_desktop.engine.groups.derivation import load_direction_model
from ndid_desktop.engine.match.decision import Calibration, load_calibration
from ndid_desktop.engine.pipeline import scan
from ndid_desktop.engine.progress import ProgressCallback, null_progress
from ndid_desktop.engine.types import PairSignals, ScanStats

# The precision the ablation reads recall at: the one the bundled calibrations aim for.
REPORT_PRECISION = 0.995
# The ablation's stages, in the report's order.
PHASH = "pHash distance (negated)"
LITE0_COSINE = "Lite0 cosine"
HASHES_ONLY = "hashes only (fast calibration)"
CHEAP_STAGE = "hashes + Lite0 (cheap stage)"
STAGED = "full staged pipeline (gate + keypoints)"
NOT_MEASURED = ("ResNet-50 only", "CLIP only")
WHY_NOT_MEASURED = "their pretrained weights cannot be downloaded on this machine"


def dataset_cache(dataset: Path) -> Path:
    """The feature cache kept inside a dataset: `eval report` reads what `eval score` cached."""
    return dataset / ".ndid-cache.sqlite"


@dataclass(frozen=True)
class DatasetScore:
    score: Score
    stats: ScanStats
    skipped: int  # files the scan could not read
    seconds: float

    @property
    def gated_share(self) -> float:
        """The share of candidate pairs the scan sent to the second look."""
        return self.stats.gated_pairs / max(self.stats.candidate_pairs, 1)


def score_dataset(
    dataset: Path,
    config: ScanConfig,
    progress: ProgressCallback = null_progress,
    rows: Sequence[ManifestRow] | None = None,
) -> DatasetScore:
    """Scan a labelled dataset (through its own cache) and score the groups against ``rows``
    (default: its manifest.json; public_sets reads the public benchmarks' layouts)."""
    rows = read_manifest(dataset) if rows is None else rows
    config = replace(config, cache_path=dataset_cache(dataset))
    started = time.perf_counter()
    report = scan([Root(dataset)], config, progress)
    score = score_report(report, rows, str(dataset))
    return DatasetScore(score, report.stats, len(report.skipped), time.perf_counter() - started)


@dataclass(frozen=True)
class AblationRow:
    stage: str
    recall: float  # at REPORT_PRECISION
    threshold: float  # the score that gives it (inf: that precision is never reached)
    best_f1: float


@dataclass(frozen=True)
class PairReport:
    pairs: int
    positives: int
    gated_share: float  # of candidate pairs, inside the gate band
    brier_cheap: float
    brier_final: float
    reliability_final: tuple[tuple[float, float, int], ...]  # (predicted, observed, count)
    curves: tuple[Curve, ...]  # one per ablation stage, in its order
    ablation: tuple[AblationRow, ...]

    def curve(self, name: str) -> Curve:
        return next(c for c in self.curves if c.name == name)


def summarise_pairs(
    signals: Sequence[PairSignals],
    labels: NDArray[np.bool_],
    staged: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]],
    fast: Calibration,
) -> PairReport:
    """The pair-level numbers from labelled pairs, their (cheap, final, gated) staged decision
    (pair_metrics.staged_probabilities) and the fast set's calibration (hashes only)."""
    cheap, final, gated = staged
    scores = {
        PHASH: -np.array([s.phash for s in signals], float),
        LITE0_COSINE: np.array([s.cosine or 0.0 for s in signals]),
        HASHES_ONLY: np.array([fast.cheap.probability(s) for s in signals]),
        CHEAP_STAGE: cheap,
        STAGED: final,
    }
    curves = tuple(curve(name, s, labels) for name, s in scores.items())
    return PairReport(
        pairs=len(labels),
        positives=int(labels.sum()),
        gated_share=float(gated.mean()),
        brier_cheap=brier(cheap, labels),
        brier_final=brier(final, labels),
        reliability_final=tuple(reliability(final, labels)),
        curves=curves,
        ablation=tuple(_ablation_row(c) for c in curves),
    )


def _ablation_row(c: Curve) -> AblationRow:
    recall, threshold = c.recall_at_precision(REPORT_PRECISION)
    return AblationRow(c.name, recall, threshold, float(c.f1.max()))


@dataclass(frozen=True)
class EvaluationReport:
    dataset: str  # the dataset folder's name
    groups: Score
    pairs: PairReport
    direction: DirectionAccuracy  # the keeper's direction model on every (original, copy) pair
    # edit -> (original-copy pairs, proposed by the hashes/embedding, by keypoint votes, either)
    sources: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)


def candidate_sources(
    data: LabelledPairs, rows: Sequence[ManifestRow], folder: Path
) -> dict[str, tuple[int, int, int, int]]:
    """Which candidate source proposed each (original, copy) pair, by edit."""
    index = {e.path: i for i, e in enumerate(data.features.entries)}
    where = {(min(a, b), max(a, b)): k for k, (a, b) in enumerate(data.pairs.tolist())}
    originals = {r.group: index.get(str(folder / r.file)) for r in rows if r.role == "original"}
    counts: dict[str, list[int]] = {}
    for r in rows:
        a, b = originals.get(r.group), index.get(str(folder / r.file))
        if r.role != "copy" or a is None or b is None:
            continue
        k = where.get((min(a, b), max(a, b)))
        by_global = k is not None and data.global_found is not None and bool(data.global_found[k])
        by_votes = k is not None and data.voted is not None and bool(data.voted[k])
        c = counts.setdefault(r.edit, [0, 0, 0, 0])
        c[0] += 1
        c[1] += by_global
        c[2] += by_votes
        c[3] += by_global or by_votes
    return {e: (c[0], c[1], c[2], c[3]) for e, c in sorted(counts.items())}


def evaluate_dataset(
    dataset: Path,
    models_dir: Path | None = None,
    calibration_path: Path | None = None,
    rows: Sequence[ManifestRow] | None = None,
) -> EvaluationReport:
    """Scan a labelled dataset with the standard set and score the groups against ``rows``
    (default: its manifest.json), then measure its candidate pairs stage by stage. Features
    and keypoint checks come from the dataset's cache, so after `ndid eval score` this takes
    seconds."""
    rows = read_manifest(dataset) if rows is None else rows
    cache_file = dataset_cache(dataset)
    config = ScanConfig(
        cache_path=cache_file, models_dir=models_dir, calibration_path=calibration_path
    )
    groups = score_report(scan([Root(dataset)], config), rows, str(dataset))
    calibration = load_calibration("standard", model_set("standard").signature, calibration_path)
    fast = load_calibration("fast", None)
    with FeatureCache(cache_file) as cache:
        data = labelled_pairs(dataset, rows, config, cache)
        second_look = second_look_for_fitting(data, config, cache)
        staged = staged_probabilities(data.signals, calibration, second_look)
        direction = direction_accuracy(
            load_direction_model(config.direction_path),
            direction_pairs(dataset, rows, config, cache),
        )
    return EvaluationReport(
        dataset.name,
        groups,
        summarise_pairs(data.signals, data.labels, staged, fast),
        direction,
        candidate_sources(data, rows, dataset),
    )
