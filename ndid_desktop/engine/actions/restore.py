"""Finding a trashed file and putting it back, in the freedesktop.org trash (Linux desktops).

send2trash moves a file either to the home trash or, for a file on another drive, to that
drive's ``.Trash-$UID`` (or ``.Trash/$UID``); each keeps an ``info/NAME.trashinfo`` whose
``Path=`` is the file's original path (relative to the drive for a drive's own trash).
Elsewhere, restoring is left to the system's Trash/Recycle Bin, and NDID says so.
"""

from __future__ import annotations

import os
import sys
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrashedItem:
    stored: Path  # the file inside the trash
    info: Path  # its .trashinfo
    original: str  # where it was


def home_trash() -> Path:
    home = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return home / "Trash"


def trash_dirs_for(path: str) -> list[Path]:
    """The trash folders a file at ``path`` may have gone to."""
    dirs = [home_trash()]
    mount = _mount_point(os.path.dirname(os.path.abspath(path)))
    if mount is not None:
        uid = os.getuid() if hasattr(os, "getuid") else 0
        dirs += [mount / f".Trash-{uid}", mount / ".Trash" / str(uid)]
    return dirs


def find_in_trash(path: str, trash_dirs: Sequence[Path] | None = None) -> TrashedItem | None:
    """The newest trashed item that came from ``path`` (compared as absolute, canonical paths)."""
    wanted = {os.path.abspath(path), os.path.realpath(path)}
    for folder in trash_dirs if trash_dirs is not None else trash_dirs_for(path):
        for item in sorted(_items(folder), key=_deleted_order, reverse=True):
            if item.original in wanted and item.stored.exists():
                return item
    return None


def restore(path: str, trash_dirs: Sequence[Path] | None = None) -> str:
    """Move a trashed file back where it was; returns a sentence saying what happened.

    The file goes back only to the very place it came from: not over another file, and not
    through a folder that has since become a link to somewhere else."""
    if not sys.platform.startswith("linux") and trash_dirs is None:
        return f"restore {path} from the system Trash/Recycle Bin: NDID cannot reach it here"
    item = find_in_trash(os.path.abspath(os.path.expanduser(path)), trash_dirs)
    if item is None:
        return f"not restored: {path} is not in the trash (emptied, or restored already?)"
    target = item.original
    if os.path.lexists(target):
        return f"not restored: a file already exists at {target}"
    folder = os.path.dirname(target)
    if os.path.realpath(folder) != folder:
        return (
            f"not restored: its folder {folder} now leads somewhere else (a link); the file is "
            f"still in the trash as {item.stored}"
        )
    try:
        os.makedirs(folder, exist_ok=True)
        os.replace(item.stored, target)
    except OSError as exc:
        return f"not restored: {exc.strerror or exc} ({target}); the file is still in the trash"
    item.info.unlink(missing_ok=True)
    return f"restored {target}"


def _items(folder: Path) -> Iterator[TrashedItem]:
    info_dir, files_dir = folder / "info", folder / "files"
    if not info_dir.is_dir():
        return
    # Paths may be relative to the trash's top folder: the drive for a drive's own trash
    # (".Trash-UID", ".Trash/UID"), the data folder for the home trash.
    top = folder.parent.parent if folder.parent.name == ".Trash" else folder.parent
    for info in info_dir.glob("*.trashinfo"):
        original = _trashinfo_path(info)
        if original is None:
            continue
        if not os.path.isabs(original):
            original = os.path.join(top, original)
        stored = files_dir / info.name.removesuffix(".trashinfo")
        yield TrashedItem(stored, info, os.path.normpath(original))


def _deleted_order(item: TrashedItem) -> float:
    try:
        return item.info.stat().st_mtime
    except OSError:
        return 0.0


def _trashinfo_path(info: Path) -> str | None:
    try:
        text = info.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Path="):
            return urllib.parse.unquote(line[len("Path=") :], errors="surrogateescape")
    return None


def _mount_point(folder: str) -> Path | None:
    current = os.path.realpath(folder)
    while not os.path.ismount(current):
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
    return None if current == os.path.realpath(os.sep) else Path(current)
