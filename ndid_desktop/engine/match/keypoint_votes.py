"""Candidate pairs from keypoint votes: the pictures that share many ORB descriptors.

A global descriptor (hashes, the embedding) changes a lot under a heavy crop, a screenshot or a
print-scan, while a good share of the picture's keypoints survive. Every picture's cached
keypoints are looked up in one index of all pictures' descriptors; each close match is a vote
for the picture it came from, and each picture's most-voted others become candidate pairs.
Both ways: a crop's keypoints find its original, and an original's find the part of a
screenshot or page that shows it.

The index holds a sample of each picture's descriptors (INDEXED per picture; the queries use
all of them) in an inverted file over Hamming space (faiss IndexBinaryIVF), so memory and time
grow linearly with the library: 4 KB of descriptors and 1 KB of ids a picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.extract import FeatureSet
from ndid_desktop.engine.features.local import DESCRIPTOR_BYTES, LocalFeatures
from ndid_desktop.engine.match.verify import PairVerifier
from ndid_desktop.engine.types import FileEntry

INDEXED = 128  # descriptors per picture in the index (a stride through all its keypoints)
MAX_DISTANCE = 56  # Hamming bits (of 256) for a match to vote
NEIGHBOURS = 3  # nearest indexed descriptors read per query (the picture's own are skipped)
VOTED = 5  # pictures each picture proposes
MIN_VOTES = 8  # below this many votes a picture proposes nothing
QUERIED = 400  # descriptors per picture looked up (a stride through all its keypoints)
LIST_SIZE = 256  # indexed descriptors per inverted list, on average: the coarse search of
# each query costs one comparison per list, the list scan LIST_SIZE per probe
TRAINING = 40  # descriptors per list the inverted file's k-means trains on (a sample)
PROBES = 8  # inverted lists searched per query


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
    return vote_pairs(features.entries, representatives.tolist(), cache, verifier.features_key)


def vote_pairs(
    entries: Sequence[FileEntry], pictures: Sequence[int], cache: FeatureCache, features_key: str
) -> Votes:
    """Candidate pairs among ``pictures`` (indices into ``entries``) from keypoint votes; the
    pictures without cached local features take no part."""
    descriptors = _load(entries, pictures, cache, features_key)
    owners = [i for i in pictures if i in descriptors]
    if len(owners) < 2:
        return Votes(np.zeros((0, 2), np.int64), np.zeros(0, np.int64))
    index, owner_of = _index(owners, descriptors)
    best: dict[tuple[int, int], int] = {}
    for i in owners:
        for j, count in _votes_of(i, _sample(descriptors[i], QUERIED), index, owner_of):
            key = (min(i, j), max(i, j))
            best[key] = max(best.get(key, 0), count)
    keys = sorted(best)
    return Votes(
        np.array(keys, dtype=np.int64).reshape(-1, 2),
        np.array([best[k] for k in keys], dtype=np.int64),
    )


def _load(
    entries: Sequence[FileEntry], pictures: Sequence[int], cache: FeatureCache, key: str
) -> dict[int, NDArray[np.uint8]]:
    found = cache.lookup_local([entries[i] for i in pictures], key)
    out: dict[int, NDArray[np.uint8]] = {}
    for i in pictures:
        data = found.get(entries[i].path)
        if data is None:
            continue
        upright = LocalFeatures.from_bytes(data).upright.descriptors
        if len(upright):
            out[i] = upright
    return out


def _index(
    owners: Sequence[int], descriptors: dict[int, NDArray[np.uint8]]
) -> tuple[object, NDArray[np.int64]]:
    import faiss

    sampled = [_sample(descriptors[i]) for i in owners]
    data = np.ascontiguousarray(np.concatenate(sampled))
    owner_of = np.concatenate(
        [np.full(len(s), i, np.int64) for i, s in zip(owners, sampled, strict=True)]
    )
    lists = max(1, len(data) // LIST_SIZE)
    quantizer = faiss.IndexBinaryFlat(DESCRIPTOR_BYTES * 8)
    index = faiss.IndexBinaryIVF(quantizer, DESCRIPTOR_BYTES * 8, lists)
    rng = np.random.default_rng(0)  # the same sample every run: the same candidates
    sample = rng.choice(len(data), size=min(len(data), TRAINING * lists), replace=False)
    index.train(data[np.sort(sample)])
    index.add(data)
    index.nprobe = min(PROBES, lists)
    return index, owner_of


def _sample(descriptors: NDArray[np.uint8], count: int = INDEXED) -> NDArray[np.uint8]:
    step = max(1, len(descriptors) // count)
    return descriptors[::step][:count]


def _votes_of(
    picture: int, queries: NDArray[np.uint8], index: object, owner_of: NDArray[np.int64]
) -> list[tuple[int, int]]:
    """One vote per query descriptor, for the picture of its nearest match that is not
    ``picture`` itself (when that match is close enough)."""
    distances, ids = index.search(np.ascontiguousarray(queries), NEIGHBOURS)  # type: ignore[attr-defined]
    owners = np.where(ids >= 0, owner_of[np.maximum(ids, 0)], -1)
    usable = (ids >= 0) & (distances <= MAX_DISTANCE) & (owners != picture)
    first = np.argmax(usable, axis=1)
    rows = np.nonzero(usable[np.arange(len(ids)), first])[0]
    voted = owners[rows, first[rows]]
    if not len(voted):
        return []
    pictures, counts = np.unique(voted, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:VOTED]
    return [(int(pictures[k]), int(counts[k])) for k in order if counts[k] >= MIN_VOTES]
