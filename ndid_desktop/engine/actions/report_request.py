"""Reading a report file as a request to trash: what a person (or a program) may have edited.

Only the groups' member lists, their keepers and added reference flags are taken from the
report, as choices; everything else comes from the scan record. A report that is malformed,
foreign, or edited to ask for more than the scan found is refused with a sentence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ndid_desktop.engine.actions.plan import GroupChoice, PlanRejected
from ndid_desktop.engine.actions.scan_record import ScanRecord, load_record


class ReportError(ValueError):
    """The report cannot be used; the message says why."""


@dataclass(frozen=True)
class TrashRequest:
    record: ScanRecord
    choices: tuple[GroupChoice, ...]
    roots: tuple[str, ...] | None  # the report's own folder list, if it has one (may narrow)


def read_report(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"report not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read the report {path}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReportError(f"{path} is not a JSON report ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path} is not an NDID report (expected a JSON object)")
    return data


def trash_request(data: dict[str, Any], records: Path) -> TrashRequest:
    """The choices a report makes, checked against the record of the scan that wrote it."""
    groups, stats = data.get("groups"), data.get("stats")
    if not isinstance(groups, list) or not isinstance(stats, dict):
        raise ReportError("not an NDID scan report: it needs a 'groups' list and a 'stats' object")
    record = load_record(records, stats.get("scan_id"))
    choices = tuple(_choice(number, g, record) for number, g in enumerate(groups, start=1))
    roots = stats.get("roots")
    if roots is not None and not (
        isinstance(roots, list) and all(isinstance(r, str) for r in roots)
    ):
        raise ReportError("the report's 'stats.roots' must be a list of folder paths")
    return TrashRequest(record, choices, tuple(roots) if roots is not None else None)


def _choice(number: int, group: Any, record: ScanRecord) -> GroupChoice:
    if not isinstance(group, dict):
        raise ReportError(f"group {number} of the report is not an object")
    keep, members = group.get("keep"), group.get("members")
    if not isinstance(keep, str) or not isinstance(members, list):
        raise ReportError(f"group {number} of the report needs a 'keep' path and a 'members' list")
    paths: list[str] = []
    reference: set[str] = set()
    overlapping: set[str] = set()
    for member in members:
        path = member.get("path") if isinstance(member, dict) else None
        if not isinstance(path, str):
            raise ReportError(f"a member of group {number} has no 'path'")
        paths.append(path)
        flag = member.get("reference", False)
        recorded = record.find(path)
        # A file the keeper only overlaps (neither holds the other) is never trashed either.
        if member.get("overlapping") is True and path != keep:
            overlapping.add(path)
        elif flag is True:
            reference.add(path)
        elif recorded is not None and recorded.reference:
            raise PlanRejected(
                f"{path} is in a reference folder of the scan; the report cannot clear that: "
                "refused"
            )
    return GroupChoice(tuple(paths), keep, frozenset(reference), frozenset(overlapping))
