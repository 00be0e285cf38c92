"""Scroll the review grid over a synthetic 10,000-group scan and time every frame (offscreen).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_grid_scroll.py [--groups 10000]

The window is the app's own (MainWindow at 1600x1000), filled as a scan fills it; thumbnails
are ready-made pixmaps (as once the cache holds them), so a frame is the grid's own work:
layout, the delegate's painting and the thumbnails' scaling. Each frame moves the scroll bar
one step and repaints the viewport synchronously; prints the time to show the groups and the
frame times' p50/p95/max.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QApplication

from ndid_desktop.engine.types import Group, ImageInfo, Member, ScanReport, ScanStats
from ndid_desktop.ui.main_window import AppContext, MainWindow
from ndid_desktop.ui.thumbnails import ThumbnailCache


class ReadyThumbnails(ThumbnailCache):
    """Every thumbnail already decoded: the benchmark times painting, not decoding."""

    def __init__(self, parent: object = None) -> None:
        super().__init__()
        self._ready = {}
        for i, colour in enumerate(("#8d6e63", "#42a5f5", "#66bb6a", "#ffa726")):
            pixmap = QPixmap(self.side, self.side * 3 // 4)
            pixmap.fill(QColor(colour))
            self._ready[i] = pixmap

    def get(self, path: str) -> QPixmap | None:
        return self._ready[hash(path) % len(self._ready)]


def synthetic_groups(count: int) -> tuple[Group, ...]:
    groups = []
    for g in range(count):
        n = 2 + g % 3  # groups of 2, 3 and 4 files
        members = tuple(
            Member(
                path=f"/photos/folder{g % 97}/IMG_{g:05d}_{i}.jpg",
                probability=1.0 if i == 0 else 0.9 + (g % 10) / 100,
                reason="kept: it is the oldest file" if i == 0 else "same picture: resized",
                reference=False,
                size=2_000_000 - i * 300_000 + g,
                info=ImageInfo(width=4032 - i * 800, height=3024 - i * 600, format="JPEG"),
                signals={"identical": "identical file"} if i == 1 and g % 5 == 0 else {},
            )
            for i in range(n)
        )
        groups.append(Group(members[0].path, members[0].reason, members))
    return tuple(groups)


def stats() -> ScanStats:
    return ScanStats(
        files_found=0, images_used=0, skipped=0, decoded=0, from_cache=0, candidate_pairs=0,
        gated_pairs=0, verified_pairs=0, duplicate_pairs=0, groups=0, model_set="standard",
        encoder=None, threshold=0.95, gate_band=(0.1, 0.9), seconds={},
    )  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--step", type=int, default=120, help="pixels scrolled a frame")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as data:
        settings = QSettings(str(Path(data) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(AppContext(data_dir=Path(data), settings=settings, confirm=False))
        window.resize(1600, 1000)
        ready = ReadyThumbnails()
        window.thumbnails = ready
        window.view.delegate.thumbnails = ready
        window.show()
        app.processEvents()
        groups = synthetic_groups(args.groups)
        start = time.perf_counter()
        window._on_report(ScanReport(groups, (), stats()))
        window.view.doItemsLayout()
        window.view.viewport().repaint()
        shown = time.perf_counter() - start
        bar = window.view.verticalScrollBar()
        frames = []
        for i in range(args.frames):
            # Down the list and back, with a jump to its far end half-way.
            step = args.step if i < args.frames // 2 else -args.step
            value = bar.maximum() if i == args.frames // 2 else bar.value() + step
            start = time.perf_counter()
            bar.setValue(max(0, min(value, bar.maximum())))
            window.view.viewport().repaint()
            app.processEvents()
            frames.append((time.perf_counter() - start) * 1000)
        window.close()
    print(
        f"{args.groups} groups ({sum(len(g.members) for g in groups)} files): shown in "
        f"{shown:.2f} s; scroll range {bar.maximum()} px; {args.frames} frames of "
        f"{args.step} px"
    )
    print(
        f"frame ms: p50 {percentile(frames, 0.5):.1f}  p95 {percentile(frames, 0.95):.1f}  "
        f"max {max(frames):.1f}  (mean {statistics.fmean(frames):.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
