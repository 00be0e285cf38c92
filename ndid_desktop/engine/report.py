"""The scan report as JSON and CSV: the contract between the engine, the CLI and other tools."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ndid_desktop.engine.types import Group, ImageInfo, Member, ScanReport, ScanStats, Skipped

REPORT_FORMAT = 1


def _member(m: Member) -> dict[str, Any]:
    return {
        "path": m.path,
        "probability": m.probability,
        "reason": m.reason,
        "reference": m.reference,
        "size": m.size,
        "mtime_ns": m.mtime_ns,
        "fingerprint": m.fingerprint,
        "overlapping": m.overlapping,
        "info": asdict(m.info),
        "signals": m.signals,
    }


def to_json(report: ScanReport) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "groups": [
            {"keep": g.keep, "reason": g.reason, "members": [_member(m) for m in g.members]}
            for g in report.groups
        ],
        "skipped": [asdict(s) for s in report.skipped],
        "stats": asdict(report.stats),
    }


def write_json(report: ScanReport, path: Path) -> None:
    # ensure_ascii keeps undecodable file names (surrogate escapes) representable in JSON.
    text = json.dumps(to_json(report), indent=2, ensure_ascii=True) + "\n"
    with _replacing(path) as partial:
        partial.write_text(text, "utf-8")


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A sibling to write instead of ``path``, moved over it once complete: a full disk or a
    crash leaves the previous report whole instead of half a new one, and no partial file."""
    if path.exists() and not path.is_file():  # /dev/stdout, a named pipe: write in place
        yield path
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield partial
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.filename not in (None, str(partial)):
            raise
        # A failed write() names no file, and the partial's name means nothing to the user.
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def from_json(data: dict[str, Any]) -> ScanReport:
    """Read a report back (the GUI can open a saved scan; tests check the round trip)."""
    groups = tuple(
        Group(
            keep=g["keep"],
            reason=g["reason"],
            members=tuple(
                Member(
                    path=m["path"],
                    probability=m["probability"],
                    reason=m["reason"],
                    reference=m["reference"],
                    size=m["size"],
                    info=ImageInfo(**m["info"]),
                    signals=m.get("signals", {}),
                    mtime_ns=m.get("mtime_ns", 0),
                    fingerprint=m.get("fingerprint", ""),
                    overlapping=bool(m.get("overlapping", False)),
                )
                for m in g["members"]
            ),
        )
        for g in data["groups"]
    )
    stats = dict(data["stats"])
    stats["gate_band"] = tuple(stats["gate_band"])
    for key in ("warnings", "roots"):
        stats[key] = tuple(stats.get(key, ()))
    return ScanReport(
        groups=groups,
        skipped=tuple(Skipped(**s) for s in data["skipped"]),
        stats=ScanStats(**stats),
    )


CSV_COLUMNS = (
    "group",
    "role",
    "path",
    "probability",
    "width",
    "height",
    "format",
    "size",
    "reference",
    "reason",
)


def write_csv(report: ScanReport, path: Path) -> None:
    """One row per file in a group; the keeper's role is 'keep', the others 'duplicate'."""
    with (
        _replacing(path) as partial,
        partial.open("w", newline="", encoding="utf-8", errors="surrogateescape") as f,
    ):
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for number, group in enumerate(report.groups, start=1):
            for i, m in enumerate(group.members):
                writer.writerow(
                    [
                        number,
                        "keep" if i == 0 else "duplicate",
                        m.path,
                        f"{m.probability:.4f}",
                        m.info.width,
                        m.info.height,
                        m.info.format,
                        m.size,
                        m.reference,
                        m.reason,
                    ]
                )
