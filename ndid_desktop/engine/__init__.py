"""The NDID engine: headless (no Qt), typed, and the only place detection logic lives.

Public entry points: :func:`scan` for a library, :func:`compare` for two files.
"""

from .compare import Comparison, compare
from .config import Root, ScanConfig
from .pipeline import scan
from .progress import CancelToken, ProgressEvent, ScanCancelled
from .types import Group, Member, ScanReport, Skipped

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
