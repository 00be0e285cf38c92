"""Candidate pairs from keypoint votes: the pictures that share many ORB descriptors.

A global descriptor (hashes, the embedding) changes a lot under a heavy crop, a screenshot or a
print-scan, while a good share of the picture's keypoints survive. Every picture's cached
keypoints are looked up in one index of all pictures' descriptors; each close match is a vote
for the picture it came from, and each picture's most-voted others become candidate pairs.
Both ways: a crop's keypoints find its original, and an original's find the part of a
screenshot or page that shows it.

The index holds a sample of each picture's descriptors (vote_index.INDEXED per picture; the
queries use more) in an inverted file over Hamming space (faiss IndexBinaryIVF), so memory and
time grow linearly with the library: 4 KB of descriptors and 1 KB of ids a picture. The index and
what every picture's queries found are kept in the feature cache (match/vote_index.py): a re-scan
of an unchanged library counts the votes from there, and new pictures cost their own queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.extract import FeatureSet
from ndid_desktop.engine.match.verify import PairVerifier
from ndid_desktop.engine.match.vote_index import MAX_DISTANCE, Neighbours, nearest
from ndid_desktop.engine.types import FileEntry

# Applied to the cached neighbours at every scan, so they are not part of the cache's key
# (MAX_DISTANCE is: vote_index.py).
VOTED = 5  # pictures each picture proposes
MIN_VOTES = 8  # below this many votes a picture proposes nothing


@dataclass(frozen=True)
class Votes:
    pairs: NDArray[np.int64]  # (n, 2), a < b, indices into the entries given
    votes: NDArray[np.int64]  # (n,) the larger of the two pictures' votes for each other


def voted_pairs(
    features: FeatureSet,
    representatives: NDArray[np.int64],
    cache: FeatureCache,
    verifier: PairVerifier | None,
    config: ScanConfig,
) -> Votes:
    """The keypoint votes among a scan's representatives; none without a verifier (no local
    features are extracted then) or when the configuration turns them off."""
    if verifier is None or not config.keypoint_votes:
        return Votes(np.zeros((0, 2), np.int64), np.zeros(0, np.int64))
    return vote_pairs(
        features.entries,
        features.fingerprints,
        representatives.tolist(),
        cache,
        verifier.features_key,
    )


def vote_pairs(
    entries: Sequence[FileEntry],
    fingerprints: Sequence[str],
    pictures: Sequence[int],
    cache: FeatureCache,
    features_key: str,
) -> Votes:
    """Candidate pairs among ``pictures`` (indices into ``entries``) from keypoint votes; the
    pictures without cached local features take no part."""
    found = nearest(entries, fingerprints, pictures, cache, features_key)
    best: dict[tuple[int, int], int] = {}
    for i in sorted(found):
        for j, count in _votes_of(i, found[i]):
            key = (min(i, j), max(i, j))
            best[key] = max(best.get(key, 0), count)
    keys = sorted(best)
    return Votes(
        np.array(keys, dtype=np.int64).reshape(-1, 2),
        np.array([best[k] for k in keys], dtype=np.int64),
    )


def _votes_of(picture: int, found: Neighbours) -> list[tuple[int, int]]:
    """One vote per query descriptor, for the picture of its nearest match that is not
    ``picture`` itself (when that match is close enough)."""
    owners, distances = found.owners, found.distances
    usable = (owners >= 0) & (distances <= MAX_DISTANCE) & (owners != picture)
    first = np.argmax(usable, axis=1)
    rows = np.nonzero(usable[np.arange(len(owners)), first])[0]
    voted = owners[rows, first[rows]]
    if not len(voted):
        return []
    pictures, counts = np.unique(voted, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:VOTED]
    return [(int(pictures[k]), int(counts[k])) for k in order if counts[k] >= MIN_VOTES]
