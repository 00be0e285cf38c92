"""One action on photos at a time, across processes: the data folder's lock and a user-wide one.

Two runs that check each other's keeper before either moves anything would each find it there
and each move a copy: both copies gone. So every run holds every lock it is given while it
checks and moves. The data folder's lock alone is not enough (the app and a script may use two
data folders), so callers also pass a lock in the user's own state folder. A lock file that is
deleted while held (a cleaning tool) would let a second run take a fresh one, so a holder checks,
before each move, that the file it locked is still the one at that path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout


class ActionLockError(RuntimeError):
    """The lock cannot be taken or was lost; nothing (more) moves."""


class ActionBusyError(ActionLockError):
    """Another NDID action on photos is running."""


@dataclass
class LockHold:
    """The locks held by one action, and the files they are on."""

    held: list[tuple[Path, int]] = field(default_factory=list)  # (path, locked descriptor)

    def verify(self) -> None:
        """Raise unless every lock file is still the very file this action locked."""
        for path, fd in self.held:
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except OSError:
                same = False
            if not same:
                raise ActionLockError(
                    f"the lock file {path} was removed or replaced while NDID was moving files; "
                    "it stopped so that no other action could run at the same time"
                )


@contextmanager
def hold_locks(paths: Sequence[Path], wait: float) -> Iterator[LockHold]:
    hold = LockHold()
    with ExitStack() as stack:
        for path in paths:
            stack.enter_context(_one_lock(path, wait, hold))
        yield hold


@contextmanager
def _one_lock(path: Path, wait: float, hold: LockHold) -> Iterator[None]:
    descriptors: list[int] = []
    lock = FileLock(str(path), on_acquired=descriptors.append, preserve_lock_file=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=wait)
    except Timeout:
        raise ActionBusyError(
            "another NDID action on photos is running (in another window or terminal); "
            "try again when it has finished"
        ) from None
    except OSError as exc:
        raise ActionLockError(
            f"cannot take the action lock {path} ({exc.strerror or exc}); nothing was moved"
        ) from None
    try:
        if descriptors:
            hold.held.append((path, descriptors[-1]))
        yield
    finally:
        lock.release()
