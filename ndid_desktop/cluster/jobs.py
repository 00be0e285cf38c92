"""The index's commands as functions: build, add, query, stats (the CLI and the service call
these). Extraction runs here through the engine's executor seam, or on Ray when a Ray session
is given (ray_session.py)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ndid_desktop.cluster.extraction import extract_here, extract_on_ray
from ndid_desktop.cluster.models import IndexModels, index_models
from ndid_desktop.cluster.query import QueryResult, query_rows
from ndid_desktop.cluster.rows import FeatureRows, concat
from ndid_desktop.cluster.shards import read_shards
from ndid_desktop.cluster.sources import list_files
from ndid_desktop.cluster.store import IndexStore
from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.executors import ExecutorFactory, in_process, process_pool
from ndid_desktop.engine.features.encoders import Encoder, build_encoder
from ndid_desktop.engine.features.extract import prepare_onnx
from ndid_desktop.engine.types import FileEntry, Skipped


@dataclass(frozen=True)
class Where:
    """Where extraction runs: here (the executor seam) or on the Ray cluster ray.init joined."""

    on_ray: bool = False
    executor: ExecutorFactory = process_pool


def features_of(
    sources: Sequence[str], models: IndexModels, where: Where
) -> tuple[FeatureRows, list[Skipped]]:
    entries, skipped = list_files(sources, models.config)
    return extract(entries, models, where), skipped


def extract(entries: Sequence[FileEntry], models: IndexModels, where: Where) -> FeatureRows:
    if not where.on_ray:
        return extract_here(entries, models, where.executor)
    with tempfile.TemporaryDirectory(prefix="ndid-ray-") as staging:
        shards = extract_on_ray(entries, models, Path(staging))
        return read_shards(shards, models.dim) if shards else concat([], models.dim)


def build(folder: Path, sources: Sequence[str], config: ScanConfig, where: Where) -> IndexStore:
    models = index_models(config)
    rows, skipped = features_of(sources, models, where)
    rows = replace(rows, skipped=(*skipped, *rows.skipped))
    return IndexStore.create(folder, models, rows)


@dataclass(frozen=True)
class Added:
    store: IndexStore
    added: int
    changed: tuple[str, ...]
    skipped: tuple[Skipped, ...]


def add(folder: Path, sources: Sequence[str], config: ScanConfig, where: Where) -> Added:
    """Index the files under ``sources`` that the index at ``folder`` lacks."""
    store = IndexStore.open(folder)
    entries, skipped = list_files(sources, _models_of(store, config).config)
    added = add_entries(store, entries, config, where)
    return replace(added, skipped=(*skipped, *added.skipped))


def add_entries(
    store: IndexStore, entries: Sequence[FileEntry], config: ScanConfig, where: Where
) -> Added:
    models = _models_of(store, config)
    # Only files not indexed yet (or changed since) are decoded.
    todo = [e for e in entries if _new_or_changed(store, e)]
    rows = extract(todo, models, where)
    added, changed = store.add(rows, models)
    return Added(store, added, tuple(changed), rows.skipped)


def _models_of(store: IndexStore, config: ScanConfig) -> IndexModels:
    models = index_models(replace(config, model_set=store.manifest.model_set))
    store.check_models(models)
    return models


def _new_or_changed(store: IndexStore, entry: FileEntry) -> bool:
    known = store.by_path.get(entry.path)
    if known is None:
        return True
    old = store.rows.entries[known]
    return (old.size, old.mtime_ns) != (entry.size, entry.mtime_ns)


class Querier:
    """Answers queries against one open index, with its models resolved and its encoder built
    once (what the service holds; the CLI uses one for its files)."""

    def __init__(self, store: IndexStore, config: ScanConfig) -> None:
        self.store = store
        config = replace(config, model_set=store.manifest.model_set, cache_path=None)
        self.models = index_models(config)
        store.check_models(self.models)
        self.encoder: Encoder | None = None
        spec = self.models.spec
        if spec is not None:
            prepare_onnx(spec, config.models_dir, self.models.store)
            self.encoder = build_encoder(spec, config.models_dir, self.models.store)

    def __call__(
        self, paths: Sequence[str], k: int | None = None, related: bool = False
    ) -> list[QueryResult]:
        """Each file's matches; a file that cannot be used gets an error, not a failure of
        the whole query."""
        entries, unusable = [], []
        for path in paths:
            try:
                st = os.stat(path)
            except OSError as exc:
                unusable.append(QueryResult(path, (), 0, f"cannot read: {exc.strerror}"))
                continue
            entries.append(
                FileEntry(path, os.path.dirname(path), False, st.st_size, st.st_mtime_ns)
            )
        rows = extract_here(entries, self.models, in_process, encoder=self.encoder)
        answered = (
            {r.query: r for r in query_rows(self.store, rows, self.models, k, related)}
            if len(rows)
            else {}
        )
        errors = {s.path: QueryResult(s.path, (), 0, s.error) for s in rows.skipped}
        errors.update({r.query: r for r in unusable})
        return [answered.get(p) or errors[p] for p in paths]
