"""Stage 1: walk the chosen roots and list the image files in them."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from time import monotonic

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from ndid_desktop.engine.types import FileEntry, Skipped

# Folders that operating systems and NAS boxes create, which never hold the user's own photos.
SYSTEM_FOLDERS = frozenset(
    {"$RECYCLE.BIN", "System Volume Information", "@eaDir", "__MACOSX", "lost+found", "Thumbs"}
)


# How often the walk reports its count and looks at the cancel token: often enough that a walk of
# a big library (seconds) visibly counts up and stops promptly, rarely enough to cost nothing.
PULSE_INTERVAL_S = 0.1


class RootNotFoundError(ValueError):
    """A folder the user asked for does not exist or is not a folder."""


@dataclass(frozen=True)
class Discovery:
    files: tuple[FileEntry, ...]
    skipped: tuple[Skipped, ...]


def discover(
    roots: Iterable[Root],
    config: ScanConfig,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> Discovery:
    """List image files under ``roots``; reference roots are walked first so they own shared files.

    A file reachable twice (overlapping roots, symlinks, hard links) is listed once: two names for
    one file are not two copies of a picture, and trashing one would not free any space.

    It reports ``ProgressEvent("discover", found, 0, ...)`` when it starts and then while walking
    (total 0: the count is not known until the walk ends) at most every ``PULSE_INTERVAL_S``; the
    last event, when the walk is over, is ``(found, found)``: a finished stage, which progress
    displays never throttle away, so the final count is the one left on screen. It raises
    ``ScanCancelled`` within about ``PULSE_INTERVAL_S`` of ``cancel`` being set.
    """
    ordered = sorted(roots, key=lambda r: not r.reference)
    for root in ordered:
        if not os.path.isdir(root.path):
            raise RootNotFoundError(f"folder not found: {root.path}")
    seen_files: set[tuple[int, int]] = set()
    files: list[FileEntry] = []
    skipped: list[Skipped] = []
    pulse = _Pulse(progress, cancel, lambda: len(files))
    pulse.check()  # a scan cancelled before it started should not walk at all
    progress(ProgressEvent("discover", 0, 0, "looking for photos"))
    for root in ordered:
        walker = _Walker(root, config, skipped, pulse.tick)
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
    pulse.report(finished=True)
    return Discovery(files=tuple(files), skipped=tuple(skipped))


class _Pulse:
    """Throttles the walk's progress events and cancel checks by time, not by count: a folder
    of 50,000 photos and a tree of 50,000 non-image files must both report and stop promptly."""

    def __init__(
        self, progress: ProgressCallback, cancel: CancelToken | None, count: Callable[[], int]
    ) -> None:
        self.progress = progress
        self.cancel = cancel
        self.count = count
        self.reported = 0  # the start event said 0
        self.next_at = monotonic() + PULSE_INTERVAL_S

    def tick(self) -> None:
        """Called for every folder entry the walk looks at; acts only once per interval."""
        now = monotonic()
        if now < self.next_at:
            return
        self.next_at = now + PULSE_INTERVAL_S
        self.check()
        if self.count() != self.reported:  # nothing new (a folder of non-images): stay quiet
            self.report()

    def check(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def report(self, finished: bool = False) -> None:
        n = self.reported = self.count()
        message = f"{n} photo{'' if n == 1 else 's'} found"
        self.progress(ProgressEvent("discover", n, n if finished else 0, message))


class _Walker:
    def __init__(
        self,
        root: Root,
        config: ScanConfig,
        skipped: list[Skipped],
        tick: Callable[[], None],
    ) -> None:
        self.root = root
        self.config = config
        self.skipped = skipped
        self.tick = tick
        self.excluded = {os.path.normcase(os.path.abspath(p)) for p in root.excluded}
        self.visited_dirs: set[tuple[int, int]] = set()

    def walk(self) -> Iterator[tuple[str, os.stat_result]]:
        """Image files depth first, each folder's entries in name order.

        An explicit stack of folder listings rather than recursion: a tree hundreds of folders
        deep (generated, or a backup tool's nesting) must not end the scan in RecursionError."""
        listings: list[Iterator[os.DirEntry[str]]] = []
        self._enter(str(self.root.path), listings)
        while listings:
            self.tick()
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
