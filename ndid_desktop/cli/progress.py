"""Progress on stderr: a live bar in a terminal, plain occasional lines otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ndid_desktop.engine.progress import ProgressEvent

STAGE_NAMES = {
    "discover": "Finding photos",
    "features": "Reading photos",
    "candidates": "Searching",
    "decide": "Comparing pairs",
    "group": "Grouping",
    "verify": "Keypoint checks",
}


class TerminalProgress:
    def __init__(self, stream: TextIO | None = None, interval: float = 0.1) -> None:
        stream = stream or sys.stderr  # looked up now: sys.stderr may be replaced after import
        self.stream = stream
        self.live = stream.isatty()
        self.interval = interval if self.live else 5.0
        self._last = 0.0
        self._stage = ""
        self._started = time.monotonic()

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        new_stage = event.stage != self._stage
        finished = event.total and event.done >= event.total
        if not new_stage and not finished and now - self._last < self.interval:
            return
        if new_stage:
            if self.live and self._stage:
                self.stream.write("\n")
            self._stage = event.stage
            self._started = now
        self._last = now
        self._write(event, now)

    def _write(self, event: ProgressEvent, now: float) -> None:
        name = STAGE_NAMES.get(event.stage, event.stage)
        if event.total:
            share = event.done / event.total
            bar = "#" * int(share * 30)
            rate = event.done / max(now - self._started, 1e-6)
            text = f"{name:16s} [{bar:30s}] {event.done}/{event.total}"
            if event.message:
                text += f" ({event.message})"
            elif self.live and event.done:
                text += f" {rate:.1f}/s"
        else:
            text = f"{name:16s} {event.message}"
        if self.live:
            self.stream.write("\r\x1b[2K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live and self._stage:
            self.stream.write("\n")
            self.stream.flush()
