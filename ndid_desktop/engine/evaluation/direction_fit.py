"""Fitting and measuring the direction model (groups/derivation.py) on copies whose origin is
known: every (original, copy) pair of a labelled dataset (the edit generator's, the lifelike
library's), measured exactly as a scan measures a pair in a group — the files' own evidence
from the decode workers, the overlap from the keypoint check on cached local features.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.evaluation.attacks import ManifestRow
from ndid_desktop.engine.executors import process_pool
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.extract import compute_features
from ndid_desktop.engine.features.model_sets import model_set
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.groups.derivation import (
    FEATURE_NAMES,
    Candidate,
    DirectionModel,
    Geometry,
    direction_features,
)
from ndid_desktop.engine.match.cheap import measure_pair, pair_key
from ndid_desktop.engine.match.decision import CalibrationError
from ndid_desktop.engine.match.decisions import with_second_look
from ndid_desktop.engine.match.second_look import Looker
from ndid_desktop.engine.match.verify import VERIFIERS, PairVerifier
from ndid_desktop.engine.progress import CancelToken, ProgressCallback, null_progress
from ndid_desktop.engine.types import FileEntry, PairSignals

# Regularisation of the fit: the features are few and on comparable scales (flags, clipped
# logs), so a mild L2 keeps a rare feature from taking an extreme weight.
C = 1.0


@dataclass(frozen=True)
class DirectionPair:
    source: Candidate  # the original
    copy: Candidate  # a file made from it
    geometry: Geometry | None  # seen from the source
    edit: str
    tier: str


def direction_pairs(
    folder: Path,
    rows: Sequence[ManifestRow],
    config: ScanConfig,
    cache: FeatureCache,
    progress: ProgressCallback = null_progress,
) -> list[DirectionPair]:
    """Every (original, copy) pair of the dataset in ``folder``."""
    found = discover([Root(folder)], config)
    models = model_set(config.model_set)
    verifier = VERIFIERS[models.verifier] if models.verifier is not None else None
    features = compute_features(
        found.files, config, cache, models.embedding, progress, verifier=verifier
    )
    index = {e.path: i for i, e in enumerate(features.entries)}
    candidates = [Candidate(i, e, features.infos[i]) for i, e in enumerate(features.entries)]
    originals = {r.group: index.get(str(folder / r.file)) for r in rows if r.role == "original"}
    known: list[tuple[int, int, ManifestRow]] = []
    for r in rows:
        source, copy = originals.get(r.group), index.get(str(folder / r.file))
        if r.role == "copy" and source is not None and copy is not None:
            known.append((source, copy, r))
    signals = {pair_key(s, c): measure_pair(features, *pair_key(s, c)) for s, c, _ in known}
    geometry = _geometry(features.entries, signals, cache, config, verifier, progress)
    return [
        DirectionPair(candidates[s], candidates[c], _seen_from(s, c, geometry), r.edit, r.tier)
        for s, c, r in known
    ]


def _geometry(
    entries: Sequence[FileEntry],
    signals: dict[tuple[int, int], PairSignals],
    cache: FeatureCache,
    config: ScanConfig,
    verifier: PairVerifier | None,
    progress: ProgressCallback,
) -> dict[tuple[int, int], Geometry | None]:
    if verifier is None:
        return {}
    look = Looker(entries, cache, verifier, None, config.workers, process_pool, progress,
                  CancelToken())  # fmt: skip
    looked = look({k: s.orientation for k, s in signals.items()}, [])
    return {k: Geometry.of(with_second_look(s, k, looked.look)) for k, s in signals.items()}


def _seen_from(
    source: int, copy: int, geometry: dict[tuple[int, int], Geometry | None]
) -> Geometry | None:
    g = geometry.get(pair_key(source, copy))
    if g is None:
        return None
    return g if source < copy else g.flipped()


def fit_direction(
    pairs: Sequence[DirectionPair], source: str, features: tuple[str, ...] = FEATURE_NAMES
) -> DirectionModel:
    """The logistic regression over ``features``, without intercept: each pair is seen both
    ways round (label 1 from the original, 0 from the copy), so the fit is symmetric."""
    from sklearn.linear_model import LogisticRegression

    if len(pairs) < 10:
        raise CalibrationError(f"only {len(pairs)} original-copy pairs: too few to fit")
    picked = [FEATURE_NAMES.index(n) for n in features]
    x = np.stack([direction_features(p.source, p.copy, p.geometry)[picked] for p in pairs])
    model = LogisticRegression(C=C, fit_intercept=False, max_iter=2000)
    model.fit(np.vstack([x, -x]), np.r_[np.ones(len(x)), np.zeros(len(x))])
    fitted = DirectionModel(features, tuple(float(c) for c in model.coef_[0]), source=source)
    accuracy = direction_accuracy(fitted, pairs)
    return DirectionModel(
        fitted.features,
        fitted.coef,
        metrics={"pairs": len(pairs), "train_accuracy": round(accuracy.overall, 4)},
        source=source,
    )


@dataclass(frozen=True)
class DirectionAccuracy:
    by_edit: dict[str, tuple[int, int]]  # edit -> (right, pairs)
    tier_of: dict[str, str]
    # edit -> pairs with no evidence either way (byte-identical files with one date): counted
    # as not right; the scan keeps the one the identical-files rule names (identical.py)
    ties: dict[str, int] = field(default_factory=dict)

    @property
    def overall(self) -> float:
        right = sum(r for r, _ in self.by_edit.values())
        total = sum(t for _, t in self.by_edit.values())
        return right / total if total else 1.0


def direction_accuracy(model: DirectionModel, pairs: Sequence[DirectionPair]) -> DirectionAccuracy:
    """How often the model says the original made the copy, by the edit that made it."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    tiers: dict[str, str] = {}
    for p in pairs:
        z = model.logit(p.source, p.copy, p.geometry)
        c = counts[p.edit]
        c[0] += z > 0
        c[1] += 1
        c[2] += z == 0
        tiers[p.edit] = p.tier
    ordered = sorted(counts.items())
    return DirectionAccuracy(
        {e: (r, t) for e, (r, t, _) in ordered}, tiers, {e: n for e, (_, _, n) in ordered if n}
    )
