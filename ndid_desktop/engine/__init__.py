"""The NDID engine: headless (no Qt), typed, and the only place detection logic lives.

Public entry points: :func:`scan` for a library (loaded on first use, so importing a small
part of the engine does not import the whole pipeline) and ``engine.compare.compare`` for two
files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.progress import CancelToken, ProgressEvent, ScanCancelled
from ndid_desktop.engine.types import Group, Member, ScanReport, Skipped

if TYPE_CHECKING:
    from ndid_desktop.engine.pipeline import scan

__all__ = [
    "CancelToken",
    "Group",
    "Member",
    "ProgressEvent",
    "Root",
    "ScanCancelled",
    "ScanConfig",
    "ScanReport",
    "Skipped",
    "scan",
]


def __getattr__(name: str) -> Any:
    if name == "scan":
        from ndid_desktop.engine.pipeline import scan

        return scan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
