"""Labelled candidate pairs: a dataset's candidates found exactly as a scan finds them, each
labelled same picture or not from the dataset's manifest (see attacks.py).

Fitting (calibrate.py) and the pair-level report (summary.py) both read these, so what is
fitted and what is measured are the same pairs a scan would decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.evaluation.attacks import ManifestRow
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.encoders import Encoder
from ndid_desktop.engine.features.extract import FeatureSet, compute_features
from ndid_desktop.engine.features.model_sets import model_set
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.groups.derivation import Candidate
from ndid_desktop.engine.groups.identical import collapse_identical
from ndid_desktop.engine.match.candidates import candidate_pairs
from ndid_desktop.engine.match.cheap import measure_pair
from ndid_desktop.engine.match.keypoint_votes import voted_pairs
from ndid_desktop.engine.match.verify import VERIFIERS
from ndid_desktop.engine.progress import ProgressCallback, null_progress
from ndid_desktop.engine.types import PairSignals


@dataclass(frozen=True)
class LabelledPairs:
    features: FeatureSet
    pairs: NDArray[np.int64]  # candidate (a, b) indices into features.entries
    labels: NDArray[np.bool_]  # pair i is the same picture
    signals: list[PairSignals]  # pair i's cheap signals (no second look yet)
    # Which candidate source proposed pair i: the hashes and the embedding, the keypoint votes
    global_found: NDArray[np.bool_] | None = None
    voted: NDArray[np.bool_] | None = None


def labelled_pairs(
    folder: Path,
    rows: Sequence[ManifestRow],
    config: ScanConfig,
    cache: FeatureCache,
    progress: ProgressCallback = null_progress,
    encoder: Encoder | None = None,
) -> LabelledPairs:
    """Candidate pairs of a labelled dataset, found exactly as a scan finds them."""
    groups = {str(folder / r.file): r.group for r in rows}
    found = discover([Root(folder)], config)
    models = model_set(config.model_set)
    verifier = VERIFIERS[models.verifier] if models.verifier is not None else None
    features = compute_features(
        found.files, config, cache, models.embedding, progress, encoder=encoder, verifier=verifier
    )
    # Identical files are never scored by a scan (they join their group as copies), so their
    # pairs are not fitted either.
    candidates = [Candidate(i, e, features.infos[i]) for i, e in enumerate(features.entries)]
    collapsed = collapse_identical(candidates, features.fingerprints, features.pixel_digests)
    votes = voted_pairs(features, collapsed.representatives, cache, verifier, config)
    pairs = candidate_pairs(features, collapsed.representatives, config, votes.pairs)
    proposed = {tuple(sorted(p)) for p in candidate_pairs(features, collapsed.representatives,
                                                          config).tolist()}  # fmt: skip
    voted = {(a, b) for a, b in votes.pairs.tolist()}
    keys = [(min(a, b), max(a, b)) for a, b in pairs.tolist()]
    # Files the manifest does not name are their own picture: never a true pair.
    group_of = [groups.get(e.path, f"unlabelled:{e.path}") for e in features.entries]
    labels = np.array([group_of[a] == group_of[b] for a, b in pairs.tolist()], dtype=bool)
    signals = [measure_pair(features, a, b) for a, b in pairs.tolist()]
    return LabelledPairs(
        features, pairs, labels, signals,
        np.array([k in proposed for k in keys], dtype=bool),
        np.array([k in voted for k in keys], dtype=bool),
    )  # fmt: skip
