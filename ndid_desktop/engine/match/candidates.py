"""Stage 4: candidate pairs, never all pairs.

Two cheap searches propose pairs, and only proposed pairs are scored:
- FAISS top-K nearest neighbours on the embeddings (exact inner product up to a library size we
  measured; HNSW above it), keeping neighbours above a loose cosine floor;
- a Hamming-radius search on the pHash in all eight orientations (FAISS binary index), which
  finds exact, near-exact, rotated and mirrored copies even when the embedding disagrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.extract import FeatureSet
from ndid_desktop.engine.features.hashes import ORIENTATIONS


@dataclass(frozen=True)
class Candidates:
    pairs: NDArray[np.int64]  # (M, 2) with a < b, unique
    from_embeddings: int
    from_hashes: int


def find_candidates(
    hashes: NDArray[np.uint8],
    embeddings: NDArray[np.float32] | None,
    reference: NDArray[np.bool_],
    config: ScanConfig,
) -> Candidates:
    n = len(hashes)
    if n < 2:
        return Candidates(np.zeros((0, 2), np.int64), 0, 0)
    hash_pairs = hash_neighbours(hashes, config.hash_radius)
    knn_pairs = (
        embedding_neighbours(
            embeddings, config.knn_k, config.knn_min_cosine, config.exact_index_max
        )
        if embeddings is not None
        else np.zeros((0, 2), np.int64)
    )
    pairs = np.unique(np.vstack([hash_pairs, knn_pairs]), axis=0)
    # Two reference files are never compared: neither may be trashed, so the pair helps nobody.
    pairs = pairs[~(reference[pairs[:, 0]] & reference[pairs[:, 1]])]
    return Candidates(pairs.astype(np.int64), len(knn_pairs), len(hash_pairs))


def _ordered(rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.int64]:
    keep = rows != cols
    a = np.minimum(rows[keep], cols[keep])
    b = np.maximum(rows[keep], cols[keep])
    if len(a) == 0:
        return np.zeros((0, 2), np.int64)
    return np.unique(np.stack([a, b], axis=1), axis=0).astype(np.int64)


def hash_neighbours(hashes: NDArray[np.uint8], radius: int) -> NDArray[np.int64]:
    """Pairs whose pHash differs by at most ``radius`` bits in some orientation."""
    import faiss

    index = faiss.IndexBinaryFlat(64)
    index.add(np.ascontiguousarray(hashes[:, 0, 0]))
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    for o in range(len(ORIENTATIONS)):
        # faiss keeps results strictly below the radius it is given.
        lims, _, ids = index.range_search(np.ascontiguousarray(hashes[:, 0, o]), radius + 1)
        counts = np.diff(lims).astype(np.int64)
        rows.append(np.repeat(np.arange(len(hashes), dtype=np.int64), counts))
        cols.append(ids.astype(np.int64))
    return _ordered(np.concatenate(rows), np.concatenate(cols))


def embedding_neighbours(
    embeddings: NDArray[np.float32], k: int, min_cosine: float, exact_max: int
) -> NDArray[np.int64]:
    """Each image's top-k neighbours by cosine, kept when the cosine reaches ``min_cosine``."""
    import faiss

    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    n, dim = x.shape
    index: faiss.Index
    if n <= exact_max:
        index = faiss.IndexFlatIP(dim)
    else:
        # On unit vectors L2 order equals inner-product order; HNSW's recall on real
        # embeddings is checked by the benchmark before this size is raised or lowered.
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = max(64, 4 * k)
        index = hnsw
    index.add(x)
    kk = min(k + 1, n)
    sims, ids = index.search(x, kk)
    rows = np.repeat(np.arange(n, dtype=np.int64), kk).reshape(n, kk)
    keep = (ids >= 0) & (sims >= min_cosine)
    return _ordered(rows[keep], ids[keep].astype(np.int64))


def candidate_pairs(
    features: FeatureSet,
    representatives: NDArray[np.int64],
    config: ScanConfig,
    voted: NDArray[np.int64] | None = None,
) -> NDArray[np.int64]:
    """The candidate pairs among ``representatives`` (the pictures left after identical files
    are collapsed), as indices into ``features``: what the scan and calibration both score.
    ``voted`` pairs (keypoint_votes.py, a < b) are added to those the hashes and the
    embedding propose."""
    reps = np.asarray(representatives, dtype=np.int64)
    reference = np.array([features.entries[i].reference for i in reps.tolist()], dtype=bool)
    embeddings = features.embeddings[reps] if features.embeddings is not None else None
    local = find_candidates(features.hashes[reps], embeddings, reference, config).pairs
    pairs = reps[local].reshape(-1, 2).astype(np.int64)
    if voted is None or not len(voted):
        return pairs
    both = np.unique(np.concatenate([np.sort(pairs, axis=1), voted.reshape(-1, 2)]), axis=0)
    return both.astype(np.int64)
