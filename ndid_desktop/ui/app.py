"""`ndid-desktop` / `python -m ndid_desktop`: build the objects, show the window, run Qt."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

_START = time.perf_counter()


def seconds_since_process_start() -> float:
    """Time since the process began (Linux: from /proc), else since this module loaded."""
    try:
        import os

        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _START


def _report_shown(seconds: float) -> None:
    print(f"window shown {seconds:.2f} s after the process started", file=sys.stderr)


def _app_icon() -> QIcon:
    """The app icon from the packaged PNGs (resources/icons); empty if they are missing."""
    from importlib import resources

    from PySide6.QtGui import QIcon

    icon = QIcon()
    folder = resources.files("ndid_desktop.resources").joinpath("icons")
    for size in (16, 32, 48, 64, 128, 256):
        png = folder.joinpath(f"ndid-desktop-{size}.png")
        if png.is_file():
            icon.addFile(str(png))
    return icon


def main(argv: Sequence[str] | None = None) -> int:
    from ndid_desktop import __version__
    from ndid_desktop.paths import user_action_lock
    from ndid_desktop.workspace import DataFolder

    parser = argparse.ArgumentParser(prog="ndid-desktop", description="NDID Desktop")
    parser.add_argument("--version", action="version", version=f"NDID Desktop {__version__}")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where NDID keeps its cache, journal and settings",
    )
    parser.add_argument("--quit-after", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--scan", action="store_true", help="start scanning the folders at once")
    parser.add_argument("folders", nargs="*", help="folders to add to the list")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from ndid_desktop.ui.main_window import AppContext, MainWindow
    from ndid_desktop.ui.worker import engine_scan

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("NDID Desktop")
    app.setOrganizationName("ndid-desktop")
    QApplication.setDesktopFileName("ndid-desktop")  # Wayland app id: the .desktop file name
    QApplication.setWindowIcon(_app_icon())
    data = DataFolder.at(args.data_dir)
    data.base.mkdir(parents=True, exist_ok=True)
    settings = QSettings(str(data.settings), QSettings.Format.IniFormat)
    context = AppContext(
        data_dir=data.base,
        settings=settings,
        user_locks=(user_action_lock(),),
        scan=engine_scan,  # the real scan; the engine's heavy stack loads on its first call
    )
    window = MainWindow(context)
    for folder in args.folders:
        window.folders.add_folder(str(Path(folder).resolve()))
    window.show()
    if args.scan:
        QTimer.singleShot(0, window.start_scan)
    if args.quit_after is not None:  # start-up measurement: say when the first paint happened
        QTimer.singleShot(0, lambda: _report_shown(seconds_since_process_start()))
        QTimer.singleShot(int(args.quit_after * 1000), window.close)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
