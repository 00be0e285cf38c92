"""The NDID engine: headless (no Qt), typed, and the only place detection logic lives.

Public entry points: :func:`scan` for a library, :func:`compare` for two files.
"""

from ndid_desktop.engine.compare import Comparison, compare
from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.pipeline import scan
from ndid_desktop.engine.progress import CancelToken, ProgressEvent, ScanCancelled
from ndid_desktop.engine.types import Group, Member, ScanReport, Skipped

__all__ = [
    "CancelToken",
    "Comparison",
    "Group",
    "Member",
    "ProgressEvent",
    "Root",
    "ScanCancelled",
    "ScanConfig",
    "ScanReport",
    "Skipped",
    "compare",
    "scan",
]
