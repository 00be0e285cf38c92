"""The feature cache: SQLite in WAL mode, keyed by (path, size, mtime_ns).

A re-scan of an unchanged library reads every feature from here and decodes nothing. Rows are
written once per batch, so a cancelled or crashed scan resumes where it stopped. The schema
version covers the hash algorithms; each encoder's vectors are keyed by its name and version.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .types import FileEntry, ImageInfo
from .verify import VERSION as VERIFIER_VERSION

SCHEMA_VERSION = 5  # bump when hashes or the stored layout change: old rows are dropped
HASH_SHAPE = (3, 8, 8)


@dataclass(frozen=True)
class CachedImage:
    info: ImageInfo | None  # None when the file could not be decoded
    hashes: NDArray[np.uint8] | None
    error: str | None


def _key(path: str) -> bytes:
    # Paths are stored as bytes: file names need not be valid UTF-8 (os.fsencode round-trips them).
    return os.fsencode(path)


def _identity(entry: FileEntry) -> bytes:
    return _key(entry.path) + f"\0{entry.size}\0{entry.mtime_ns}".encode()


class FeatureCache:
    """Opened on a file, or on ``:memory:`` when the user turned caching off."""

    def __init__(self, path: Path | None) -> None:
        target = ":memory:"
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            target = str(path)
        self._db = sqlite3.connect(target, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        with self._transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is not None and int(row[0]) == SCHEMA_VERSION:
                return
            db.execute("DROP TABLE IF EXISTS verifications")
            db.execute("DROP TABLE IF EXISTS embeddings")
            db.execute("DROP TABLE IF EXISTS files")
            db.execute(
                "CREATE TABLE files (path BLOB PRIMARY KEY, size INTEGER NOT NULL,"
                " mtime_ns INTEGER NOT NULL, info TEXT, hashes BLOB, error TEXT)"
            )
            db.execute(
                "CREATE TABLE embeddings (path BLOB NOT NULL, encoder TEXT NOT NULL,"
                " vector BLOB NOT NULL, PRIMARY KEY (path, encoder))"
            )
            # Keyed by both files' identity, so an edited file invalidates its verifications.
            db.execute(
                "CREATE TABLE verifications (a BLOB NOT NULL, b BLOB NOT NULL,"
                " orientation INTEGER NOT NULL, verifier INTEGER NOT NULL, result TEXT NOT NULL,"
                " PRIMARY KEY (a, b, orientation, verifier))"
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:
            yield self._db

    def lookup_images(self, entries: Iterable[FileEntry]) -> dict[str, CachedImage]:
        """Cached decode results for the entries whose size and mtime are unchanged."""
        found: dict[str, CachedImage] = {}
        with closing(self._db.cursor()) as cur:
            for entry in entries:
                row = cur.execute(
                    "SELECT info, hashes, error FROM files WHERE path=? AND size=? AND mtime_ns=?",
                    (_key(entry.path), entry.size, entry.mtime_ns),
                ).fetchone()
                if row is not None:
                    found[entry.path] = _image_from_row(row)
        return found

    def lookup_embeddings(
        self, paths: Iterable[str], encoder: str
    ) -> dict[str, NDArray[np.float32]]:
        """Vectors for paths whose files row is current (callers look images up first)."""
        found: dict[str, NDArray[np.float32]] = {}
        with closing(self._db.cursor()) as cur:
            for path in paths:
                row = cur.execute(
                    "SELECT vector FROM embeddings WHERE path=? AND encoder=?",
                    (_key(path), encoder),
                ).fetchone()
                if row is not None:
                    found[path] = np.frombuffer(row[0], dtype=np.float32)
        return found

    def store(
        self,
        images: Iterable[tuple[FileEntry, CachedImage]],
        embeddings: Iterable[tuple[str, NDArray[np.float32]]] = (),
        encoder: str = "",
    ) -> None:
        """Write one batch in one transaction; a changed file's old vectors are dropped."""
        with self._transaction() as db:
            for entry, image in images:
                key = _key(entry.path)
                # Vectors of an older version of this file go; other encoders' vectors of
                # this same version stay (the gate encoder stores after the main one).
                db.execute(
                    "DELETE FROM embeddings WHERE path=? AND EXISTS (SELECT 1 FROM files"
                    " WHERE path=? AND (size!=? OR mtime_ns!=?))",
                    (key, key, entry.size, entry.mtime_ns),
                )
                db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        entry.size,
                        entry.mtime_ns,
                        json.dumps(asdict(image.info)) if image.info else None,
                        image.hashes.tobytes() if image.hashes is not None else None,
                        image.error,
                    ),
                )
            for path, vector in embeddings:
                db.execute(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                    (_key(path), encoder, np.asarray(vector, dtype=np.float32).tobytes()),
                )

    def lookup_verification(
        self, a: FileEntry, b: FileEntry, orientation: int
    ) -> tuple[float, ...] | None:
        row = self._db.execute(
            "SELECT result FROM verifications WHERE a=? AND b=? AND orientation=? AND verifier=?",
            (_identity(a), _identity(b), orientation, VERIFIER_VERSION),
        ).fetchone()
        return tuple(json.loads(row[0])) if row else None

    def store_verification(
        self, a: FileEntry, b: FileEntry, orientation: int, result: tuple[float, ...]
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO verifications VALUES (?, ?, ?, ?, ?)",
                (
                    _identity(a),
                    _identity(b),
                    orientation,
                    VERIFIER_VERSION,
                    json.dumps(list(result)),
                ),
            )

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0])


def _image_from_row(row: tuple[str | None, bytes | None, str | None]) -> CachedImage:
    info_json, hashes, error = row
    info = ImageInfo(**json.loads(info_json)) if info_json else None
    arr = np.frombuffer(hashes, dtype=np.uint8).reshape(HASH_SHAPE) if hashes else None
    return CachedImage(info=info, hashes=arr, error=error)
