"""Stage 1: walk the chosen roots and list the image files in them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.types import FileEntry, Skipped

# Folders that operating systems and NAS boxes create, which never hold the user's own photos.
SYSTEM_FOLDERS = frozenset(
    {"$RECYCLE.BIN", "System Volume Information", "@eaDir", "__MACOSX", "lost+found", "Thumbs"}
)


class RootNotFoundError(ValueError):
    """A folder the user asked for does not exist or is not a folder."""


@dataclass(frozen=True)
class Discovery:
    files: tuple[FileEntry, ...]
    skipped: tuple[Skipped, ...]


def discover(roots: Iterable[Root], config: ScanConfig) -> Discovery:
    """List image files under ``roots``; reference roots are walked first so they own shared files.

    A file reachable twice (overlapping roots, symlinks, hard links) is listed once: two names for
    one file are not two copies of a picture, and trashing one would not free any space.
    """
    ordered = sorted(roots, key=lambda r: not r.reference)
    for root in ordered:
        if not os.path.isdir(root.path):
            raise RootNotFoundError(f"folder not found: {root.path}")
    seen_files: set[tuple[int, int]] = set()
    files: list[FileEntry] = []
    skipped: list[Skipped] = []
    for root in ordered:
        walker = _Walker(root, config, skipped)
        for entry, st in walker.walk():
            key = (st.st_dev, st.st_ino)
            if key in seen_files:
                continue
            seen_files.add(key)
            files.append(
                FileEntry(
                    path=entry,
                    root=str(root.path),
                    reference=root.reference,
                    size=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                )
            )
    return Discovery(files=tuple(files), skipped=tuple(skipped))


class _Walker:
    def __init__(self, root: Root, config: ScanConfig, skipped: list[Skipped]) -> None:
        self.root = root
        self.config = config
        self.skipped = skipped
        self.excluded = {os.path.normcase(os.path.abspath(p)) for p in root.excluded}
        self.visited_dirs: set[tuple[int, int]] = set()

    def walk(self) -> Iterator[tuple[str, os.stat_result]]:
        """Image files depth first, each folder's entries in name order.

        An explicit stack of folder listings rather than recursion: a tree hundreds of folders
        deep (generated, or a backup tool's nesting) must not end the scan in RecursionError."""
        listings: list[Iterator[os.DirEntry[str]]] = []
        self._enter(str(self.root.path), listings)
        while listings:
            entry = next(listings[-1], None)
            if entry is None:
                listings.pop()  # this folder is done: back to the one that holds it
            elif self.config.skip_hidden and _is_hidden(entry.name):
                continue
            elif _is_folder(entry):
                if self._should_walk(entry):
                    self._enter(entry.path, listings)
            else:
                found = self._image_file(entry)
                if found is not None:
                    yield found

    def _enter(self, folder: str, listings: list[Iterator[os.DirEntry[str]]]) -> None:
        """Pushes the sorted listing of ``folder``, unless it was walked already or cannot be
        read (then it is skipped with the reason)."""
        try:
            st = os.stat(folder)
        except OSError as exc:
            self.skipped.append(Skipped(folder, f"cannot open folder: {exc.strerror or exc}"))
            return
        if (st.st_dev, st.st_ino) in self.visited_dirs:
            return  # a symlink loop, or a folder linked twice: walk it once
        self.visited_dirs.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self.skipped.append(Skipped(folder, f"cannot list folder: {exc.strerror or exc}"))
            return
        listings.append(iter(entries))

    def _should_walk(self, folder: os.DirEntry[str]) -> bool:
        if folder.name in SYSTEM_FOLDERS:
            return False
        return os.path.normcase(os.path.abspath(folder.path)) not in self.excluded

    def _image_file(self, entry: os.DirEntry[str]) -> tuple[str, os.stat_result] | None:
        if Path(entry.name).suffix.lower() not in self.config.extensions:
            return None
        try:
            st = entry.stat(follow_symlinks=True)
        except OSError as exc:  # a dangling symlink, or the file vanished since the listing
            self.skipped.append(Skipped(entry.path, f"cannot read file: {exc.strerror or exc}"))
            return None
        if not stat.S_ISREG(st.st_mode):
            # A pipe, device or socket named like a picture: opening it could block or never
            # end, so it is listed and left alone.
            self.skipped.append(Skipped(entry.path, "not a regular file (a pipe, device or "
                                        "socket): left alone"))  # fmt: skip
            return None
        return entry.path, st


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return False


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("~$")
