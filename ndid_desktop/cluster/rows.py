"""The index's rows: one picture's features as they sit in a Parquet shard, and the columnar
form the rest of this package works on.

A row holds what a scan's feature cache holds for a file: its identity (path, size, mtime), its
content fingerprint and pixel digest, the decoder's ImageInfo (JSON), the hashes (3x8x8 bytes),
the embedding (float32 bytes) and the verifier's local features. A file that could not be used
is a row with ``error`` set and nothing else, so a shard says what it skipped and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.features.cache import HASH_SHAPE
from ndid_desktop.engine.features.extract import Extracted
from ndid_desktop.engine.types import FileEntry, ImageInfo, Skipped

COLUMNS = (
    "path", "size", "mtime_ns", "fingerprint", "pixel_digest", "info", "hashes", "embedding",
    "local", "error",
)  # fmt: skip


@dataclass(frozen=True)
class FeatureRows:
    """Usable pictures, row i describing entries[i], and the files that were skipped."""

    entries: tuple[FileEntry, ...]
    infos: tuple[ImageInfo, ...]
    hashes: NDArray[np.uint8]  # (N, 3, 8, 8)
    embeddings: NDArray[np.float32] | None  # (N, dim) unit rows; None for hash-only sets
    fingerprints: tuple[str, ...]
    pixel_digests: tuple[str, ...]
    local: tuple[bytes, ...]  # b"" where the verifier had nothing
    skipped: tuple[Skipped, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)

    def take(self, rows: Sequence[int]) -> FeatureRows:
        idx = list(rows)
        return FeatureRows(
            tuple(self.entries[i] for i in idx),
            tuple(self.infos[i] for i in idx),
            self.hashes[idx],
            self.embeddings[idx] if self.embeddings is not None else None,
            tuple(self.fingerprints[i] for i in idx),
            tuple(self.pixel_digests[i] for i in idx),
            tuple(self.local[i] for i in idx),
        )


def empty_rows(dim: int | None) -> FeatureRows:
    vectors = np.zeros((0, dim), np.float32) if dim is not None else None
    return FeatureRows((), (), np.zeros((0, *HASH_SHAPE), np.uint8), vectors, (), (), ())


def concat(parts: Sequence[FeatureRows], dim: int | None) -> FeatureRows:
    parts = [p for p in parts if len(p) or p.skipped]
    if not parts:
        return empty_rows(dim)
    vectors = [p.embeddings for p in parts if p.embeddings is not None]
    return FeatureRows(
        tuple(e for p in parts for e in p.entries),
        tuple(i for p in parts for i in p.infos),
        np.concatenate([p.hashes for p in parts]),
        np.concatenate(vectors) if dim is not None and vectors else None,
        tuple(f for p in parts for f in p.fingerprints),
        tuple(d for p in parts for d in p.pixel_digests),
        tuple(b for p in parts for b in p.local),
        tuple(s for p in parts for s in p.skipped),
    )


def result_columns(
    entries: Sequence[FileEntry], results: Sequence[Extracted], needs_vector: bool
) -> dict[str, list[Any]]:
    """A worker's Extracted results as shard columns (what a Ray Data batch returns)."""
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for entry, result in zip(entries, results, strict=True):
        error = result.error
        if error is None and needs_vector and result.vector is None:
            error = "no embedding: the encoder could not run in the worker"
        usable = error is None and result.info is not None and result.hashes is not None
        values: dict[str, Any] = {
            "path": entry.path,
            "size": entry.size,
            "mtime_ns": entry.mtime_ns,
            "fingerprint": result.fingerprint if usable else None,
            "pixel_digest": result.pixel_digest if usable else None,
            "info": json.dumps(asdict(result.info)) if usable and result.info else None,
            "hashes": result.hashes.tobytes() if usable and result.hashes is not None else None,
            "embedding": _vector_bytes(result.vector) if usable else None,
            "local": (result.local or b"") if usable else None,
            "error": error,
        }
        for name in COLUMNS:
            columns[name].append(values[name])
    return columns


def _vector_bytes(vector: NDArray[np.float32] | None) -> bytes | None:
    return np.asarray(vector, np.float32).tobytes() if vector is not None else None


def rows_from_columns(columns: Mapping[str, Sequence[Any]], dim: int | None) -> FeatureRows:
    """Shard columns (from Parquet or a worker) back into FeatureRows."""
    keep = [i for i, e in enumerate(columns["error"]) if e is None]
    skipped = tuple(
        Skipped(str(columns["path"][i]), str(e)) for i, e in enumerate(columns["error"]) if e
    )
    entries = tuple(
        FileEntry(str(columns["path"][i]), "", False, int(columns["size"][i]),
                  int(columns["mtime_ns"][i]))
        for i in keep
    )  # fmt: skip
    hashes = np.frombuffer(b"".join(columns["hashes"][i] for i in keep), np.uint8)
    vectors = None
    if dim is not None:
        raw = b"".join(columns["embedding"][i] for i in keep)
        vectors = np.frombuffer(raw, np.float32).reshape(len(keep), dim).copy()
    return FeatureRows(
        entries,
        tuple(ImageInfo(**json.loads(columns["info"][i])) for i in keep),
        hashes.reshape(len(keep), *HASH_SHAPE).copy(),
        vectors,
        tuple(str(columns["fingerprint"][i] or "") for i in keep),
        tuple(str(columns["pixel_digest"][i] or "") for i in keep),
        tuple(bytes(columns["local"][i] or b"") for i in keep),
        skipped,
    )


def rows_columns(rows: FeatureRows) -> dict[str, list[Any]]:
    """FeatureRows as shard columns (the inverse of rows_from_columns for usable rows)."""
    n = len(rows)
    vectors = rows.embeddings
    columns: dict[str, list[Any]] = {
        "path": [e.path for e in rows.entries] + [s.path for s in rows.skipped],
        "size": [e.size for e in rows.entries] + [0] * len(rows.skipped),
        "mtime_ns": [e.mtime_ns for e in rows.entries] + [0] * len(rows.skipped),
        "fingerprint": [*rows.fingerprints, *[None] * len(rows.skipped)],
        "pixel_digest": [*rows.pixel_digests, *[None] * len(rows.skipped)],
        "info": [json.dumps(asdict(i)) for i in rows.infos] + [None] * len(rows.skipped),
        "hashes": [rows.hashes[i].tobytes() for i in range(n)] + [None] * len(rows.skipped),
        "embedding": [vectors[i].tobytes() if vectors is not None else None for i in range(n)]
        + [None] * len(rows.skipped),
        "local": [*rows.local, *[None] * len(rows.skipped)],
        "error": [None] * n + [s.error for s in rows.skipped],
    }
    return columns
