"""The persistent index: a folder of Parquet shards of feature rows, a FAISS file over their
embeddings and a small JSON manifest (format, NDID version, model set, encoder and verifier
keys, shards, how the FAISS index was built).

    INDEX/manifest.json
    INDEX/shards/part-00000.parquet ...   one per build or add
    INDEX/embeddings.faiss                row i of the shards (in order) is FAISS id i

Every write goes to a temporary name first and the manifest is replaced last, so an index is
always the state of its last finished build or add.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ndid_desktop import __version__
from ndid_desktop.cluster import ann
from ndid_desktop.cluster.models import IndexModels
from ndid_desktop.cluster.rows import FeatureRows, concat, empty_rows
from ndid_desktop.cluster.shards import read_local, read_shard, write_shard

FORMAT = 1
MANIFEST = "manifest.json"
FAISS_FILE = "embeddings.faiss"
SHARDS = "shards"


class IndexProblem(ValueError):
    """An index folder that is missing, damaged, or built with other models."""


@dataclass(frozen=True)
class Shard:
    name: str
    rows: int  # usable rows (the first ``rows`` rows of the file)
    skipped: int


@dataclass(frozen=True)
class Manifest:
    model_set: str
    encoder: str
    extractor: str
    dim: int | None
    shards: tuple[Shard, ...]
    ann: ann.AnnSettings | None
    created: float
    updated: float
    ndid_version: str = __version__
    format: int = FORMAT

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "ndid_version": self.ndid_version,
            "model_set": self.model_set,
            "encoder": self.encoder,
            "extractor": self.extractor,
            "dim": self.dim,
            "rows": self.rows,
            "shards": [s.__dict__ for s in self.shards],
            "ann": self.ann.to_json() if self.ann is not None else None,
            "created": self.created,
            "updated": self.updated,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise IndexProblem(f"index format {data.get('format')} is not {FORMAT}: rebuild it")
        return Manifest(
            model_set=data["model_set"],
            encoder=data["encoder"],
            extractor=data["extractor"],
            dim=data["dim"],
            shards=tuple(Shard(**s) for s in data["shards"]),
            ann=ann.AnnSettings.from_json(data["ann"]) if data["ann"] else None,
            created=data["created"],
            updated=data["updated"],
            ndid_version=data["ndid_version"],
        )


@dataclass
class IndexStore:
    """An open index: every row's features but the local ones in memory, the FAISS index, and
    where each row's local features are on disk."""

    folder: Path
    manifest: Manifest
    rows: FeatureRows
    ann_index: Any | None
    # row -> (shard, position in the shard), for reading local features on demand
    where: list[tuple[str, int]] = field(default_factory=list)
    by_fingerprint: dict[str, int] = field(default_factory=dict)
    by_digest: dict[str, int] = field(default_factory=dict)
    by_path: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    _hashes: Any | None = None  # the pHash binary index, built on first use

    @staticmethod
    def create(folder: Path, models: IndexModels, rows: FeatureRows) -> IndexStore:
        """A new index of ``rows`` in ``folder`` (which must not hold one already)."""
        if (folder / MANIFEST).exists():
            raise IndexProblem(f"{folder} already holds an index: use 'ndid index add'")
        now = time.time()
        manifest = Manifest(
            models.name, models.encoder_key, models.extractor_key, models.dim, (), None, now, now
        )
        store = IndexStore(folder, manifest, empty_rows(models.dim), None)
        store._append(rows, models)
        return store

    @staticmethod
    def open(folder: Path) -> IndexStore:
        path = folder / MANIFEST
        if not path.is_file():
            raise IndexProblem(
                f"no index at {folder} (no {MANIFEST}): build one with 'ndid index build'"
            )
        try:
            manifest = Manifest.from_json(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexProblem(f"{path} is damaged ({exc}): rebuild the index") from exc
        parts: list[FeatureRows] = []
        where: list[tuple[str, int]] = []
        for shard in manifest.shards:
            part = read_shard(folder / SHARDS / shard.name, manifest.dim, with_local=False)
            parts.append(part)
            where += [(shard.name, i) for i in range(len(part))]
        rows = concat(parts, manifest.dim)
        index = None
        if manifest.ann is not None and manifest.dim is not None:
            index = ann.load(folder / FAISS_FILE, manifest.ann)
        store = IndexStore(folder, manifest, rows, index, where)
        store._reindex()
        store.skipped = sum(s.skipped for s in manifest.shards)
        return store

    def check_models(self, models: IndexModels) -> None:
        """Queries and adds must use the models the index was built with."""
        m = self.manifest
        if (models.name, models.encoder_key, models.extractor_key) != (
            m.model_set, m.encoder, m.extractor,
        ):  # fmt: skip
            raise IndexProblem(
                f"the index was built with model set '{m.model_set}' ({m.encoder or 'no encoder'}"
                f", {m.extractor or 'no verifier'}); this run uses '{models.name}' "
                f"({models.encoder_key or 'no encoder'}, {models.extractor_key or 'no verifier'})"
            )

    def add(self, rows: FeatureRows, models: IndexModels) -> tuple[int, list[str]]:
        """Add the rows whose paths are not indexed yet. Returns how many were added and the
        paths that are indexed already but changed since (not added: rebuild to refresh)."""
        self.check_models(models)
        new: list[int] = []
        changed: list[str] = []
        for i, entry in enumerate(rows.entries):
            known = self.by_path.get(entry.path)
            if known is None:
                new.append(i)
            elif (self.rows.entries[known].size, self.rows.entries[known].mtime_ns) != (
                entry.size, entry.mtime_ns,
            ):  # fmt: skip
                changed.append(entry.path)
        fresh = rows.take(_unique_paths(rows, new))
        fresh = replace(fresh, skipped=rows.skipped)
        self._append(fresh, models)
        return len(fresh), changed

    def _append(self, rows: FeatureRows, models: IndexModels) -> None:
        name = f"part-{len(self.manifest.shards):05d}.parquet"
        if len(rows) or rows.skipped:
            write_shard(rows, self.folder / SHARDS / name)
            shards = (*self.manifest.shards, Shard(name, len(rows), len(rows.skipped)))
        else:
            shards = self.manifest.shards
        start = len(self.rows)
        self.rows = concat([self.rows, rows], self.manifest.dim)
        self.where += [(name, i) for i in range(len(rows))]
        settings = self.manifest.ann
        if self.rows.embeddings is not None and len(self.rows):
            settings = self._update_ann(start, models)
        self.manifest = Manifest(
            self.manifest.model_set, self.manifest.encoder, self.manifest.extractor,
            self.manifest.dim, shards, settings, self.manifest.created, time.time(),
        )  # fmt: skip
        self.skipped = sum(s.skipped for s in shards)
        self._reindex()
        _write_json(self.folder / MANIFEST, self.manifest.to_json())

    def _update_ann(self, start: int, models: IndexModels) -> ann.AnnSettings:
        assert self.rows.embeddings is not None
        config = models.config
        settings = self.manifest.ann
        if (
            self.ann_index is None
            or settings is None
            or ann.needs_rebuild(settings, len(self.rows))
        ):
            self.ann_index, settings = ann.build(
                self.rows.embeddings, config.knn_k, config.knn_min_cosine
            )
        else:
            self.ann_index.add(np.ascontiguousarray(self.rows.embeddings[start:]))
        ann.save(self.ann_index, self.folder / FAISS_FILE)
        return settings

    def hash_index(self) -> Any:
        """A binary FAISS index of every row's pHash (orientation 0), as candidates.py has."""
        import faiss

        if self._hashes is None:
            self._hashes = faiss.IndexBinaryFlat(64)
            self._hashes.add(np.ascontiguousarray(self.rows.hashes[:, 0, 0]))
        return self._hashes

    def _reindex(self) -> None:
        self._hashes = None
        rows = self.rows
        self.by_path = {e.path: i for i, e in enumerate(rows.entries)}
        self.by_fingerprint = {f: i for i, f in enumerate(rows.fingerprints) if f}
        self.by_digest = {d: i for i, d in enumerate(rows.pixel_digests) if d}

    def local_features(self, rows: Sequence[int]) -> dict[int, bytes]:
        """The local features of index rows, read from their shards."""
        by_shard: dict[str, list[tuple[int, int]]] = {}
        for row in rows:
            shard, position = self.where[row]
            by_shard.setdefault(shard, []).append((row, position))
        found: dict[int, bytes] = {}
        for shard, wanted in by_shard.items():
            blobs = read_local(self.folder / SHARDS / shard, [p for _, p in wanted])
            found.update({row: blobs[p] for row, p in wanted})
        return found

    def stats(self) -> dict[str, Any]:
        m = self.manifest
        size = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        return {
            "index": str(self.folder),
            "rows": m.rows,
            "skipped": self.skipped,
            "shards": len(m.shards),
            "model_set": m.model_set,
            "encoder": m.encoder,
            "verifier": m.extractor,
            "dim": m.dim,
            "ann": m.ann.to_json() if m.ann is not None else None,
            "bytes_on_disk": size,
            "ndid_version": m.ndid_version,
            "created": m.created,
            "updated": m.updated,
        }


def _unique_paths(rows: FeatureRows, picked: Sequence[int]) -> list[int]:
    seen: set[str] = set()
    out = []
    for i in picked:
        if rows.entries[i].path not in seen:
            seen.add(rows.entries[i].path)
            out.append(i)
    return out


def _write_json(path: Path, data: dict[str, Any]) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(data, indent=2))
    part.replace(path)
