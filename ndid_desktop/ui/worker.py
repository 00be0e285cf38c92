"""The scan runs on a QThread; the GUI thread only receives signals."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.progress import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    ScanCancelled,
)
from ndid_desktop.engine.types import ScanReport

# What the worker runs: the engine's scan, or a stand-in (tests). It reports progress through
# the callback, polls the token and raises ScanCancelled when it is set.
ScanFunction = Callable[[Sequence[Root], ScanConfig, ProgressCallback, CancelToken], ScanReport]


def engine_scan(
    roots: Sequence[Root], config: ScanConfig, progress: ProgressCallback, cancel: CancelToken
) -> ScanReport:
    """The real scan. Imported on the first call, on the worker's thread: the heavy stack
    (numpy, ONNX Runtime, faiss) loads off the GUI thread and after the window is shown."""
    from ndid_desktop.engine.pipeline import scan

    return scan(roots, config, progress, cancel)


class ScanWorker(QObject):
    """Drives a scan (the engine's unless another is handed in); emits progress (throttled),
    then exactly one of finished_report, failed or cancelled, and always done."""

    progress = Signal(object)  # ProgressEvent
    finished_report = Signal(object)  # ScanReport
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(
        self,
        roots: Sequence[Root],
        config: ScanConfig,
        interval: float = 0.1,
        scan: ScanFunction = engine_scan,
    ) -> None:
        super().__init__()
        self.roots = tuple(roots)
        self.config = config
        self._scan = scan
        self.token = CancelToken()
        self._interval = interval
        self._last = 0.0
        self._stage = ""

    def cancel(self) -> None:
        """Thread-safe: only sets the token; the engine stops within one batch."""
        self.token.cancel()

    def _report(self, event: ProgressEvent) -> None:
        # At most ~10 updates a second, but every change of stage and every stage's end.
        now = time.monotonic()
        ended = event.total > 0 and event.done >= event.total
        if event.stage == self._stage and not ended and now - self._last < self._interval:
            return
        self._stage, self._last = event.stage, now
        self.progress.emit(event)

    @Slot()
    def run(self) -> None:
        try:
            report = self._scan(self.roots, self.config, self._report, self.token)
        except ScanCancelled:
            self.cancelled.emit()
        except Exception as exc:  # shown to the user; the app must not die with the scan
            self.failed.emit(f"{exc}\n\n{traceback.format_exc(limit=6)}")
        else:
            self.finished_report.emit(report)
        finally:
            # Hand the object back to the GUI thread, which owns it and will delete it: a
            # QObject must never be destroyed from a thread other than its own.
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())
            self.done.emit()
