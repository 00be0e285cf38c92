"""Features of a list of files, as FeatureRows, either here or as a Ray Data job.

Both run the scan's own worker function (``features.extract.extract_chunk``: decode, hashes,
embedding on ONNX Runtime, fingerprint, pixel digest, local features). Here it runs through the
engine's feature stage and executor seam (a process per core, the user's feature cache);
on Ray it runs in ``map_batches`` on CPU workers and the batches are written as Parquet shards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ndid_desktop.cluster.models import IndexModels
from ndid_desktop.cluster.rows import FeatureRows, concat, result_columns, rows_from_columns
from ndid_desktop.cluster.sources import is_uri, local_copies
from ndid_desktop.engine.executors import ExecutorFactory, process_pool
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.encoders import Encoder, EncoderSpec
from ndid_desktop.engine.features.extract import compute_features, extract_chunk
from ndid_desktop.engine.features.local import LocalFeatureExtractor
from ndid_desktop.engine.progress import ProgressCallback, null_progress
from ndid_desktop.engine.types import FileEntry


def extract_here(
    entries: Sequence[FileEntry],
    models: IndexModels,
    executor: ExecutorFactory = process_pool,
    progress: ProgressCallback = null_progress,
    encoder: Encoder | None = None,
) -> FeatureRows:
    """Features through the scan's feature stage (cached in config.cache_path when set);
    ``encoder``, when given, embeds here (a long-lived query service holds one)."""
    local_files = [e for e in entries if not is_uri(e.path)]
    parts = [_through_feature_stage(local_files, models, executor, progress, encoder)]
    remote = [e for e in entries if is_uri(e.path)]
    if remote:
        onnx = models.onnx_file()
        columns = extract_columns(
            [e.path for e in remote], [e.size for e in remote], [e.mtime_ns for e in remote],
            models.spec, onnx, models.config.max_decode_bytes, models.verifier,
        )  # fmt: skip
        parts.append(rows_from_columns(columns, models.dim))
    return concat(parts, models.dim)


def _through_feature_stage(
    entries: Sequence[FileEntry],
    models: IndexModels,
    executor: ExecutorFactory,
    progress: ProgressCallback,
    encoder: Encoder | None,
) -> FeatureRows:
    config = models.config
    with FeatureCache(config.cache_path) as cache:
        found = compute_features(
            entries, config, cache, models.spec, progress, None, encoder, models.store,
            verifier=models.verifier, executor=executor,
        )  # fmt: skip
        local = cache.lookup_local(found.entries, models.extractor_key) if models.verifier else {}
    return FeatureRows(
        found.entries,
        found.infos,
        found.hashes,
        found.embeddings,
        found.fingerprints,
        found.pixel_digests,
        tuple(local.get(e.path, b"") for e in found.entries),
        found.skipped,
    )


def extract_columns(
    paths: Sequence[str],
    sizes: Sequence[int],
    mtimes: Sequence[int],
    spec: EncoderSpec | None,
    onnx_file: Path | None,
    max_decode_bytes: int,
    verifier: LocalFeatureExtractor | None,
) -> dict[str, list[Any]]:
    """One batch, in a worker: the scan's extract_chunk over local copies of the files."""
    entries = [
        FileEntry(str(p), "", False, int(s), int(m))
        for p, s, m in zip(paths, sizes, mtimes, strict=True)
    ]
    with local_copies([e.path for e in entries]) as local:
        results = extract_chunk(local, spec, onnx_file, max_decode_bytes, verifier)
    return result_columns(entries, results, needs_vector=spec is not None)


def _ray_batch(batch: dict[str, Any], **kwargs: Any) -> Any:
    """The map_batches function: a batch of file rows in, a batch of shard rows out."""
    from ndid_desktop.cluster.shards import table

    columns = extract_columns(
        [str(p) for p in batch["path"]],
        [int(s) for s in batch["size"]],
        [int(m) for m in batch["mtime_ns"]],
        **kwargs,
    )
    return table(columns)


def extract_on_ray(entries: Sequence[FileEntry], models: IndexModels, out_dir: Path) -> list[Path]:
    """Run the extraction as a Ray Data job on the connected Ray cluster (ray.init first) and
    write its Parquet shards to ``out_dir`` (a local folder or, on a cluster, a shared URI)."""
    import ray.data

    if not entries:
        return []
    items = [{"path": e.path, "size": e.size, "mtime_ns": e.mtime_ns} for e in entries]
    batch = models.config.batch_size
    dataset = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / batch)))
    kwargs = {
        "spec": models.spec,
        "onnx_file": models.onnx_file(),
        "max_decode_bytes": models.config.max_decode_bytes,
        "verifier": models.verifier,
    }
    features = dataset.map_batches(
        _ray_batch, batch_size=batch, batch_format="numpy", num_cpus=1, fn_kwargs=kwargs
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    features.write_parquet(str(out_dir))
    return sorted(out_dir.glob("*.parquet"))
