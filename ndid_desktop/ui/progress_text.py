"""What the progress bar and its line say while a scan runs: the stage (step i of n), honest
counts, and a time left measured from that stage's own rate, never from the time since the scan
began (which counts discovery, worker start-up and files read from the cache)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication

from ndid_desktop.engine.progress import ProgressEvent

STAGES = {
    "discover": "Finding photos",
    "features": "Reading photos",
    "candidates": "Searching for look-alikes",
    "decide": "Comparing pairs",
    "verify": "Checking keypoints",
    "group": "Grouping",
}
ORDER = tuple(STAGES)
# A rate measured over fewer items or less time than this says little: no time left shown yet.
MIN_ITEMS, MIN_SECONDS = 3, 1.0


def _tr(text: str) -> str:
    return QCoreApplication.translate("progress_text", text)


@dataclass(frozen=True)
class ProgressView:
    text: str
    value: int
    maximum: int  # 0: busy (no count known)


@dataclass
class StageClock:
    """Measures the current stage's rate from its first item actually worked on: a stage's
    first count holds what came from the cache (done at once), and the items after it wait
    for the workers to start, so neither says how fast the stage goes."""

    stage: str = ""
    phase: int = 0  # 0: no event of this stage yet; 1: first count seen; 2: measuring
    since_done: int = 0
    since_time: float = 0.0

    def observe(self, event: ProgressEvent, now: float) -> float | None:
        """Seconds left in this stage, or None while there is no rate to trust."""
        if event.stage != self.stage:
            self.stage, self.phase = event.stage, 0
        if not event.total:  # busy, no count yet: nothing to measure from
            return None
        if self.phase < 2 and (self.phase == 0 or event.done > self.since_done):
            self.phase += 1
            self.since_done, self.since_time = event.done, now
            return None
        items = event.done - self.since_done
        seconds = now - self.since_time
        if self.phase < 2 or items < MIN_ITEMS or seconds < MIN_SECONDS:
            return None
        return (event.total - event.done) * seconds / items


def describe(event: ProgressEvent, clock: StageClock, now: float) -> ProgressView:
    name = _tr(STAGES.get(event.stage, event.stage))
    step = ORDER.index(event.stage) + 1 if event.stage in ORDER else 0
    head = _tr("Step {i} of {n}: {name}").format(i=step, n=len(ORDER), name=name) if step else name
    left = clock.observe(event, now)
    if not event.total:
        detail = f" — {event.message}" if event.message else "…"
        return ProgressView(head + detail, 0, 0)
    text = f"{head}: {event.done} / {event.total}"
    if any(c.isdigit() for c in event.message):  # counts ("40 from cache"), not a stage's name
        text += f" ({event.message})"
    if left is not None and event.done < event.total:
        text += _tr(" — about {s} s left in this step").format(s=max(1, round(left)))
    return ProgressView(text, event.done, event.total)
