"""Helpers for the trash tests: files, a scan record made by the real record writer, a fake trash.

Files go through a fake trash: the test machine's real trash is never touched."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ndid_desktop.engine.actions import ScanRecord, load_record, record_scan
from ndid_desktop.engine.files.fingerprint import fingerprint_file
from ndid_desktop.engine.report import to_json
from ndid_desktop.engine.types import Group, ImageInfo, Member, ScanReport, ScanStats

INFO = ImageInfo(width=640, height=480, format="JPEG")


def photo(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def member(path: Path, reference: bool = False) -> Member:
    st = path.stat()
    return Member(
        path=str(path),
        probability=1.0,
        reason="",
        reference=reference,
        size=st.st_size,
        info=INFO,
        mtime_ns=st.st_mtime_ns,
        fingerprint=fingerprint_file(path),
    )


def stats(roots: Sequence[Path]) -> ScanStats:
    return ScanStats(
        files_found=0, images_used=0, skipped=0, decoded=0, from_cache=0, candidate_pairs=0,
        gated_pairs=0, verified_pairs=0, duplicate_pairs=0, groups=0, model_set="fast",
        encoder=None, threshold=0.5, gate_band=(0.1, 0.9), seconds={},
        roots=tuple(str(r) for r in roots),
    )  # fmt: skip


@dataclass(frozen=True)
class Scanned:
    report: ScanReport
    record: ScanRecord
    records: Path  # the data folder's records folder

    def report_json(self) -> dict[str, object]:
        return json.loads(json.dumps(to_json(self.report)))


def scanned(
    records: Path,
    groups: Sequence[Sequence[Path]],
    roots: Sequence[Path],
    reference: Sequence[Path] = (),
) -> Scanned:
    """A scan's report and record, as the pipeline writes them: the first file of each group
    is its keeper."""
    refs = {str(p) for p in reference}
    report_groups = tuple(
        Group(
            keep=str(files[0]),
            reason="",
            members=tuple(member(p, str(p) in refs) for p in files),
        )
        for files in groups
    )
    report = record_scan(ScanReport(report_groups, (), stats(roots)), records)
    return Scanned(report, load_record(records, report.stats.scan_id), records)


class FakeTrash:
    """Moves files into a folder of its own, like a trash would, and can find them again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stored: dict[str, Path] = {}

    def __call__(self, path: str) -> None:
        if not os.path.lexists(path):
            raise FileNotFoundError(path)
        target = self.folder / f"{len(self.stored)}-{os.path.basename(path)}"
        shutil.move(path, target)
        self.stored[path] = target

    def locate(self, path: str) -> Path | None:
        stored = self.stored.get(path)
        return stored if stored is not None and stored.exists() else None
