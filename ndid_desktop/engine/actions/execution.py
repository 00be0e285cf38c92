"""Carrying out a trash plan, one file at a time, each checked at the moment it moves.

A plan is checked when it is made, but time passes before the user confirms and between files:
a keeper may be deleted, replaced, edited or turned into a link; another NDID window may be
trashing too. So, holding the data folder's action lock, every file is checked again just
before it moves, together with its keeper, and its journal intent is on disk before the move.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ndid_desktop.engine.actions.checks import FileChecker, same_file
from ndid_desktop.engine.actions.journal import LOCK_WAIT_SECONDS, Journal, TrashLocator
from ndid_desktop.engine.actions.lock import ActionLockError, LockHold
from ndid_desktop.engine.actions.plan import PlannedFile, TrashPlan
from ndid_desktop.engine.actions.restore import find_in_trash

TrashFunction = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    path: str  # as the scan reported it
    status: str  # "trashed" | "skipped" (a check failed at the moment) | "error"
    message: str = ""


def default_trash() -> TrashFunction:
    from send2trash import send2trash

    return lambda path: send2trash(path)


def default_locator() -> TrashLocator:
    def locate(path: str) -> Path | None:
        item = find_in_trash(path)
        return item.stored if item is not None else None

    return locate


def execute(
    plan: TrashPlan,
    journal: Journal,
    trash: TrashFunction | None = None,
    locate: TrashLocator | None = None,
    wait: float = LOCK_WAIT_SECONDS,
) -> list[Outcome]:
    """Move the plan's files to the trash; one file's failure never stops the others, but a
    journal that cannot be written, or a lock that was lost, stops everything (nothing moves
    unrecorded or beside another action). Raises ActionLockError when the locks cannot be had."""
    trash = trash or default_trash()
    with journal.exclusive(wait) as hold:
        journal.reconcile(locate or default_locator())
        run = _Run(plan, journal, trash, hold)
        for refusal in plan.refused:
            run.record_refusal(refusal.path, refusal.reason)
        return run.all()


class _Run:
    def __init__(
        self, plan: TrashPlan, journal: Journal, trash: TrashFunction, hold: LockHold
    ) -> None:
        self.hold = hold
        self.stopped = ""  # why nothing more may move in this run
        self.plan = plan
        self.journal = journal
        self.trash = trash
        self.batch = uuid.uuid4().hex
        self.checker = FileChecker(plan.roots, dict(plan.hashed))
        self.moved: set[str] = set()

    def all(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for planned in self.plan.trash:
            if self.stopped:
                outcomes.append(Outcome(planned.file.path, "skipped", f"not moved: {self.stopped}"))
            else:
                outcomes.append(self.one(planned))
        return outcomes

    def one(self, planned: PlannedFile) -> Outcome:
        problem = self.problem(planned)
        if problem is not None:
            self.record_refusal(planned.file.real, problem)
            return Outcome(planned.file.path, "skipped", problem)
        op = uuid.uuid4().hex
        try:
            self.hold.verify()
        except ActionLockError as exc:
            self.stopped = str(exc)
            return Outcome(planned.file.path, "error", self.stopped)
        try:
            self.journal.append(self._intent(planned, op))
        except OSError as exc:
            self.stopped = f"{JOURNAL_FAILED} ({exc.strerror or exc})"
            return Outcome(planned.file.path, "error", self.stopped)
        status, message = self._move(planned.file.real)
        try:
            self.journal.append({"action": "trash", "phase": "done", "op": op,
                                 "status": status, "message": message})  # fmt: skip
        except OSError:
            message = (message + "; " if message else "") + "its journal line will be completed "
            message += "at the next action"
        return Outcome(planned.file.path, status, message)

    def problem(self, planned: PlannedFile) -> str | None:
        """The invariants, at this moment: the keeper is there, real, inside, unchanged and not
        moved by this run; the file itself is the one the scan read."""
        keeper = planned.keeper
        if keeper.real in self.moved or keeper.real == planned.file.real:
            return "its keeper is being moved too; nothing moved"
        keeper_problem = self.checker.problem(keeper)
        if keeper_problem is not None:
            return f"the file to keep ({keeper.path}) cannot be relied on: {keeper_problem}"
        if same_file(planned.file.real, keeper.real):
            return "it is now the same file as the one kept"
        return self.checker.problem(planned.file)

    def _move(self, real: str) -> tuple[str, str]:
        try:
            self.trash(real)
        except FileNotFoundError as exc:
            if os.path.lexists(real):  # the trash itself is missing (e.g. no home folder)
                return "error", f"the trash cannot be reached ({exc.strerror or exc})"
            return "error", "it vanished just before the move"
        except OSError as exc:
            return "error", str(exc)
        self.moved.add(real)
        return "trashed", ""

    def _intent(self, planned: PlannedFile, op: str) -> dict[str, object]:
        f = planned.file
        return {"action": "trash", "phase": "intent", "op": op, "batch": self.batch,
                "scan_id": self.plan.scan_id, "path": f.real, "shown": f.path, "size": f.size,
                "fingerprint": f.fingerprint, "keeper": planned.keeper.real}  # fmt: skip

    def record_refusal(self, path: str, reason: str) -> None:
        with contextlib.suppress(OSError):  # nothing moved, so a missing line loses nothing
            self.journal.append({"action": "refused", "batch": self.batch, "path": path,
                                 "status": "kept", "message": reason})  # fmt: skip


JOURNAL_FAILED = "the journal cannot be written, so nothing more moves"
