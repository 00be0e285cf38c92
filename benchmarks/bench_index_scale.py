"""The index at a scale this machine cannot hold as images: synthetic embeddings drawn the way
real pictures and real copies spread, an IVF-Flat index over them, query latency and recall.

    nice -n 10 python benchmarks/bench_index_scale.py measure --photos 60 --out bench-data/perturb
    nice -n 10 python benchmarks/bench_index_scale.py scale --model bench-data/perturb \\
        --count 100000 --queries 1000
    nice -n 10 python benchmarks/bench_index_scale.py scale --model bench-data/perturb \\
        --count 1000000 --queries 1000

measure: EfficientNet-Lite0 embeddings (the standard set, through the index's own extraction)
of development photos and of every edit the evaluation makes of them (31 edits, attacks.py).
It writes the model the synthetic vectors are drawn from: the photos' mean and principal
components (their spectrum), and for every real (original, copy) pair the distance between the
two unit embeddings and the share of it that lies in the photos' principal subspace.

scale: COUNT vectors, of which PLANTED (1%) are copies of other rows, drawn as real copies move:
a real pair is sampled, and the copy moves that pair's distance from its original, that share of
it along the photos' principal directions (weighted by their spectrum) and the rest in the other
directions. Pictures: the photos' mean plus their principal components with the measured spectrum
plus an isotropic remainder at the level of the smallest measured component. Vectors are
generated chunk by chunk from seeds, so the exact search can regenerate them instead of keeping a
second copy. It reports the build (train + add), the index's memory, the latency of QUERIES
single queries (the planted copies; p50/p99) at the nprobe chosen by measured recall, and
against exact search over all COUNT rows: the recall of the planted originals and of the
neighbour sets a scan keeps (top-k with cosine >= 0.6).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.cluster import ann

K = 10
MIN_COSINE = 0.60  # ScanConfig.knn_min_cosine: the neighbours a scan keeps
CHUNK = 65_536


def measure(photos: int, out: Path, max_side: int) -> None:
    from ndid_desktop.cluster.extraction import extract_here
    from ndid_desktop.cluster.models import index_models
    from ndid_desktop.cluster.sources import list_files
    from ndid_desktop.engine.evaluation.attacks import EDITS, make_dataset
    from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

    dev = sorted((Path(__file__).resolve().parents[2] / "shared" / "dev-photos").glob("*.jpg"))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ndid-measure-") as work:
        config = scan_config(DataFolder.at(Path(work) / "data"), ScanOptions(use_cache=False))
        models = index_models(config)
        t0 = time.perf_counter()
        rows = make_dataset(dev[:photos], Path(work) / "set", edits=EDITS, seed=11,
                            max_side=max_side)  # fmt: skip
        entries, _ = list_files([str(Path(work) / "set")], models.config)
        features = extract_here(entries, models)
        # Every development photo, for the spread of distinct pictures.
        all_entries, _ = list_files([str(dev[0].parent)], models.config)
        pictures = extract_here(all_entries, models)
        print(f"extracted {len(features)} + {len(pictures)} in {time.perf_counter() - t0:.0f} s")
    assert features.embeddings is not None and pictures.embeddings is not None
    e = pictures.embeddings.astype(np.float64)
    mean = e.mean(axis=0)
    _, s, vt = np.linalg.svd(e - mean, full_matrices=False)
    spectrum = s**2 / (len(e) - 1)
    keep = spectrum > spectrum[0] * 1e-6
    components, spectrum = vt[keep], spectrum[keep]
    by_path = {en.path: i for i, en in enumerate(features.entries)}
    root = Path(entries[0].root)
    pairs: list[dict[str, Any]] = []
    for r in rows:
        if r.role != "copy":
            continue
        o = by_path.get(str(root / r.group / "original.jpg"))
        c = by_path.get(str(root / r.file))
        if o is None or c is None:
            continue
        d = features.embeddings[c].astype(np.float64) - features.embeddings[o]
        dist = float(np.linalg.norm(d))
        inside = float(np.sum((components @ d) ** 2) / max(dist**2, 1e-12))
        cosine = float(features.embeddings[c] @ features.embeddings[o])
        pairs.append({"edit": r.edit, "tier": r.tier, "distance": dist, "inside": inside,
                      "cosine": cosine})  # fmt: skip
    distinct = e @ e.T
    np.fill_diagonal(distinct, -1)
    np.savez(out / "model.npz", mean=mean, components=components, spectrum=spectrum)
    summary = {
        "photos_for_spread": len(e),
        "photos_edited": photos,
        "pairs": len(pairs),
        "components": len(spectrum),
        "distance_quantiles": _quantiles([p["distance"] for p in pairs]),
        "cosine_quantiles": _quantiles([p["cosine"] for p in pairs]),
        "inside_share_median": float(np.median([p["inside"] for p in pairs])),
        "nearest_distinct_cosine_quantiles": _quantiles(distinct.max(axis=1).tolist()),
        "by_edit": {
            edit: round(float(np.median([p["distance"] for p in pairs if p["edit"] == edit])), 4)
            for edit in sorted({p["edit"] for p in pairs})
        },
    }
    (out / "pairs.json").write_text(json.dumps({"summary": summary, "pairs": pairs}, indent=1))
    print(json.dumps(summary, indent=2))


def _quantiles(values: list[float]) -> dict[str, float]:
    q = np.quantile(np.asarray(values), [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        f"p{int(p * 100)}": round(float(v), 4)
        for p, v in zip([0.05, 0.25, 0.5, 0.75, 0.95], q, strict=True)
    }


class Generator:
    """Pictures and copies as the measured model draws them (see the module's docstring)."""

    def __init__(self, model: Path, seed: int) -> None:
        data = np.load(model / "model.npz")
        self.mean = data["mean"].astype(np.float32)
        self.components = data["components"].astype(np.float32)
        self.scale = np.sqrt(data["spectrum"]).astype(np.float32)
        self.rest = float(np.sqrt(data["spectrum"][-1]))  # per remaining direction
        pairs = json.loads((model / "pairs.json").read_text())["pairs"]
        self.distances = np.array([p["distance"] for p in pairs], np.float32)
        self.inside = np.array([p["inside"] for p in pairs], np.float32)
        self.seed = seed
        self.dim = self.mean.shape[0]

    def _orthogonal(self, g: NDArray[np.float32]) -> NDArray[np.float32]:
        return g - (g @ self.components.T) @ self.components

    def pictures(self, chunk: int, n: int) -> NDArray[np.float32]:
        rng = np.random.default_rng((self.seed, chunk))
        z = rng.standard_normal((n, len(self.scale)), dtype=np.float32)
        x = self.mean + (z * self.scale) @ self.components
        # The unmeasured remainder: isotropic, at the smallest measured component's level.
        x += rng.standard_normal((n, self.dim), dtype=np.float32) * self.rest
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def copies(self, originals: NDArray[np.float32], salt: int) -> NDArray[np.float32]:
        rng = np.random.default_rng((self.seed, 1 << 20, salt))
        n = len(originals)
        pick = rng.integers(0, len(self.distances), n)
        dist, inside = self.distances[pick, None], self.inside[pick, None]
        along = rng.standard_normal((n, len(self.scale)), dtype=np.float32) * self.scale
        along = along @ self.components
        across = self._orthogonal(rng.standard_normal((n, self.dim), dtype=np.float32))
        step = _unit(along) * np.sqrt(inside) + _unit(across) * np.sqrt(1 - inside)
        moved = originals + _unit(step) * dist
        return _unit(moved)


def _unit(x: NDArray[np.float32]) -> NDArray[np.float32]:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _chunks(count: int, planted: int) -> list[tuple[int, int]]:
    """(chunk id, rows) for the pictures; the planted copies come after them."""
    pictures = count - planted
    return [(j, min(CHUNK, pictures - j * CHUNK)) for j in range(math.ceil(pictures / CHUNK))]


def _planted(gen: Generator, planted: int) -> NDArray[np.float32]:
    """Copies of rows 0..planted-1 (all in chunk 0 and on: regenerated as the index has them)."""
    originals = np.concatenate([gen.pictures(j, n) for j, n in _chunks(planted, 0)])[:planted]
    return gen.copies(originals, 0)


def _rows_of(block: NDArray[np.float32], rows: NDArray[np.int64], start: int) -> Any:
    inside = rows[(rows >= start) & (rows < start + len(block))]
    return block[inside - start]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale(model: Path, count: int, queries: int, seed: int, out: Path | None) -> dict[str, Any]:
    import faiss

    gen = Generator(model, seed)
    planted = count // 100
    nlist = ann.lists_for(count)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    # The training sample: rows drawn from the pictures, generated on their own.
    sample_rows = ann.training_rows(count - planted, nlist, rng)
    sample = np.concatenate([_rows_of(gen.pictures(j, n), sample_rows, j * CHUNK)
                             for j, n in _chunks(count, planted)])  # fmt: skip
    generate_s = time.perf_counter() - t0
    index = ann.ivf_index(gen.dim, nlist)
    t1 = time.perf_counter()
    index.train(sample)
    train_s = time.perf_counter() - t1
    del sample
    add_s = 0.0
    for j, n in _chunks(count, planted):
        block = gen.pictures(j, n)
        t = time.perf_counter()
        index.add(block)
        add_s += time.perf_counter() - t
    copies = _planted(gen, planted)
    t = time.perf_counter()
    index.add(copies)
    add_s += time.perf_counter() - t
    build_s = train_s + add_s
    print(f"built {count:,} rows: train {train_s:.0f} s, add {add_s:.0f} s "
          f"(generation not counted), RSS {_rss_mib():.0f} MiB", flush=True)  # fmt: skip

    # Queries: planted copies (rows count-planted+i), whose originals are rows i.
    chosen = np.sort(rng.choice(planted, min(queries, planted), replace=False))
    q = copies[chosen]
    q_ids = (count - planted) + chosen
    t = time.perf_counter()
    exact_sims, exact_ids = _exact(gen, count, planted, copies, q)
    exact_s = time.perf_counter() - t
    # nprobe as the index chooses it (ann.build), on half of the planted copies; the figures
    # below are measured on all of them.
    half = np.arange(0, len(q), 2)
    nprobe, chosen_recall = ann.choose_nprobe(
        index, q[half], exact_sims[half], exact_ids[half], MIN_COSINE, chosen[half]
    )
    curve = _curve(index, q, exact_sims, exact_ids, chosen, nprobe)
    index.nprobe = nprobe
    recall = _neighbour_recall(index, q, exact_sims, exact_ids)
    latencies = []
    for row in q:
        t = time.perf_counter()
        index.search(row[None, :], K)
        latencies.append((time.perf_counter() - t) * 1000)
    _, got = index.search(q, K)
    found_exact = _found(exact_ids, exact_sims, chosen)
    found_ivf = sum(int(o in set(g.tolist())) for o, g in zip(chosen, got, strict=True)
                    if o in found_exact)  # fmt: skip
    result = {
        "count": count,
        "planted_pairs": planted,
        "dim": gen.dim,
        "nlist": nlist,
        "train_rows": len(sample_rows),
        "nprobe": nprobe,
        "recall_when_chosen": round(chosen_recall, 4),
        "nprobe_curve": curve,
        "neighbour_recall_vs_exact": round(recall, 4),
        "planted_found_exact": len(found_exact),
        "planted_found_ivf": found_ivf,
        "planted_recall_vs_exact": round(found_ivf / max(len(found_exact), 1), 4),
        "queries": len(q),
        "query_ms_p50": round(float(np.percentile(latencies, 50)), 3),
        "query_ms_p99": round(float(np.percentile(latencies, 99)), 3),
        "build_s": round(build_s, 1),
        "train_s": round(train_s, 1),
        "add_s": round(add_s, 1),
        "generate_sample_s": round(generate_s, 1),
        "exact_search_s": round(exact_s, 1),
        "kind": ann.IVF,
        # float16 vectors + ids in the lists, float32 centroids
        "index_mib": round((index.ntotal * (gen.dim * 2 + 8) + nlist * gen.dim * 4) / 2**20, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
        "self_in_results": float(
            np.mean([qi in set(g.tolist()) for qi, g in zip(q_ids, got, strict=True)])
        ),
        "faiss_threads": faiss.omp_get_max_threads(),
    }
    if count <= 200_000:
        result["flat_query_ms_p50"] = _flat_latency(gen, count, q)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


def _curve(
    index: Any,
    q: NDArray[np.float32],
    sims: NDArray[np.float32],
    ids: NDArray[np.int64],
    origins: NDArray[np.int64],
    chosen: int,
) -> list[dict[str, float]]:
    """Recall (neighbours, planted originals) and p50 latency at nprobe around the chosen one."""
    rows = []
    found_exact = _found(ids, sims, origins)
    for nprobe in sorted({max(1, chosen // 4), max(1, chosen // 2), chosen, chosen * 2}):
        index.nprobe = min(nprobe, index.nlist)
        _, got = index.search(q, K)
        planted = sum(int(o in set(g.tolist())) for o, g in zip(origins, got, strict=True)
                      if o in found_exact)  # fmt: skip
        times = []
        for row in q[:200]:
            t = time.perf_counter()
            index.search(row[None, :], K)
            times.append((time.perf_counter() - t) * 1000)
        rows.append({
            "nprobe": int(index.nprobe),
            "neighbour_recall": round(_neighbour_recall(index, q, sims, ids), 4),
            "planted_recall": round(planted / max(len(found_exact), 1), 4),
            "ms_p50": round(float(np.percentile(times, 50)), 2),
        })  # fmt: skip
    return rows


def _neighbour_recall(
    index: Any, q: NDArray[np.float32], sims: NDArray[np.float32], ids: NDArray[np.int64]
) -> float:
    _, got = index.search(q, K)
    truth = [set(i[s >= MIN_COSINE].tolist()) for s, i in zip(sims, ids, strict=True)]
    found = sum(len(t & set(g.tolist())) for t, g in zip(truth, got, strict=True))
    return found / max(sum(len(t) for t in truth), 1)


def _flat_latency(gen: Generator, count: int, q: NDArray[np.float32]) -> float:
    """p50 ms of one exact query over ``count`` pictures (what 'flat' costs at that size)."""
    import faiss

    flat = faiss.IndexFlatIP(gen.dim)
    for j, n in _chunks(count, 0):
        flat.add(gen.pictures(j, n))
    times = []
    for row in q[:200]:
        t = time.perf_counter()
        flat.search(row[None, :], K)
        times.append((time.perf_counter() - t) * 1000)
    return round(float(np.percentile(times, 50)), 3)


def _found(
    ids: NDArray[np.int64], sims: NDArray[np.float32], originals: NDArray[np.int64]
) -> set[int]:
    """The planted originals that search found among the neighbours a scan keeps."""
    return {
        int(o)
        for o, i, s in zip(originals, ids, sims, strict=True)
        if o in set(i[s >= MIN_COSINE].tolist())
    }


def _exact(
    gen: Generator, count: int, planted: int, copies: NDArray[np.float32], q: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Exact top-K over all rows, regenerated chunk by chunk (ids as the index numbers them)."""
    import faiss

    best_s = np.full((len(q), K), -np.inf, np.float32)
    best_i = np.full((len(q), K), -1, np.int64)
    blocks = [(j * CHUNK, lambda j=j, n=n: gen.pictures(j, n)) for j, n in _chunks(count, planted)]
    blocks.append((count - planted, lambda: copies))
    for start, make in blocks:
        flat = faiss.IndexFlatIP(gen.dim)
        flat.add(make())
        s, i = flat.search(q, K)
        all_s = np.concatenate([best_s, s], axis=1)
        all_i = np.concatenate([best_i, i + start], axis=1)
        top = np.argsort(-all_s, axis=1)[:, :K]
        best_s = np.take_along_axis(all_s, top, axis=1)
        best_i = np.take_along_axis(all_i, top, axis=1)
    return best_s, best_i


def throughput(folder: Path, cpus: int) -> dict[str, Any]:
    """Files a second of an index build over ``folder``: here (the engine's process pool, no
    cache) and as a Ray Data job on a local Ray instance with ``cpus`` CPUs (one node)."""
    from ndid_desktop.cluster import jobs
    from ndid_desktop.cluster.ray_session import ray_session
    from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

    result: dict[str, Any] = {"folder": str(folder), "cpus": cpus}
    with tempfile.TemporaryDirectory(prefix="ndid-throughput-") as work:
        config = scan_config(
            DataFolder.at(Path(work) / "data"), ScanOptions(use_cache=False, workers=cpus)
        )
        t = time.perf_counter()
        store = jobs.build(Path(work) / "here", [str(folder)], config, jobs.Where())
        here_s = time.perf_counter() - t
        with ray_session(num_cpus=cpus):
            # The first job pays for starting the workers and their ONNX sessions; the second
            # is what a long-running cluster sees.
            t = time.perf_counter()
            ray_store = jobs.build(Path(work) / "ray", [str(folder)], config, jobs.Where(True))
            ray_s = time.perf_counter() - t
            t = time.perf_counter()
            again = jobs.build(Path(work) / "ray2", [str(folder)], config, jobs.Where(True))
            warm_s = time.perf_counter() - t
        n = len(store.rows)
        shards = sum(p.stat().st_size for p in (store.folder / "shards").glob("*"))
        result.update(
            files=n,
            mean_file_mb=round(sum(e.size for e in store.rows.entries) / max(n, 1) / 1e6, 2),
            here_s=round(here_s, 1),
            here_files_per_s=round(n / here_s, 2),
            ray_first_job_s=round(ray_s, 1),
            ray_warm_job_s=round(warm_s, 1),
            ray_files_per_s=round(n / warm_s, 2),
            ray_rows=[len(ray_store.rows), len(again.rows)],
            shard_bytes_per_file=round(shards / max(n, 1)),
            local_feature_bytes_per_file=round(sum(len(b) for b in store.rows.local) / max(n, 1)),
        )
    print(json.dumps(result, indent=2))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--photos", type=int, default=60)
    m.add_argument("--max-side", type=int, default=1024)
    m.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("throughput")
    t.add_argument("folder", type=Path)
    t.add_argument("--cpus", type=int, default=2)
    s = sub.add_parser("scale")
    s.add_argument("--model", type=Path, required=True, help="the folder 'measure' wrote")
    s.add_argument("--count", type=int, default=1_000_000)
    s.add_argument("--queries", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.command == "measure":
        measure(args.photos, args.out, args.max_side)
    elif args.command == "throughput":
        throughput(args.folder, args.cpus)
    else:
        scale(args.model, args.count, args.queries, args.seed, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
