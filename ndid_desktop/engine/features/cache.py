"""The feature cache: SQLite in WAL mode, keyed by (path, size, mtime_ns).

A re-scan of an unchanged library reads every feature from here and decodes nothing. Rows are
written once per batch, so a cancelled or crashed scan resumes where it stopped. The schema
version covers the hash algorithms; each encoder's vectors are keyed by its name and version,
each verifier's local features and verifications by what it says (verify.PairVerifier). The
keypoint-vote index (match/vote_index.py) keeps its state here too, keyed by its settings and
each picture's identity.

The cache is only ever a speed-up, so no failure of it may stop a scan: a damaged file is moved
aside and rebuilt; a write the disk refuses (full, read-only, locked) sends the rest of the
scan's writes to memory; a read that fails for another reason drops the file for the rest of
the scan. Each such event adds one line to ``warnings``, which the scan reports.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.types import FileEntry, ImageInfo

SCHEMA_VERSION = 9  # bump when hashes or the stored layout change: old rows are dropped
# Versions that _migrate upgrades in place instead of dropping (see _upgrade_from_5 to 8).
_UPGRADABLE = {5, 6, 7, 8}
HASH_SHAPE = (3, 8, 8)
MEMORY = ":memory:"
# Each recovery moves one step towards memory (file -> rebuilt file -> memory), so two are
# the most a statement can need; a third failure is a bug and is raised.
_ATTEMPTS = 3

_T = TypeVar("_T")
_K = TypeVar("_K")


@dataclass(frozen=True)
class VoteRow:
    """One picture in the keypoint-vote index's state; the bytes are match/vote_index.py's."""

    member: int  # its number in the index (descriptor ids are derived from it)
    identity: bytes  # entry_identity: a changed file is another member
    neighbours: bytes
    probes: bytes


@dataclass(frozen=True)
class VoteState:
    """What the vote index reads back for its settings: the live members by number."""

    trained: int  # members holding descriptors when the index was trained
    next_member: int
    members: dict[int, tuple[bytes, bytes]]  # member -> (identity, neighbours)


@dataclass(frozen=True)
class VoteWrite:
    """One update of the vote index's state, written in one transaction."""

    trained: int
    next_member: int
    live: tuple[int, ...]  # every member of the new state; rows of others are ignored
    rows: tuple[VoteRow, ...]  # the new or changed ones
    index: bytes | None  # the serialised index; b"" when there is none, None: unchanged
    rebuilt: bool  # every earlier row of these settings goes
    # The next_member of the state the update was made from (None: there was none). Should
    # another scan have written since, the update is not written and the state is dropped
    # instead (the next scan builds it afresh): two updates of one state would mix members.
    base: int | None = None


@dataclass(frozen=True)
class CachedImage:
    info: ImageInfo | None  # None when the file could not be decoded
    hashes: NDArray[np.uint8] | None
    error: str | None
    fingerprint: str | None = None  # fingerprint.fingerprint_file when the features were read
    pixel_digest: str | None = None  # extract.pixel_digest of the decoded picture


def _key(path: str) -> bytes:
    # Paths are stored as bytes: file names need not be valid UTF-8 (os.fsencode round-trips them).
    return os.fsencode(path)


def _identity(entry: FileEntry) -> bytes:
    return _key(entry.path) + f"\0{entry.size}\0{entry.mtime_ns}".encode()


def entry_identity(entry: FileEntry, fingerprint: str) -> bytes:
    """A file's identity with its content fingerprint ("" if unknown): what the vote index
    keys a picture by, so that a changed file is never taken for the one it replaced."""
    return _identity(entry) + f"\0{fingerprint}".encode()


def _error_code(exc: sqlite3.Error) -> int:
    # Extended result codes (SQLITE_IOERR_WRITE, ...) carry the primary code in the low byte.
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def is_damage(exc: sqlite3.Error) -> bool:
    """The file is not a database or its pages are garbage: it will never read again."""
    return _error_code(exc) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def is_disk_full(exc: sqlite3.Error) -> bool:
    """SQLITE_FULL: "database or disk is full" (the disk, a quota, or max_page_count)."""
    return _error_code(exc) == sqlite3.SQLITE_FULL


class _DamagedError(Exception):
    """PRAGMA quick_check found damage that no statement has tripped over yet."""


def _connect(target: str) -> sqlite3.Connection:
    # One place that opens connections, so tests can give them a size limit.
    return sqlite3.connect(target, timeout=30.0)


def _open(target: str, verify: bool) -> sqlite3.Connection:
    db = _connect(target)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if verify:
            _check_integrity(db)
        _migrate(db)
    except BaseException:
        db.close()
        raise
    return db


# Checked when the cache opens. The local features are most of the file (~50 KB a picture, 0.9
# GB for 11,589 pictures) and a re-scan reads none of them, so their table is left to the
# reads that need it (a damaged page there is found, and the cache rebuilt, by _read).
_CHECKED_AT_OPEN = ("meta", "files", "embeddings", "verifications")


def _check_integrity(db: sqlite3.Connection) -> None:
    # quick_check reads every page of a table once but skips integrity_check's index
    # cross-check. Measured on the 11,589-picture cache: 0.37 s warm and 1.6 s cold for the
    # whole file, 0.11 s for these tables. Damage found here costs one rebuild; damage found
    # mid-scan would cost what the scan had cached until then.
    present = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    problems: list[str] = []
    for table in (t for t in _CHECKED_AT_OPEN if t in present):
        problems += [str(r[0]) for r in db.execute(f"PRAGMA quick_check({table})")]
    if any(p != "ok" for p in problems):
        raise _DamagedError("; ".join(p for p in problems if p != "ok"))


def _migrate(db: sqlite3.Connection) -> None:
    with db:
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        version = int(row[0]) if row is not None else None
        if version == SCHEMA_VERSION:
            return
        if version == 5:
            _upgrade_from_5(db)
        if version in (5, 6):
            _upgrade_from_6(db)
        if version == 7:
            _upgrade_from_7(db)
        if version in (5, 6, 7, 8):
            _upgrade_from_8(db)
        if version not in _UPGRADABLE:
            _create_tables(db)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))


def _upgrade_from_5(db: sqlite3.Connection) -> None:
    # Version 6 only adds the fingerprint column. Dropping the tables instead would make the
    # first scan after the upgrade decode and embed the whole library again; rows left with no
    # fingerprint get one from a plain read of the file (features.compute_features).
    db.execute("ALTER TABLE files ADD COLUMN fingerprint TEXT")


def _upgrade_from_6(db: sqlite3.Connection) -> None:
    # Version 7 adds the pixel digest and the local features, and keys verifications by the
    # verifier's name as well as its version. Files and embeddings are kept; a row with no
    # pixel digest, or no local features for the scan's verifier, is extracted again once by
    # the next scan (features.compute_features), which needs the decoded picture for them.
    # The old verifications were made by a verifier version that is gone: they are dropped.
    db.execute("ALTER TABLE files ADD COLUMN pixel_digest TEXT")
    _create_verifier_tables(db)


def _upgrade_from_7(db: sqlite3.Connection) -> None:
    # Version 8 adds the decoder's evidence of provenance to each picture's info (ImageInfo's
    # chroma, jpeg_grid, software, orientation, has_exif), which only a decode gives. The rows
    # are kept with their pixel digest cleared, so the next scan extracts each picture once
    # more (features.compute_features, as for rows from schema 6) and rewrites its info; the
    # remembered failures and the verifications (keyed by the files' identity) stay valid.
    db.execute("UPDATE files SET pixel_digest=NULL WHERE error IS NULL")


def _upgrade_from_8(db: sqlite3.Connection) -> None:
    # Version 9 only adds the keypoint-vote index's tables; every other row stays valid. The
    # first scan after the upgrade builds the index once (as every scan did before).
    _create_vote_tables(db)


def _create_tables(db: sqlite3.Connection) -> None:
    db.execute("DROP TABLE IF EXISTS embeddings")
    db.execute("DROP TABLE IF EXISTS files")
    db.execute(
        "CREATE TABLE files (path BLOB PRIMARY KEY, size INTEGER NOT NULL,"
        " mtime_ns INTEGER NOT NULL, info TEXT, hashes BLOB, error TEXT, fingerprint TEXT,"
        " pixel_digest TEXT)"
    )
    db.execute(
        "CREATE TABLE embeddings (path BLOB NOT NULL, encoder TEXT NOT NULL,"
        " vector BLOB NOT NULL, PRIMARY KEY (path, encoder))"
    )
    _create_verifier_tables(db)
    _create_vote_tables(db)


def _create_vote_tables(db: sqlite3.Connection) -> None:
    for table in ("vote_state", "vote_index", "vote_members"):
        db.execute(f"DROP TABLE IF EXISTS {table}")
    # One state per settings key (match/vote_index.py); `members` lists the live members (int64),
    # so that rows a later write could not delete (written to the spill) are never read back.
    db.execute(
        "CREATE TABLE vote_state (settings TEXT PRIMARY KEY, trained INTEGER NOT NULL,"
        " next_member INTEGER NOT NULL, members BLOB NOT NULL)"
    )
    # Apart from the state: a re-scan of an unchanged library reads the neighbours only.
    db.execute("CREATE TABLE vote_index (settings TEXT PRIMARY KEY, data BLOB NOT NULL)")
    db.execute(
        "CREATE TABLE vote_members (settings TEXT NOT NULL, member INTEGER NOT NULL,"
        " identity BLOB NOT NULL, neighbours BLOB NOT NULL, probes BLOB NOT NULL,"
        " PRIMARY KEY (settings, member))"
    )


def _create_verifier_tables(db: sqlite3.Connection) -> None:
    db.execute("DROP TABLE IF EXISTS verifications")
    db.execute("DROP TABLE IF EXISTS local_features")
    # Like embeddings: valid while the files row of the same path is current.
    db.execute(
        "CREATE TABLE local_features (path BLOB NOT NULL, extractor TEXT NOT NULL,"
        " data BLOB NOT NULL, PRIMARY KEY (path, extractor))"
    )
    # Keyed by both files' identity, so an edited file invalidates its verifications.
    db.execute(
        "CREATE TABLE verifications (a BLOB NOT NULL, b BLOB NOT NULL,"
        " orientation INTEGER NOT NULL, verifier TEXT NOT NULL, result TEXT NOT NULL,"
        " PRIMARY KEY (a, b, orientation, verifier))"
    )


def move_aside(path: Path) -> Path:
    """Rename a damaged cache and its -wal/-shm files to ``<name>.damaged-<time>``, keeping
    them together so that the set still opens as one database for anyone who looks at it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():  # two in the same second
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.replace(target.with_name(target.name + suffix))
    if path.exists():
        path.replace(target)
    return target


class FeatureCache:
    """Opened on a file, or on ``:memory:`` when the user turned caching off."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.warnings: list[str] = []  # what went wrong with the cache, one line each
        self._spill: sqlite3.Connection | None = None  # writes the file refused go here
        self._rebuilt = False
        self._db = self._open_file() if path is not None else _open(MEMORY, verify=False)

    def close(self) -> None:
        self._db.close()
        if self._spill is not None:
            self._spill.close()

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def _open_file(self) -> sqlite3.Connection:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return _open(str(self.path), verify=True)
        except _DamagedError:
            pass
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc):
                self._warn(self._full_message())
                return _open(MEMORY, verify=False)
            if not is_damage(exc):
                # Read-only, locked by another scan for too long, or no room to create it:
                # the cache is only a speed-up, so the scan goes on without it.
                self._warn(f"cannot use the feature cache {self.path} ({exc}); this scan runs "
                           "without it")  # fmt: skip
                return _open(MEMORY, verify=False)
        return self._rebuild()

    def _rebuild(self) -> sqlite3.Connection:
        """Move the damaged file aside and start an empty one (once per cache object: a file
        that breaks again at once points at the disk, not at one bad write)."""
        assert self.path is not None
        self._rebuilt = True
        try:
            moved = move_aside(self.path)
            db = _open(str(self.path), verify=False)
        except (OSError, sqlite3.Error) as exc:
            self._warn(
                f"the feature cache {self.path} was damaged and could not be replaced ({exc});"
                " this scan runs without it"
            )
            return _open(MEMORY, verify=False)
        self._warn(f"the feature cache was damaged; moved aside to {moved} and rebuilt")
        return db

    def _full_message(self) -> str:
        return (
            f"no space left on the disk for the feature cache ({self.path}); the rest of this"
            " scan is not cached, what was cached before is kept"
        )

    def _recover(self, exc: sqlite3.DatabaseError, writing: bool) -> None:
        """Swap in a working store after ``exc``; the caller retries its statement once."""
        if is_damage(exc) and self.path is not None and not self._rebuilt:
            self._db.close()
            self._db = self._rebuild()
        elif writing and not is_damage(exc):
            # Full, read-only or locked: reads from the file still work and are worth keeping.
            self._warn(
                self._full_message()
                if is_disk_full(exc)
                else f"could not write to the feature cache ({exc}); the rest of this scan is"
                " not cached"
            )
            self._spill = self._spill or _open(MEMORY, verify=False)
        else:
            self._warn(f"could not read the feature cache ({exc}); this scan runs without it")
            self._db.close()
            self._db = _open(MEMORY, verify=False)

    def _read(self, query: Callable[[sqlite3.Connection], _T]) -> list[_T]:
        """``query`` on the file, then on the spill: later results override earlier ones."""
        for _ in range(_ATTEMPTS - 1):
            try:
                found = [query(self._db)]
                break
            except sqlite3.DatabaseError as exc:
                self._recover(exc, writing=False)
        else:
            found = [query(self._db)]
        if self._spill is not None:
            found.append(query(self._spill))
        return found

    def _write(self, statements: Callable[[sqlite3.Connection], None]) -> None:
        """``statements`` in one transaction: on the file, or on the spill once it refused."""
        for _ in range(_ATTEMPTS - 1):
            try:
                with self._transaction(self._spill or self._db) as db:
                    statements(db)
                return
            except sqlite3.DatabaseError as exc:  # the transaction was rolled back
                self._recover(exc, writing=True)
        with self._transaction(self._spill or self._db) as db:
            statements(db)

    @staticmethod
    @contextmanager
    def _transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        with db:
            yield db

    def lookup_images(self, entries: Iterable[FileEntry]) -> dict[str, CachedImage]:
        """Cached decode results for the entries whose size and mtime are unchanged."""
        wanted = list(entries)

        def query(db: sqlite3.Connection) -> dict[str, CachedImage]:
            found: dict[str, CachedImage] = {}
            with closing(db.cursor()) as cur:
                for entry in wanted:
                    row = cur.execute(
                        "SELECT info, hashes, error, fingerprint, pixel_digest FROM files"
                        " WHERE path=? AND size=? AND mtime_ns=?",
                        (_key(entry.path), entry.size, entry.mtime_ns),
                    ).fetchone()
                    if row is not None:
                        found[entry.path] = _image_from_row(row)
            return found

        return _merged(self._read(query))

    def lookup_embeddings(
        self, paths: Iterable[str], encoder: str
    ) -> dict[str, NDArray[np.float32]]:
        """Vectors for paths whose files row is current (callers look images up first)."""
        wanted = list(paths)

        def query(db: sqlite3.Connection) -> dict[str, NDArray[np.float32]]:
            found: dict[str, NDArray[np.float32]] = {}
            with closing(db.cursor()) as cur:
                for path in wanted:
                    row = cur.execute(
                        "SELECT vector FROM embeddings WHERE path=? AND encoder=?",
                        (_key(path), encoder),
                    ).fetchone()
                    if row is not None:
                        found[path] = np.frombuffer(row[0], dtype=np.float32)
            return found

        return _merged(self._read(query))

    def paths_with_local(self, paths: Iterable[str], extractor: str) -> set[str]:
        """The paths that have local features from ``extractor`` (callers look images up
        first, as for embeddings); reads no features."""
        wanted = list(paths)

        def query(db: sqlite3.Connection) -> dict[str, bool]:
            with closing(db.cursor()) as cur:
                return {
                    path: True
                    for path in wanted
                    if cur.execute(
                        "SELECT 1 FROM local_features WHERE path=? AND extractor=?",
                        (_key(path), extractor),
                    ).fetchone()
                }

        return set(_merged(self._read(query)))

    def lookup_local(self, entries: Iterable[FileEntry], extractor: str) -> dict[str, bytes]:
        """The local features from ``extractor`` of the entries whose files row is current."""
        wanted = list(entries)

        def query(db: sqlite3.Connection) -> dict[str, bytes]:
            found: dict[str, bytes] = {}
            with closing(db.cursor()) as cur:
                for entry in wanted:
                    row = cur.execute(
                        "SELECT l.data FROM local_features l JOIN files f ON f.path = l.path"
                        " WHERE l.path=? AND l.extractor=? AND f.size=? AND f.mtime_ns=?",
                        (_key(entry.path), extractor, entry.size, entry.mtime_ns),
                    ).fetchone()
                    if row is not None:
                        found[entry.path] = bytes(row[0])
            return found

        return _merged(self._read(query))

    def store(
        self,
        images: Iterable[tuple[FileEntry, CachedImage]],
        embeddings: Iterable[tuple[str, NDArray[np.float32]]] = (),
        encoder: str = "",
        local: Iterable[tuple[str, bytes]] = (),
        extractor: str = "",
    ) -> None:
        """Write one batch in one transaction; a changed file's old vectors and local
        features are dropped."""
        image_rows, vector_rows, local_rows = list(images), list(embeddings), list(local)

        def statements(db: sqlite3.Connection) -> None:
            for entry, image in image_rows:
                key = _key(entry.path)
                # What was derived from an older version of this file goes; other encoders'
                # vectors of this same version stay (the gate encoder stores after the main one).
                changed = (key, key, entry.size, entry.mtime_ns)
                for table in ("embeddings", "local_features"):
                    db.execute(
                        f"DELETE FROM {table} WHERE path=? AND EXISTS (SELECT 1 FROM files"
                        " WHERE path=? AND (size!=? OR mtime_ns!=?))",
                        changed,
                    )
                db.execute(
                    "INSERT OR REPLACE INTO files (path, size, mtime_ns, info, hashes, error,"
                    " fingerprint, pixel_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        entry.size,
                        entry.mtime_ns,
                        json.dumps(asdict(image.info)) if image.info else None,
                        image.hashes.tobytes() if image.hashes is not None else None,
                        image.error,
                        image.fingerprint,
                        image.pixel_digest,
                    ),
                )
            for path, vector in vector_rows:
                db.execute(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                    (_key(path), encoder, np.asarray(vector, dtype=np.float32).tobytes()),
                )
            for path, data in local_rows:
                db.execute(
                    "INSERT OR REPLACE INTO local_features VALUES (?, ?, ?)",
                    (_key(path), extractor, data),
                )

        self._write(statements)

    def store_fingerprints(self, fingerprints: Iterable[tuple[FileEntry, str]]) -> None:
        """Fill in the fingerprints of rows written before the cache recorded them."""
        rows = [(fp, _key(e.path), e.size, e.mtime_ns) for e, fp in fingerprints]

        def statements(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE files SET fingerprint=? WHERE path=? AND size=? AND mtime_ns=?", rows
            )

        self._write(statements)

    def lookup_verifications(
        self, pairs: Sequence[tuple[FileEntry, FileEntry, int]], verifier: str
    ) -> dict[int, tuple[float, ...]]:
        """The cached results of ``verifier`` (verify.verification_key) by position in
        ``pairs`` (a, b, orientation); positions without one are absent."""
        keys = [(_identity(a), _identity(b), o) for a, b, o in pairs]

        def query(db: sqlite3.Connection) -> dict[int, tuple[float, ...]]:
            found: dict[int, tuple[float, ...]] = {}
            with closing(db.cursor()) as cur:
                for i, (a, b, o) in enumerate(keys):
                    row = cur.execute(
                        "SELECT result FROM verifications"
                        " WHERE a=? AND b=? AND orientation=? AND verifier=?",
                        (a, b, o, verifier),
                    ).fetchone()
                    if row is not None:
                        found[i] = tuple(json.loads(row[0]))
            return found

        return _merged(self._read(query))

    def store_verifications(
        self, results: Sequence[tuple[FileEntry, FileEntry, int, tuple[float, ...]]], verifier: str
    ) -> None:
        """Write (a, b, orientation, result) rows of ``verifier`` in one transaction."""
        rows = [
            (_identity(a), _identity(b), o, verifier, json.dumps(list(result)))
            for a, b, o, result in results
        ]
        if not rows:
            return

        def statements(db: sqlite3.Connection) -> None:
            db.executemany("INSERT OR REPLACE INTO verifications VALUES (?, ?, ?, ?, ?)", rows)

        self._write(statements)

    def lookup_verification(
        self, a: FileEntry, b: FileEntry, orientation: int, verifier: str
    ) -> tuple[float, ...] | None:
        return self.lookup_verifications([(a, b, orientation)], verifier).get(0)

    def store_verification(
        self,
        a: FileEntry,
        b: FileEntry,
        orientation: int,
        result: tuple[float, ...],
        verifier: str,
    ) -> None:
        self.store_verifications([(a, b, orientation, result)], verifier)

    def lookup_vote_state(self, settings: str) -> VoteState | None:
        """The keypoint-vote index's live members and their neighbours (not the index)."""

        def query(
            db: sqlite3.Connection,
        ) -> tuple[VoteState | None, dict[int, tuple[bytes, bytes]]]:
            row = db.execute(
                "SELECT trained, next_member, members FROM vote_state WHERE settings=?",
                (settings,),
            ).fetchone()
            rows = db.execute(
                "SELECT member, identity, neighbours FROM vote_members WHERE settings=?",
                (settings,),
            ).fetchall()
            members = {int(m): (bytes(i), bytes(n)) for m, i, n in rows}
            if row is None:
                return None, members
            live = {int(m): (b"", b"") for m in np.frombuffer(row[2], np.int64).tolist()}
            return VoteState(int(row[0]), int(row[1]), live), members

        found = self._read(query)
        states = [state for state, _ in found if state is not None]
        if not states:
            return None
        # The last state read is the newest (the spill's, when writes went there); its members
        # may sit in either store, a later write overriding an earlier one.
        rows = _merged([members for _, members in found])
        state = states[-1]
        return VoteState(
            state.trained,
            state.next_member,
            {m: rows[m] for m in sorted(state.members) if m in rows},
        )

    def lookup_vote_index(
        self, settings: str, members: Iterable[int]
    ) -> tuple[bytes, dict[int, bytes]] | None:
        """The serialised vote index and the probes of ``members``; None when none is stored."""
        wanted = list(members)

        def query(db: sqlite3.Connection) -> tuple[bytes | None, dict[int, bytes]]:
            row = db.execute("SELECT data FROM vote_index WHERE settings=?", (settings,)).fetchone()
            probes: dict[int, bytes] = {}
            with closing(db.cursor()) as cur:
                for member in wanted:
                    found = cur.execute(
                        "SELECT probes FROM vote_members WHERE settings=? AND member=?",
                        (settings, member),
                    ).fetchone()
                    if found is not None:
                        probes[member] = bytes(found[0])
            return (bytes(row[0]) if row is not None else None), probes

        found = self._read(query)
        data = [d for d, _ in found if d is not None]
        if not data or not data[-1]:
            return None
        return data[-1], _merged([p for _, p in found])

    def store_vote_state(self, settings: str, write: VoteWrite) -> None:
        """Write one update of the vote index's state (VoteWrite) in one transaction."""
        rows = [(settings, r.member, r.identity, r.neighbours, r.probes) for r in write.rows]
        live = np.asarray(write.live, dtype=np.int64).tobytes()

        def statements(db: sqlite3.Connection) -> None:
            if write.rebuilt:
                db.execute("DELETE FROM vote_members WHERE settings=?", (settings,))
            elif _vote_base(db, settings) != write.base:
                for table in ("vote_state", "vote_index", "vote_members"):
                    db.execute(f"DELETE FROM {table} WHERE settings=?", (settings,))
                return
            else:
                # Members that left: their rows would only be skipped, so they go now.
                kept = set(write.live)
                gone = [
                    (settings, m)
                    for (m,) in db.execute(
                        "SELECT member FROM vote_members WHERE settings=?", (settings,)
                    ).fetchall()
                    if m not in kept
                ]
                db.executemany("DELETE FROM vote_members WHERE settings=? AND member=?", gone)
            db.executemany("INSERT OR REPLACE INTO vote_members VALUES (?, ?, ?, ?, ?)", rows)
            db.execute(
                "INSERT OR REPLACE INTO vote_state VALUES (?, ?, ?, ?)",
                (settings, write.trained, write.next_member, live),
            )
            if write.index is not None:
                db.execute(
                    "INSERT OR REPLACE INTO vote_index VALUES (?, ?)", (settings, write.index)
                )

        self._write(statements)

    def count(self) -> int:
        def query(db: sqlite3.Connection) -> int:
            return int(db.execute("SELECT COUNT(*) FROM files").fetchone()[0])

        return self._read(query)[0]


def _vote_base(db: sqlite3.Connection, settings: str) -> int | None:
    row = db.execute("SELECT next_member FROM vote_state WHERE settings=?", (settings,)).fetchone()
    return int(row[0]) if row is not None else None


def _merged(found: list[dict[_K, _T]]) -> dict[_K, _T]:
    merged: dict[_K, _T] = {}
    for part in found:
        merged.update(part)
    return merged


def _image_from_row(
    row: tuple[str | None, bytes | None, str | None, str | None, str | None],
) -> CachedImage:
    info_json, hashes, error, fingerprint, pixel_digest = row
    info = ImageInfo(**json.loads(info_json)) if info_json else None
    arr = np.frombuffer(hashes, dtype=np.uint8).reshape(HASH_SHAPE) if hashes else None
    return CachedImage(info, arr, error, fingerprint, pixel_digest)
