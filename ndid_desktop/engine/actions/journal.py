"""The journal: a write-ahead, append-only JSON-lines record of every action on photos.

Before a file moves, an "intent" line is written and flushed to disk; after, a "done" line with
the outcome. A run that was interrupted in between leaves an intent with no outcome, which the
next action reconciles with what is really on disk and in the trash. A damaged line (bad bytes,
wrong types, a line cut by a crash) is skipped and counted; reading never fails.
"""

from __future__ import annotations

import json
import math
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ndid_desktop.engine.actions.lock import LockHold, hold_locks

JOURNAL_VERSION = 2
LOCK_WAIT_SECONDS = 30.0
_LATEST_TIME = 1e11  # year 5138: a later "time" is a damaged line, not a date

# Finds a trashed file by its original path; None when it is not (or cannot be seen) there.
TrashLocator = Callable[[str], Path | None]


@dataclass(frozen=True)
class JournalEntry:
    time: float
    action: str  # "trash" | "refused" | "restore"
    path: str
    status: str  # trash: "trashed" | "error" | "missing" | "not-moved" | "interrupted"
    message: str = ""
    op: str = ""  # ties a trash intent to its outcome


@dataclass(frozen=True)
class JournalReading:
    entries: tuple[JournalEntry, ...]
    damaged: int  # lines that could not be read and were skipped
    problem: str = ""  # why the journal could not be read at all, if it could not

    @property
    def interrupted(self) -> tuple[JournalEntry, ...]:
        return tuple(e for e in self.entries if e.status == "interrupted")


class Journal:
    """Kept in the user's data folder, beside the lock that makes actions one at a time.

    ``user_locks`` are held too (a lock in the user's own state folder), so that runs with two
    different data folders still never act at the same time."""

    def __init__(self, path: Path, user_locks: Sequence[Path] = ()) -> None:
        self.path = path
        self.locks = (*user_locks, path.with_name("actions.lock"))

    @contextmanager
    def exclusive(self, wait: float = LOCK_WAIT_SECONDS) -> Iterator[LockHold]:
        """Holds every action lock for one action (raises ActionLockError / ActionBusyError)."""
        with hold_locks(self.locks, wait) as hold:
            yield hold

    def append(self, record: Mapping[str, object]) -> None:
        """Write one line and make it durable before returning. Raises OSError (a full disk,
        a journal that is not a file): the caller must then not act."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"v": JOURNAL_VERSION, "time": time.time(), **record}, ensure_ascii=True)
        if self.path.exists() and not self.path.is_file():
            raise OSError(f"{self.path} is not a regular file")
        with self.path.open("a+b") as f:
            end = f.seek(0, os.SEEK_END)
            # A line cut short (a crash, a full disk) must not swallow the next one.
            f.seek(max(0, end - 1))
            cut = end > 0 and f.read(1) != b"\n"
            try:
                f.write((b"\n" if cut else b"") + line.encode("ascii") + b"\n")
                f.flush()
                os.fsync(f.fileno())
            except OSError:
                f.truncate(end)  # leave no half line behind
                raise

    def read(self) -> JournalReading:
        try:
            # Checked first: a journal linked to a device (/dev/zero) would be read forever.
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                return JournalReading((), 0, f"{self.path} is not a regular file")
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return JournalReading((), 0)
        except OSError as exc:
            return JournalReading((), 0, f"{self.path} cannot be read ({exc.strerror or exc})")
        entries: dict[str, JournalEntry] = {}
        damaged = 0
        for number, line in enumerate(raw.splitlines()):
            if not line.strip():
                continue
            parsed = _parse(line)
            if parsed is None:
                damaged += 1
                continue
            key, entry, outcome = parsed
            if outcome and key in entries:
                first = entries[key]
                entries[key] = replace(first, status=entry.status, message=entry.message)
            elif not outcome:
                entries[key or f"line-{number}"] = entry
            else:
                damaged += 1  # an outcome whose intent line was lost
        return JournalReading(tuple(entries.values()), damaged)

    def entries(self) -> tuple[JournalEntry, ...]:
        return self.read().entries

    def reconcile(self, locate: TrashLocator) -> list[JournalEntry]:
        """Close every interrupted trash intent with what is really the case; call it while
        holding ``exclusive()`` so that no running action's intents are taken for dead ones."""
        closed = []
        for entry in self.read().interrupted:
            status, message = _what_happened(entry.path, locate)
            self.append({"action": "trash", "phase": "done", "op": entry.op, "status": status,
                         "message": message})  # fmt: skip
            closed.append(replace(entry, status=status, message=message))
        return closed


def _what_happened(path: str, locate: TrashLocator) -> tuple[str, str]:
    if os.path.lexists(path):
        return "not-moved", "an interrupted run stopped before moving it; it is still in place"
    if locate(path) is not None:
        return "trashed", "an interrupted run moved it to the trash before it could say so"
    return "missing", "an interrupted run left it neither in place nor in the trash NDID can see"


def _parse(line: bytes) -> tuple[str, JournalEntry, bool] | None:
    """(key, entry, is_outcome) for a well-formed line, None for a damaged one."""
    try:
        data: Any = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    action, when = data.get("action"), data.get("time", 0.0)
    op, phase = data.get("op", ""), data.get("phase")
    if not isinstance(action, str) or not isinstance(op, str) or not _is_date(when):
        return None
    if phase == "done":
        status, message = data.get("status"), data.get("message", "")
        if not isinstance(status, str) or not isinstance(message, str) or not op:
            return None
        return op, JournalEntry(float(when), action, "", status, message, op), True
    path, message = data.get("path"), data.get("message", "")
    if not isinstance(path, str) or not isinstance(message, str) or "\0" in path:
        return None
    # Version 1 lines carried their outcome on the line itself.
    status = data.get("status", "interrupted" if phase == "intent" else "")
    if not isinstance(status, str):
        return None
    return op, JournalEntry(float(when), action, path, status, message, op), False


def _is_date(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value < _LATEST_TIME
    )
