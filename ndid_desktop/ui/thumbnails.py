"""Thumbnails: decoded off the GUI thread into QImage, turned into QPixmap on the GUI thread,
kept in a bounded LRU. Only what the view paints is requested, so long lists stay smooth."""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

THUMB_SIDE = 160


def load_qimage(path: str, side: int) -> QImage:
    """Decode with the engine's decoder (draft mode, EXIF orientation, HEIC, RAW preview):
    Qt's own readers know neither HEIC nor EXIF-less orientation consistently."""
    from ndid_desktop.engine.files.decode import decode

    image = decode(path, min_side=side // 2).image
    image.thumbnail((side, side))
    data = image.tobytes("raw", "RGB")
    qimage = QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888)
    return qimage.copy()  # own the pixels: `data` is freed when this function returns


class _Signals(QObject):
    loaded = Signal(str, QImage)
    failed = Signal(str, str)


class _Job(QRunnable):
    def __init__(self, path: str, side: int, signals: _Signals) -> None:
        super().__init__()
        self.path, self.side, self.signals = path, side, signals

    def run(self) -> None:
        try:
            try:
                image = load_qimage(self.path, self.side)
            except Exception as exc:  # an unreadable file shows a placeholder, never crashes
                self.signals.failed.emit(self.path, str(exc))
            else:
                self.signals.loaded.emit(self.path, image)
        except RuntimeError:
            pass  # the cache was deleted meanwhile (its window closed): no one to tell


class ThumbnailCache(QObject):
    """Ask with ``get(path)``: a pixmap if ready, else None and ``ready(path)`` follows."""

    ready = Signal(str)

    def __init__(
        self, capacity: int = 600, side: int = THUMB_SIDE, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.side = side
        self._capacity = capacity
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._pending: set[str] = set()
        self._failed: dict[str, str] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._signals = _Signals()
        self._signals.loaded.connect(self._on_loaded)
        self._signals.failed.connect(self._on_failed)

    def get(self, path: str) -> QPixmap | None:
        if path in self._pixmaps:
            self._pixmaps.move_to_end(path)
            return self._pixmaps[path]
        if path not in self._pending and path not in self._failed:
            self._pending.add(path)
            self._pool.start(_Job(path, self.side, self._signals))
        return None

    def error(self, path: str) -> str | None:
        return self._failed.get(path)

    def wait(self) -> None:
        self._pool.waitForDone()

    def _on_loaded(self, path: str, image: QImage) -> None:
        self._pending.discard(path)
        self._pixmaps[path] = QPixmap.fromImage(image)  # on the GUI thread, as Qt requires
        while len(self._pixmaps) > self._capacity:
            self._pixmaps.popitem(last=False)
        self.ready.emit(path)

    def _on_failed(self, path: str, message: str) -> None:
        self._pending.discard(path)
        self._failed[path] = message
        self.ready.emit(path)
