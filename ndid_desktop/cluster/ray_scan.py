"""A scan whose heavy stages run on Ray, with the same groups and keepers as a local scan.

1. The file list (discovered here, as a scan discovers it) goes to a Ray Data job: read,
   decode and features in ``map_batches`` on CPU workers, with the scan's worker function,
   written as Parquet shards (extraction.py).
2. The shards are loaded into the scan's feature cache, keyed as the scan keys it.
3. The engine's scan then runs on the driver: it finds every feature in the cache (decodes
   nothing), and its keypoint checks (the pair decisions' expensive part) run as Ray tasks
   through the executor seam (ray_executor.py). Candidates, decisions and grouping run on the
   driver, which holds the accepted and checked pairs only, never all pairs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ndid_desktop.cluster.extraction import extract_on_ray
from ndid_desktop.cluster.models import index_models
from ndid_desktop.cluster.ray_executor import ray_executor
from ndid_desktop.cluster.rows import FeatureRows
from ndid_desktop.cluster.shards import read_shards
from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.executors import ExecutorFactory
from ndid_desktop.engine.features.cache import CachedImage, FeatureCache
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.pipeline import scan
from ndid_desktop.engine.progress import ProgressCallback, null_progress
from ndid_desktop.engine.types import FileEntry, ScanReport


def scan_on_ray(
    roots: Sequence[Root],
    config: ScanConfig,
    progress: ProgressCallback = null_progress,
    executor: ExecutorFactory = ray_executor,
) -> ScanReport:
    """``scan(roots, config)`` with extraction and keypoint checks on the Ray cluster that
    ray.init joined; uses config.cache_path as its feature cache, or a temporary one."""
    models = index_models(config)
    found = discover(roots, config)
    with tempfile.TemporaryDirectory(prefix="ndid-ray-scan-") as work:
        cache_path = config.cache_path or Path(work) / "features.sqlite"
        config = replace(config, cache_path=cache_path)
        with FeatureCache(cache_path) as cache:
            todo = _not_cached(found.files, cache, models.encoder_key, models.extractor_key)
        if todo:
            shards = extract_on_ray(todo, models, Path(work) / "shards")
            with FeatureCache(cache_path) as cache:
                rows = read_shards(shards, models.dim)
                _store(cache, rows, todo, models.encoder_key, models.extractor_key)
        return scan(roots, config, progress, executor=executor)


def _not_cached(
    entries: Sequence[FileEntry], cache: FeatureCache, encoder: str, extractor: str
) -> list[FileEntry]:
    """The files whose features (all that this model set needs) the cache lacks."""
    images = cache.lookup_images(entries)
    usable = [p for p, c in images.items() if c.error is None and c.pixel_digest]
    vectors = cache.lookup_embeddings(usable, encoder) if encoder else {}
    local = cache.paths_with_local(usable, extractor) if extractor else set()
    done = {p for p in usable if (not encoder or p in vectors) and (not extractor or p in local)}
    done |= {p for p, c in images.items() if c.error is not None}
    return [e for e in entries if e.path not in done]


def _store(
    cache: FeatureCache,
    rows: FeatureRows,
    todo: Sequence[FileEntry],
    encoder: str,
    extractor: str,
) -> None:
    """Shard rows into the cache, as the feature stage's collector writes its batches; a file
    the workers could not use is cached with its reason, as the collector caches it."""
    images = [
        (e, CachedImage(i, h, None, f, d))
        for e, i, h, f, d in zip(rows.entries, rows.infos, rows.hashes, rows.fingerprints,
                                 rows.pixel_digests, strict=True)
    ]  # fmt: skip
    by_path = {e.path: e for e in todo}
    images += [(by_path[s.path], CachedImage(None, None, s.error)) for s in rows.skipped]
    vectors = (
        [(e.path, v) for e, v in zip(rows.entries, rows.embeddings, strict=True)]
        if rows.embeddings is not None
        else []
    )
    local = [(e.path, b) for e, b in zip(rows.entries, rows.local, strict=True)]
    cache.store(images, vectors, encoder, local, extractor)
