"""Screenshots for the README: a small library made from the development photos, scanned for
real through the window's own worker, and five pictures of the app written as JPEGs:

    review-scan.jpg        the main window after the scan
    review-dense.jpg       the same groups with the thumbnail slider at a small size
    compare-keypoints.jpg  Compare on the overlapping pair, with the matched keypoints
    trash-confirm.jpg      the trash confirmation, one group selected, "every ticked group"
                           chosen (shown, never answered)
    history.jpg            History after two trash actions into a trash under the temp
                           folder, the second one undone

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py docs/images/

Everything it writes besides the pictures (data folder, settings, journal, trash) lies in a
temporary folder: the user's trash and NDID data are never touched. Widgets are grabbed with
QWidget.grab(), so it needs no display; the dialogs are drawn over a dimmed grab of the main
window, so that every picture is 1600x1000.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageOps

if TYPE_CHECKING:
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QWidget

    from ndid_desktop.ui.main_window import MainWindow

DEV_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "dev-photos"
SIZE = (1600, 1000)
DENSE_SIDE = 64  # the slider's smallest thumbnails
JPEG_QUALITY = 80
MAX_BYTES = 250_000
PHOTOS = 12


# --- the library ------------------------------------------------------------------------------


def pick_photos(folder: Path, n: int) -> list[Path]:
    """The first ``n`` photos (by name) at least 800 px wide: small ones make poor thumbnails."""
    chosen = []
    for path in sorted(folder.glob("*.jpg")):
        with Image.open(path) as image:
            if image.width >= 800:
                chosen.append(path)
        if len(chosen) == n:
            break
    return chosen


def _rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def _crop(image: Image.Image, share: float, at: tuple[float, float] = (0.5, 0.5)) -> Image.Image:
    w, h = int(image.width * share), int(image.height * share)
    x, y = int((image.width - w) * at[0]), int((image.height - h) * at[1])
    return image.crop((x, y, x + w, y + h))


def _scaled(image: Image.Image, share: float) -> Image.Image:
    size = (int(image.width * share), int(image.height * share))
    return image.resize(size, Image.Resampling.LANCZOS)


def _half(image: Image.Image) -> Image.Image:
    return _scaled(image, 0.5)


def _watermark(image: Image.Image) -> Image.Image:
    marked = image.copy()
    draw = ImageDraw.Draw(marked)
    side = max(12, image.height // 14)
    draw.rectangle((0, image.height - side - 8, image.width, image.height), fill=(0, 0, 0))
    draw.text((10, image.height - side - 4), "© 2024 holiday album", fill=(255, 255, 255))
    return marked


def build_library(photos: list[Path], root: Path) -> Path:
    """Originals in Camera/, edited copies in Edits/ and Backup/; the last photo stays alone."""
    camera, edits, backup = root / "Camera", root / "Edits", root / "Backup"
    for folder in (camera, edits, backup):
        folder.mkdir(parents=True)
    for photo in photos:
        shutil.copyfile(photo, camera / photo.name)
    p = photos
    # The overlapping pair: a 70% crop at full resolution and a half-size view of the whole;
    # the original itself is not in the library, so neither holds all the other shows. From
    # the first photo: a textured one, where the keypoint check finds enough matches.
    (camera / p[0].name).unlink()
    _crop(_rgb(p[0]), 0.7, (0.8, 0.3)).save(camera / f"{p[0].stem}-detail.jpg", quality=90)
    _half(_rgb(p[0])).save(backup / f"{p[0].stem}-whole.jpg", quality=85)
    _crop(_rgb(p[1]), 0.8).save(edits / f"{p[1].stem}-crop.jpg", quality=88)
    ImageOps.grayscale(_rgb(p[2])).save(edits / f"{p[2].stem}-bw.jpg", quality=88)
    _rgb(p[3]).save(backup / f"{p[3].stem}.png")
    _watermark(_rgb(p[4])).save(edits / f"{p[4].stem}-marked.jpg", quality=88)
    shutil.copyfile(p[5], backup / p[5].name)  # byte for byte
    _half(_rgb(p[6])).save(edits / f"{p[6].stem}-small.jpg", quality=85)
    # More groups, so that the grid looks like a library: a re-saved JPEG, a 75% copy, and
    # one group of three; the last photo stays alone (nothing to find).
    _rgb(p[7]).save(backup / f"{p[7].stem}-q60.jpg", quality=60)
    _scaled(_rgb(p[8]), 0.75).save(edits / f"{p[8].stem}-75.jpg", quality=85)
    _crop(_rgb(p[8]), 0.9).save(backup / f"{p[8].stem}-crop90.jpg", quality=85)
    _scaled(_rgb(p[9]), 0.75).save(backup / f"{p[9].stem}-75.jpg", quality=85)
    _crop(_rgb(p[10]), 0.9, (0.2, 0.6)).save(edits / f"{p[10].stem}-crop90.jpg", quality=85)
    return root


# --- Qt helpers -------------------------------------------------------------------------------


def wait_until(done: Callable[[], bool], seconds: float) -> bool:
    """Runs an event loop until ``done()`` or ``seconds``; says whether ``done()`` came true.
    An event loop, not a loop of processEvents(): PySide6's processEvents() crashed whenever
    another Python thread (the scan, the thumbnails) ran at the same time."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.monotonic() + seconds
    poll = QTimer()
    poll.setInterval(50)
    poll.timeout.connect(lambda: loop.quit() if done() or time.monotonic() > deadline else None)
    poll.start()
    loop.exec()
    poll.stop()
    return done()


def settle(seconds: float = 0.3) -> None:
    wait_until(lambda: False, seconds)


def thumbnails_loaded(window: MainWindow) -> bool:
    cache = window.thumbnails
    paths = [p for s in window.groups.states() for p in s.paths]
    return all(cache.get(p) is not None or cache.error(p) is not None for p in paths)


def paint_and_wait(window: MainWindow, widget: QWidget | None = None) -> None:
    """Paint (which asks for the thumbnails shown), wait for them, paint again."""
    (widget or window).grab()
    wait_until(lambda: thumbnails_loaded(window), 60.0)
    settle()


def over_window(background: QPixmap, dialog: QWidget) -> QPixmap:
    """The dialog drawn in the middle of a dimmed picture of the window, as a user sees it."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QColor, QPainter

    picture = background.copy()
    front = dialog.grab()
    painter = QPainter(picture)
    painter.fillRect(picture.rect(), QColor(0, 0, 0, 110))
    corner = QPoint(
        (picture.width() - front.width()) // 2, (picture.height() - front.height()) // 2
    )
    painter.fillRect(front.rect().translated(corner + QPoint(6, 6)), QColor(0, 0, 0, 90))
    painter.drawPixmap(corner, front)
    painter.end()
    return picture


def save_jpeg(pixmap: QPixmap, path: Path) -> tuple[int, int]:
    """A JPEG at quality 80 (lower only if it would pass MAX_BYTES); its size and quality."""
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG")
    image = Image.open(io.BytesIO(buffer.data().data())).convert("RGB")
    for quality in range(JPEG_QUALITY, 40, -5):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
        if out.tell() <= MAX_BYTES:
            break
    path.write_bytes(out.getvalue())
    return out.tell(), quality


# --- the app ----------------------------------------------------------------------------------


class FolderTrash:
    """A trash that is a folder under the temp folder (as tests/ui/test_app.py's FakeTrash)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True)
        self.stored: dict[str, Path] = {}

    def __call__(self, path: str) -> None:
        target = self.folder / f"{len(self.stored)}-{os.path.basename(path)}"
        shutil.move(path, target)
        self.stored[path] = target

    def locate(self, path: str) -> Path | None:
        return self.stored.get(path)

    def restore(self, path: str) -> str:
        """Undo's way back (the window's ``restore_file``): from the folder to its place."""
        stored = self.stored.pop(path, None)
        if stored is None:
            return f"not restored: {path} is not in the trash"
        shutil.move(stored, path)
        return f"restored {path}"


def make_window(tmp: Path, trash: FolderTrash) -> MainWindow:
    from PySide6.QtCore import QSettings

    from ndid_desktop.ui.main_window import AppContext, MainWindow
    from ndid_desktop.ui.worker import engine_scan

    data = tmp / "data"
    data.mkdir()
    settings = QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat)
    context = AppContext(
        data_dir=data,
        settings=settings,
        trash=trash,
        locate=trash.locate,
        confirm=False,  # the confirmation is shown and grabbed on its own, never answered
        scan=engine_scan,
        restore_file=trash.restore,
    )
    window = MainWindow(context)
    window.resize(*SIZE)
    return window


def scan(window: MainWindow, folders: list[Path]) -> None:
    for folder in folders:
        window.folders.add_folder(str(folder))
    window.show()
    window.start_scan()
    finished = wait_until(lambda: window.worker is None and window.scan_button.isEnabled(), 600)
    if not finished or window.report is None or not window.report.groups:
        raise SystemExit(f"the scan gave no groups: {window.status.text()}")


def select_rows(window: MainWindow, rows: list[int]) -> None:
    from PySide6.QtCore import QItemSelectionModel

    flags = QItemSelectionModel.SelectionFlag
    selection = window.view.selectionModel()
    selection.clearSelection()
    for row in rows:
        selection.setCurrentIndex(window.groups.index(row), flags.Select)


def overlapping_row(window: MainWindow) -> int:
    from ndid_desktop.ui.filter_bar import member_kind

    for row, state in enumerate(window.groups.states()):
        if any(member_kind(m) == "overlapping" for m in state.members if m.path != state.keep):
            return row
    return 0


def trash_rows(window: MainWindow, n: int) -> list[int]:
    """``n`` groups with something to trash, not the overlapping one (shown in Compare)."""
    skip = overlapping_row(window)
    rows = [r for r, s in enumerate(window.groups.states()) if s.savings and r != skip]
    return rows[:n]


# --- the pictures -----------------------------------------------------------------------------


def shoot(out: Path, tmp: Path) -> list[tuple[Path, tuple[int, int], str]]:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from ndid_desktop.ui.compare import CompareDialog
    from ndid_desktop.ui.group_delegate import DEFAULT_SIDE
    from ndid_desktop.ui.history_dialog import HistoryDialog
    from ndid_desktop.ui.trash_confirm import TrashConfirmDialog

    app = QApplication.instance() or QApplication([])
    app.setApplicationName("NDID Desktop")
    library = build_library(pick_photos(DEV_PHOTOS, PHOTOS), tmp / "Pictures")
    trash = FolderTrash(tmp / "trash")
    window = make_window(tmp, trash)
    written: list[tuple[Path, tuple[int, int], str]] = []

    def save(name: str, pixmap: QPixmap, note: str) -> None:
        path = out / name
        written.append((path, save_jpeg(pixmap, path), note))

    started = time.monotonic()
    scan(window, [library / "Camera", library / "Edits", library / "Backup"])
    took = time.monotonic() - started
    paint_and_wait(window)
    save("review-scan.jpg", window.grab(), f"scan {took:.0f} s: {window.status.text()}")

    window.filter_bar.thumb_size.setValue(DENSE_SIDE)
    paint_and_wait(window)
    save("review-dense.jpg", window.grab(), f"thumbnail side {DENSE_SIDE}")
    window.filter_bar.thumb_size.setValue(DEFAULT_SIDE)
    paint_and_wait(window)

    row = overlapping_row(window)
    state = window.groups.state(row)
    shown = next(m.path for m in state.members if m.path != state.keep)
    compare = CompareDialog.for_group(state.members, state.keep, shown, window, lambda p: None)
    compare.resize(*SIZE)
    compare.matches_button.setChecked(True)
    compare.show()
    wait_until(compare.matches_ready, 60.0)
    settle(0.5)
    save("compare-keypoints.jpg", compare.grab(), f"{Path(shown).name} against the keeper")
    compare.close()

    select_rows(window, trash_rows(window, 1))
    scopes, default = window.trash_scopes()
    confirm = TrashConfirmDialog(scopes, default, window.thumbnails, window)
    confirm.scope_buttons.button(len(scopes) - 1).setChecked(True)  # every ticked group
    confirm.show()  # not modal, and never answered: only looked at
    paint_and_wait(window, confirm)
    save("trash-confirm.jpg", over_window(window.grab(), confirm), confirm.chosen.label)
    confirm.reject()

    # For History: one group trashed, then three more, and that second action undone; all
    # into the folder trash (confirm=False: the window trashes its default scope, the selection).
    select_rows(window, trash_rows(window, 1))
    window.trash_selected()
    select_rows(window, trash_rows(window, 3))
    window.trash_selected()
    window.undo_trash()
    select_rows(window, [])
    paint_and_wait(window)
    history = HistoryDialog(window.journal, window.context.locate, window)
    history.resize(1400, 440)
    history.show()
    trashed = history.list.findItems("  trashed  ", Qt.MatchFlag.MatchContains)
    if trashed:
        trashed[-1].setSelected(True)  # Restore enabled: a trashed file is selected
    settle(0.5)
    save("history.jpg", over_window(window.grab(), history), f"{history.list.count()} entries")
    history.close()
    window.close()  # saves the folders and geometry into the temp folder's settings.ini
    # Written now, while the temp folder exists: else QSettings writes it again when Python
    # frees the window, after the folder is gone, and leaves a stray data/ in /tmp.
    window.context.settings.sync()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("docs/images"))
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ndid-demo-") as tmp:
        for path, (size, quality), note in shoot(args.out, Path(tmp)):
            print(f"{path} ({size / 1000:.0f} KB, quality {quality}): {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
