"""Two members side by side: synchronised zoom and pan, swap/flicker, a difference view, and
metadata with the better value highlighted."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QDialog,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ndid_desktop.engine.types import Member
from ndid_desktop.ui.group_delegate import human_size

VIEW_SIDE = 1200


def _qimage(array: np.ndarray) -> QImage:
    h, w = array.shape[:2]
    data = np.ascontiguousarray(array, dtype=np.uint8)
    return QImage(data.data, w, h, w * 3, QImage.Format.Format_RGB888).copy()


def load_rgb(path: str, side: int = VIEW_SIDE) -> np.ndarray:
    from ndid_desktop.engine.files.decode import decode

    image = decode(path, min_side=side // 2).image
    image.thumbnail((side, side))
    return np.asarray(image.convert("RGB"))


def difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| with b resized onto a, amplified so that small edits show."""
    from PIL import Image

    resized = np.asarray(
        Image.fromarray(b).resize((a.shape[1], a.shape[0]), Image.Resampling.BILINEAR)
    )
    diff = np.abs(a.astype(np.int16) - resized.astype(np.int16)).max(axis=2)
    heat = np.clip(diff * 4, 0, 255).astype(np.uint8)
    return np.stack([heat, heat // 3, 255 - heat], axis=2)


class SyncedView(QGraphicsView):
    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.scene().addItem(self.item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.partner: SyncedView | None = None

    def show_image(self, image: QImage) -> None:
        self.item.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(self.item.boundingRect())

    def wheelEvent(self, event: QWheelEvent) -> None:
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.scale(factor, factor)
        if self.partner is not None:
            self.partner.setTransform(self.transform())


class CompareDialog(QDialog):
    def __init__(self, a: Member, b: Member, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Compare"))
        self.resize(1200, 800)
        self.members = [a, b]
        self.pixels = [load_rgb(a.path), load_rgb(b.path)]
        self.left, self.right = SyncedView(), SyncedView()
        self.left.partner, self.right.partner = self.right, self.left
        for one, other in ((self.left, self.right), (self.right, self.left)):
            one.horizontalScrollBar().valueChanged.connect(other.horizontalScrollBar().setValue)
            one.verticalScrollBar().valueChanged.connect(other.verticalScrollBar().setValue)
        self._swapped = False
        self._flicker = QTimer(self)
        self._flicker.setInterval(600)
        self._flicker.timeout.connect(self.swap)
        views = QHBoxLayout()
        views.addWidget(self.left)
        views.addWidget(self.right)
        swap = QPushButton(self.tr("Swap"))
        swap.clicked.connect(self.swap)
        flicker = QPushButton(self.tr("Flicker"))
        flicker.setCheckable(True)
        flicker.toggled.connect(lambda on: self._flicker.start() if on else self._flicker.stop())
        self.diff = QPushButton(self.tr("Show differences"))
        self.diff.setCheckable(True)
        self.diff.toggled.connect(self._show)
        fit = QPushButton(self.tr("Fit"))
        fit.clicked.connect(self._fit)
        bar = QHBoxLayout()
        for w in (swap, flicker, self.diff, fit):
            bar.addWidget(w)
        bar.addStretch()
        self.caption = QLabel()
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(views, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self._metadata())
        self._show()
        QTimer.singleShot(0, self._fit)

    def swap(self) -> None:
        self._swapped = not self._swapped
        self._show()

    def _show(self) -> None:
        order = [1, 0] if self._swapped else [0, 1]
        self.left.show_image(_qimage(self.pixels[order[0]]))
        if self.diff.isChecked():
            self.right.show_image(_qimage(difference(self.pixels[0], self.pixels[1])))
            right_text = self.tr("differences (red = changed)")
        else:
            self.right.show_image(_qimage(self.pixels[order[1]]))
            right_text = self.members[order[1]].path
        self.caption.setText(f"{self.members[order[0]].path}    |    {right_text}")

    def _fit(self) -> None:
        for view in (self.left, self.right):
            view.fitInView(view.item, Qt.AspectRatioMode.KeepAspectRatio)

    def _metadata(self) -> QTableWidget:
        a, b = self.members
        rows = [
            (
                self.tr("resolution"),
                f"{a.info.width}×{a.info.height}",
                f"{b.info.width}×{b.info.height}",
                a.info.pixels - b.info.pixels,
            ),
            # Not "better": a PNG copy of a JPEG is bigger and no better.
            (self.tr("file size"), human_size(a.size), human_size(b.size), 0),
            (self.tr("format"), a.info.format, b.info.format, 0),
            (
                self.tr("JPEG quality"),
                str(a.info.jpeg_quality or "—"),
                str(b.info.jpeg_quality or "—"),
                (a.info.jpeg_quality or 0) - (b.info.jpeg_quality or 0),
            ),
            (
                self.tr("camera"),
                a.info.camera or "—",
                b.info.camera or "—",
                (a.info.camera is not None) - (b.info.camera is not None),
            ),
            (self.tr("taken"), a.info.taken_at or "—", b.info.taken_at or "—", 0),
        ]
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels([os.path.basename(a.path), os.path.basename(b.path)])
        table.setVerticalHeaderLabels([r[0] for r in rows])
        for i, (_, left, right, better) in enumerate(rows):
            for j, text in enumerate((left, right)):
                cell = QTableWidgetItem(text)
                if (better > 0 and j == 0) or (better < 0 and j == 1):
                    cell.setBackground(Qt.GlobalColor.green)
                table.setItem(i, j, cell)
        table.setMaximumHeight(200)
        table.horizontalHeader().setStretchLastSection(True)
        return table
