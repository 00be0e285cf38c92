"""The trash plan: from the user's choices and the scan record, the files that may go.

The user's choices (from the GUI, or a report file) may only narrow what the scan found: drop
groups or members, pick another keeper among a group's members, mark more files as reference.
Anything that would widen it (a file the scan did not group, files of two groups put together,
a reference flag cleared, a relative path, a folder the scan did not cover) rejects the whole
request with a sentence: that is an edited or foreign report, not a choice.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ndid_desktop.engine.actions.checks import FileChecker, inside, same_file
from ndid_desktop.engine.actions.scan_record import RecordedFile, ScanRecord


class PlanRejected(ValueError):
    """The request asks for more than the scan found; nothing is planned."""


@dataclass(frozen=True)
class GroupChoice:
    """One group as the user wants it: its members and the one file to keep."""

    members: tuple[str, ...]
    keep: str
    reference: frozenset[str] = frozenset()  # more files to protect (never fewer than scanned)
    # Files the keeper only overlaps (neither holds all of the other): protected too, and
    # named as such when they are refused.
    overlapping: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PlannedFile:
    file: RecordedFile  # the file to move (its canonical path is what moves)
    keeper: RecordedFile  # the copy that must be there, unchanged, at the moment it moves


@dataclass(frozen=True)
class Refusal:
    path: str
    reason: str


@dataclass(frozen=True)
class TrashPlan:
    scan_id: str
    roots: tuple[str, ...]  # canonical: nothing outside them moves
    trash: tuple[PlannedFile, ...]
    refused: tuple[Refusal, ...]
    # The stats whose bytes the plan hashed, so that moving them need not read them again.
    hashed: Mapping[str, tuple[int, ...]] = field(default_factory=dict, compare=False)

    @property
    def bytes(self) -> int:
        return sum(p.file.size for p in self.trash)


@dataclass(frozen=True)
class _Resolved:
    members: tuple[RecordedFile, ...]
    keeper: RecordedFile
    protected: frozenset[str]  # canonical paths the user also marked as reference
    overlapping: frozenset[str] = frozenset()  # canonical paths the keeper only overlaps


def plan_trash(
    choices: Iterable[GroupChoice], record: ScanRecord, roots: Sequence[str] | None = None
) -> TrashPlan:
    """The files that may go, and for every other file of the chosen groups, why not.

    ``roots`` may narrow the scanned folders (a report's own list); a folder the scan did not
    cover rejects the request."""
    scope = _narrowed_roots(record, roots)
    resolved = [_resolve(choice, record) for choice in choices]
    # A file kept by any group is never trashed by another (two groups keeping each other's
    # file would otherwise remove both).
    keepers = {r.keeper.real for r in resolved}
    checker = FileChecker(scope)
    trash: dict[str, PlannedFile] = {}
    refused: list[Refusal] = []
    for group in resolved:
        keeper_problem = _keeper_problem(group.keeper, checker)
        for member in group.members:
            if member.real == group.keeper.real or member.real in trash:
                continue
            reason = keeper_problem or _member_problem(member, group, keepers, checker)
            if reason is None:
                trash[member.real] = PlannedFile(member, group.keeper)
            else:
                refused.append(Refusal(member.path, reason))
    return TrashPlan(
        record.scan_id, scope, tuple(trash.values()), tuple(refused), dict(checker.hashed)
    )


def _narrowed_roots(record: ScanRecord, roots: Sequence[str] | None) -> tuple[str, ...]:
    if roots is None:
        return record.roots
    relative = [r for r in roots if not os.path.isabs(r) or "\0" in r]
    if relative:
        raise PlanRejected(
            f"the report names a folder by a relative path ({relative[0]!r}): refused"
        )
    canonical = tuple(os.path.realpath(r) for r in roots)
    wider = [r for r in canonical if not inside(r, record.roots)]
    if wider:
        raise PlanRejected(
            f"the report names a folder the scan did not cover ({wider[0]}): refused"
        )
    return tuple(r for r in record.roots if inside(r, canonical)) or canonical


def _resolve(choice: GroupChoice, record: ScanRecord) -> _Resolved:
    members: dict[str, RecordedFile] = {}
    for path in choice.members:
        found = _recorded(path, record)
        members[found.real] = found
    if len({f.group for f in members.values()}) > 1:
        raise PlanRejected(
            f"the group of {choice.keep} puts together files that the scan found in different "
            "groups: refused"
        )
    keeper = _recorded(choice.keep, record)
    if keeper.real not in members:
        raise PlanRejected(f"the file to keep, {choice.keep}, is not one of its group's members")
    protected = frozenset(_recorded(p, record).real for p in choice.reference)
    overlapping = frozenset(_recorded(p, record).real for p in choice.overlapping)
    return _Resolved(tuple(members.values()), keeper, protected, overlapping)


def _recorded(path: str, record: ScanRecord) -> RecordedFile:
    if "\0" in path:
        raise PlanRejected(f"{path!r} contains a NUL character, which no file name can: refused")
    if not os.path.isabs(path):
        raise PlanRejected(
            f"{path!r} is a relative path; NDID acts only on absolute paths, never on paths "
            "read against the current folder"
        )
    found = record.find(path)
    if found is None:
        raise PlanRejected(f"{path} is not in any group of this scan: refused")
    return found


def _keeper_problem(keeper: RecordedFile, checker: FileChecker) -> str | None:
    problem = checker.problem(keeper)
    if problem is None:
        return None
    return (
        f"the file to keep ({keeper.path}) cannot be relied on: {problem}; "
        "nothing of this group moves"
    )


def _member_problem(
    member: RecordedFile, group: _Resolved, keepers: set[str], checker: FileChecker
) -> str | None:
    if member.reference:
        return "it is in a reference folder"
    if member.real in group.overlapping:
        return "it overlaps the file kept (neither holds all of the other), so both are kept"
    if member.real in group.protected:
        return "it is in a reference folder"
    if member.real in keepers:
        return "it is the file kept in another group"
    if same_file(member.real, group.keeper.real):
        return "it is another name for the file kept (a hard link): trashing it frees nothing"
    return checker.problem(member)
