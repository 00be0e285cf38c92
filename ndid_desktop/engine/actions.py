"""Acting on photos: plan, check, trash, journal, restore.

Nothing here runs without the user's confirmation upstream (the CLI asks, the GUI shows a
dialog); and whatever a caller asks, the plan refuses to trash every copy of a picture, a file
in a reference folder, a file outside the scanned folders, or a file that changed since it was
scanned. Each file gets its own outcome; one failure never stops the batch. Every action is
appended to a journal, from which files can be restored where the platform's trash allows.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

TrashFunction = Callable[[str], None]


@dataclass(frozen=True)
class FileState:
    """A file as the scan saw it."""

    path: str
    size: int
    mtime_ns: int
    reference: bool = False


@dataclass(frozen=True)
class GroupChoice:
    """One group and the files the user wants to keep; every other member is to be trashed."""

    members: tuple[FileState, ...]
    keep: frozenset[str]


@dataclass(frozen=True)
class Refusal:
    path: str
    reason: str


@dataclass(frozen=True)
class DeletionPlan:
    trash: tuple[FileState, ...]
    refused: tuple[Refusal, ...]

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.trash)


@dataclass(frozen=True)
class Outcome:
    path: str
    status: str  # "trashed" | "missing" | "error"
    message: str = ""


def _inside(path: str, roots: Sequence[str]) -> bool:
    real = os.path.realpath(path)
    for root in roots:
        base = os.path.realpath(root)
        try:
            if os.path.commonpath([real, base]) == base:
                return True
        except ValueError:  # different drives on Windows
            continue
    return False


def _changed(state: FileState) -> str | None:
    try:
        st = os.stat(state.path)
    except FileNotFoundError:
        return "it is no longer there"
    except OSError as exc:
        return f"it cannot be checked ({exc.strerror or exc})"
    if st.st_size != state.size or st.st_mtime_ns != state.mtime_ns:
        return "it changed since the scan"
    return None


def plan_deletion(choices: Iterable[GroupChoice], roots: Sequence[str]) -> DeletionPlan:
    """The files that may go, and for every file that may not, the reason."""
    trash: list[FileState] = []
    refused: list[Refusal] = []
    for choice in choices:
        kept = [m for m in choice.members if m.path in choice.keep]
        candidates = [m for m in choice.members if m.path not in choice.keep]
        if not kept:
            refused += [
                Refusal(m.path, "every copy of this picture would go; keep one") for m in candidates
            ]
            continue
        survivors = [k for k in kept if _changed(k) is None]
        if not survivors:
            refused += [
                Refusal(m.path, "the file to keep is missing or changed; rescan first")
                for m in candidates
            ]
            continue
        for m in candidates:
            reason = _refusal(m, roots)
            if reason is None:
                trash.append(m)
            else:
                refused.append(Refusal(m.path, reason))
    return DeletionPlan(tuple(trash), tuple(refused))


def _refusal(state: FileState, roots: Sequence[str]) -> str | None:
    if state.reference:
        return "it is in a reference folder"
    if not _inside(state.path, roots):
        return "it is outside the scanned folders"
    return _changed(state)


def default_trash() -> TrashFunction:
    from send2trash import send2trash

    return lambda path: send2trash(path)


class Journal:
    """An append-only JSON-lines record of every action, kept in the user's data folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, ensure_ascii=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def entries(self) -> list[dict[str, object]]:
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash: the rest is still readable
        return out


def execute(
    plan: DeletionPlan, journal: Journal, trash: TrashFunction | None = None
) -> list[Outcome]:
    """Trash the planned files one by one, journalling each outcome."""
    trash = trash or default_trash()
    batch = f"{time.time():.6f}"
    outcomes: list[Outcome] = []
    for state in plan.trash:
        outcome = _trash_one(state, trash)
        outcomes.append(outcome)
        journal.append({"action": "trash", "batch": batch, "time": time.time(),
                        **asdict(state), "status": outcome.status,
                        "message": outcome.message})  # fmt: skip
    for refusal in plan.refused:
        journal.append({"action": "refused", "batch": batch, "time": time.time(),
                        "path": refusal.path, "message": refusal.reason})  # fmt: skip
    return outcomes


def _trash_one(state: FileState, trash: TrashFunction) -> Outcome:
    if _changed(state) is not None:  # checked again: time passed since the plan
        return Outcome(state.path, "missing", _changed(state) or "")
    try:
        trash(state.path)
    except FileNotFoundError:
        return Outcome(state.path, "missing", "it is no longer there")
    except OSError as exc:
        return Outcome(state.path, "error", str(exc))
    return Outcome(state.path, "trashed")


def freedesktop_trash_dirs() -> list[Path]:
    home = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return [home / "Trash"]


def restore(path: str, trash_dirs: Sequence[Path] | None = None) -> str:
    """Move a trashed file back where it was; returns a sentence saying what happened.

    Works with the freedesktop.org trash (Linux desktops); elsewhere it says plainly to use the
    system's own Recycle Bin or Trash, where the file is."""
    if not sys.platform.startswith("linux") and trash_dirs is None:
        return f"restore {path} from the system Trash/Recycle Bin: NDID cannot reach it here"
    if os.path.exists(path):
        return f"not restored: a file already exists at {path}"
    for trash_dir in trash_dirs or freedesktop_trash_dirs():
        info_dir, files_dir = trash_dir / "info", trash_dir / "files"
        if not info_dir.is_dir():
            continue
        for info in sorted(
            info_dir.glob("*.trashinfo"), key=lambda p: p.stat().st_mtime, reverse=True
        ):
            if _trashinfo_path(info) == path:
                stored = files_dir / info.name.removesuffix(".trashinfo")
                if not stored.exists():
                    continue
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                os.replace(stored, path)
                info.unlink()
                return f"restored {path}"
    return f"not restored: {path} is not in the trash (emptied, or restored already?)"


def _trashinfo_path(info: Path) -> str | None:
    for line in info.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Path="):
            return urllib.parse.unquote(line[len("Path=") :], errors="surrogateescape")
    return None
