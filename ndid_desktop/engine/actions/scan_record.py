"""What a scan saw, kept in the data folder: the authority a trash action is checked against.

A report is a file anyone can edit; the record is written by the scan itself, keyed by a scan
id that the report carries. Roots, reference flags, sizes and content fingerprints are read from
here, so an edited report can only narrow what is trashed, never widen it.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from ndid_desktop.engine.types import Member, ScanReport

RECORD_FORMAT = 1
KEEP_RECORDS = 30  # the newest scans a person may still act on; older ones are pruned
_SCAN_ID = re.compile(r"^[0-9a-f]{32}$")


class RecordError(ValueError):
    """The scan record is missing or unreadable; the message says what to do."""


@dataclass(frozen=True)
class RecordedFile:
    path: str  # as the scan reported it
    real: str  # the canonical path at scan time: what is checked and moved
    size: int
    mtime_ns: int
    fingerprint: str  # engine.fingerprint of the bytes the scan read
    reference: bool
    group: int  # index of the scan's group it belongs to
    # Which file it was (st_dev, st_ino): a path can come to name another file with the same
    # bytes (a copy put back, another disk mounted over the folder); that one is not the scan's.
    device: int = 0
    inode: int = 0


@dataclass(frozen=True)
class ScanRecord:
    scan_id: str
    created: float
    roots: tuple[str, ...]  # canonical scanned folders (reference folders included)
    files: tuple[RecordedFile, ...]  # every member of every group

    @cached_property
    def by_path(self) -> dict[str, RecordedFile]:
        return {f.path: f for f in self.files}

    @cached_property
    def by_real(self) -> dict[str, RecordedFile]:
        return {f.real: f for f in self.files}

    def find(self, path: str) -> RecordedFile | None:
        """The recorded file a path names: as reported, written another way (``a/./b``), or
        reached through links (compared as canonical paths, never as strings). A relative
        path names nothing: it would be read against whatever the current folder is."""
        if not os.path.isabs(path) or "\0" in path:
            return None
        return (
            self.by_path.get(path)
            or self.by_path.get(os.path.normpath(path))
            or self.by_real.get(os.path.realpath(path))
        )


def record_scan(report: ScanReport, folder: Path) -> ScanReport:
    """Write the record of a finished scan; returns the report carrying its scan id."""
    scan_id = uuid.uuid4().hex
    files = tuple(
        _recorded(m, number) for number, group in enumerate(report.groups) for m in group.members
    )
    roots = tuple(os.path.realpath(r) for r in report.stats.roots)
    record = ScanRecord(scan_id, time.time(), roots, files)
    _write_atomically(folder / f"{scan_id}.json", _to_json(record))
    _prune(folder)
    return replace(report, stats=replace(report.stats, scan_id=scan_id))


def _recorded(member: Member, group: int) -> RecordedFile:
    real = os.path.realpath(member.path)
    try:
        st = os.stat(real)
        device, inode = st.st_dev, st.st_ino
    except OSError:  # gone since it was read: no identity, so it can never be moved
        device, inode = 0, 0
    return RecordedFile(
        path=member.path,
        real=real,
        size=member.size,
        mtime_ns=member.mtime_ns,
        fingerprint=member.fingerprint,
        reference=member.reference,
        group=group,
        device=device,
        inode=inode,
    )


def load_record(folder: Path, scan_id: object) -> ScanRecord:
    if not isinstance(scan_id, str) or not _SCAN_ID.match(scan_id):
        # Also keeps a hand-written id such as "../x" from naming a file outside the folder.
        raise RecordError(
            "this report has no scan id (made by an older NDID, or edited): scan again, "
            "then act on the new report"
        )
    path = folder / f"{scan_id}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _from_json(data)
    except FileNotFoundError:
        raise RecordError(
            f"the record of scan {scan_id} is not in {folder} (another data folder, or an old "
            "scan): scan again, then act on the new report"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RecordError(
            f"the record of scan {scan_id} cannot be read ({exc}): scan again"
        ) from exc


def _to_json(record: ScanRecord) -> str:
    data: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "scan_id": record.scan_id,
        "created": record.created,
        "roots": list(record.roots),
        "files": [asdict(f) for f in record.files],
    }
    # ensure_ascii keeps undecodable file names (surrogate escapes) representable.
    return json.dumps(data, ensure_ascii=True)


def _from_json(data: Any) -> ScanRecord:
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        raise ValueError("not a scan record of this NDID version")
    files = tuple(RecordedFile(**f) for f in data["files"])
    for f in files:
        if not (isinstance(f.path, str) and isinstance(f.real, str) and isinstance(f.size, int)):
            raise ValueError("a file entry has the wrong types")
    return ScanRecord(
        scan_id=str(data["scan_id"]),
        created=float(data["created"]),
        roots=tuple(str(r) for r in data["roots"]),
        files=files,
    )


def _write_atomically(path: Path, text: str) -> None:
    """Either the whole record is there or none of it (a full disk leaves no half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _prune(folder: Path) -> None:
    records = sorted(folder.glob("*.json"), key=_age, reverse=True)
    for old in records[KEEP_RECORDS:]:
        old.unlink(missing_ok=True)


def _age(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # pruned meanwhile by another scan
        return 0.0
