"""Progress reporting and cancellation, shared by the CLI and the GUI worker.

Engine functions take ``progress`` and ``cancel`` arguments with harmless defaults, so they run
headless; they check the token once per batch, never per pixel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # "discover", "features", "candidates", "decide", "verify", "group"
    done: int
    total: int  # 0 when unknown
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


def null_progress(event: ProgressEvent) -> None:
    """The default callback: ignore progress."""


class ScanCancelled(Exception):
    """Raised inside the engine when the user cancelled; everything done so far is cached."""


class CancelToken:
    """Set from any thread; the engine polls it between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise ScanCancelled("scan cancelled")
