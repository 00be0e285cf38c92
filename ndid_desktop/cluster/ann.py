"""The embedding index: exact inner product for small collections, IVF above a size the
benchmark measured (benchmarks/bench_index_scale.py; float16 vectors, IVF-Flat at half the
memory), its ``nprobe`` chosen by measured recall.

On unit vectors inner product is cosine. IVF is trained on a sample of the collection; vectors
added later go to the trained lists (``add``), and the index is trained again once the
collection has grown to ``RETRAIN_GROWTH`` times what it was trained on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Up to this many vectors an exact scan answers a query within the latency target on 2 cores
# (docs/scale.md: 100k x 1280-d, p50 measured there); above it IVF.
EXACT_MAX = 100_000
TRAIN_PER_LIST = 40  # training vectors per inverted list (faiss warns under 39)
MAX_TRAIN = 200_000
RETRAIN_GROWTH = 4
RECALL_TARGET = 0.99  # of exact search, on the neighbours a scan would keep
RECALL_QUERIES = 300
NPROBES = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


FLAT, IVF = "flat", "ivf-fp16"


@dataclass(frozen=True)
class AnnSettings:
    kind: str  # FLAT or IVF
    nlist: int = 0
    nprobe: int = 0
    trained_rows: int = 0
    measured_recall: float | None = None  # of exact search, when nprobe was chosen

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @staticmethod
    def from_json(data: dict[str, Any]) -> AnnSettings:
        return AnnSettings(**data)


def lists_for(n: int) -> int:
    """IVF lists for n vectors: ~2 sqrt(n), a power of two (2,048 at 1M). faiss's usual
    4 sqrt(n) trains 4x longer at 1M x 1280-d, which this machine's build budget cannot
    spare; fewer lists make each probe scan more rows."""
    return int(2 ** round(math.log2(max(2.0 * math.sqrt(n), 16.0))))


def build(
    vectors: NDArray[np.float32],
    k: int,
    min_cosine: float,
    exact_max: int = EXACT_MAX,
    seed: int = 0,
) -> tuple[Any, AnnSettings]:
    """The index over ``vectors`` (unit rows) and how it was built."""
    import faiss

    x = np.ascontiguousarray(vectors, np.float32)
    n, dim = x.shape
    if n <= exact_max:
        flat = faiss.IndexFlatIP(dim)
        flat.add(x)
        return flat, AnnSettings("flat")
    rng = np.random.default_rng(seed)
    nlist = lists_for(n)
    index = ivf_index(dim, nlist)
    index.train(x[training_rows(n, nlist, rng)])
    for start in range(0, n, CHUNK):
        index.add(x[start : start + CHUNK])
    origins = rng.choice(n, min(n, RECALL_QUERIES), replace=False)
    queries = perturbed(x[origins], rng)
    sims, ids = exact_search(x, queries, k)
    nprobe, recall = choose_nprobe(index, queries, sims, ids, min_cosine, origins)
    return index, AnnSettings(IVF, nlist, nprobe, n, recall)


CHUNK = 65_536
# Quantiles (5, 25, 50, 75, 95%) of the distance |copy - original| between unit Lite0
# embeddings of 1,860 (original, edited copy) pairs of development photos (31 edits;
# benchmarks/bench_index_scale.py measure; docs/scale.md): nprobe is chosen on queries moved
# these distances from indexed rows, so the far copies (screenshots, prints) count too.
COPY_DISTANCES = (0.055, 0.18, 0.37, 0.59, 0.93)


def ivf_index(dim: int, nlist: int) -> Any:
    """IVF with the vectors stored as float16: half IVF-Flat's memory and about twice its
    speed, with the same recall as IVF-Flat on the benchmark's vectors (docs/scale.md); the
    cosines a query reports come from the stored float32 embeddings, not from here."""
    import faiss

    return faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_fp16,
        faiss.METRIC_INNER_PRODUCT,
    )  # fmt: skip


def training_rows(n: int, nlist: int, rng: np.random.Generator) -> NDArray[np.int64]:
    size = min(n, max(nlist * TRAIN_PER_LIST, 1), MAX_TRAIN)
    return np.sort(rng.choice(n, size, replace=False)).astype(np.int64)


def perturbed(rows: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """Unit rows moved in random directions by the measured copy distances, in turn: queries
    like re-uploaded copies."""
    noise = rng.normal(size=rows.shape).astype(np.float32)
    distance = np.resize(np.asarray(COPY_DISTANCES, np.float32), len(rows))[:, None]
    noise *= distance / np.linalg.norm(noise, axis=1, keepdims=True)
    moved = rows + noise
    return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


def exact_search(
    x: NDArray[np.float32], queries: NDArray[np.float32], k: int
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    import faiss

    exact = faiss.IndexFlatIP(x.shape[1])
    for start in range(0, len(x), CHUNK):
        exact.add(x[start : start + CHUNK])
    sims, ids = exact.search(queries, k)
    return sims, ids


def choose_nprobe(
    index: Any,
    queries: NDArray[np.float32],
    exact_sims: NDArray[np.float32],
    exact_ids: NDArray[np.int64],
    min_cosine: float,
    origins: NDArray[np.int64] | None = None,
) -> tuple[int, float]:
    """The smallest nprobe at which both the neighbours a scan keeps (top-k, cosine >=
    min_cosine) and each query's origin row (the picture it is a copy of, where exact search
    keeps it) reach RECALL_TARGET of exact search's; the lower of the two recalls."""
    k = exact_ids.shape[1]
    truth = [set(i[s >= min_cosine].tolist()) for s, i in zip(exact_sims, exact_ids, strict=True)]
    wanted = sum(len(t) for t in truth) or 1
    kept = (
        [q for q, o in enumerate(origins.tolist()) if o in truth[q]] if origins is not None else []
    )
    recall = 0.0
    for nprobe in NPROBES:
        index.nprobe = min(nprobe, index.nlist)
        _, got = index.search(queries, k)
        found = [set(g.tolist()) for g in got]
        recall = sum(len(t & f) for t, f in zip(truth, found, strict=True)) / wanted
        if origins is not None and kept:
            recall = min(recall, sum(int(origins[q]) in found[q] for q in kept) / len(kept))
        if recall >= RECALL_TARGET or nprobe >= index.nlist:
            break
    return int(index.nprobe), recall


def needs_rebuild(settings: AnnSettings, rows: int, exact_max: int = EXACT_MAX) -> bool:
    if settings.kind == "flat":
        return rows > exact_max
    return rows > RETRAIN_GROWTH * settings.trained_rows


def save(index: Any, path: Path) -> None:
    import faiss

    part = path.with_name(path.name + ".part")
    faiss.write_index(index, str(part))
    part.replace(path)


def load(path: Path, settings: AnnSettings) -> Any:
    import faiss

    index = faiss.read_index(str(path))
    if settings.kind != "flat":
        faiss.extract_index_ivf(index).nprobe = settings.nprobe
    return index
