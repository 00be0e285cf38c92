"""The matched-keypoints view: two pictures side by side with a line between each pair of
matched points (as OpenCV's drawMatches draws them), so a person sees why a crop or a
screenshot matched. The points come from the engine (match/match_points.PointMatches) in each
file's own pixels; this widget only scales them onto the pictures it draws."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ndid_desktop.engine.match.match_points import PointMatches

GAP = 12  # pixels between the two pictures
MARGIN = 6
GOLDEN = 0.618033988749895  # hue step: neighbouring lines get colours far apart


@dataclass(frozen=True)
class Placement:
    """Where one picture is drawn, and how its file's pixels map onto the widget."""

    rect: QRectF
    scale_x: float  # widget pixels per file pixel
    scale_y: float

    def point(self, x: float, y: float) -> QPointF:
        # File pixel centres onto the drawn picture.
        return QPointF(
            self.rect.left() + (x + 0.5) * self.scale_x, self.rect.top() + (y + 0.5) * self.scale_y
        )


def place(
    area: QRectF, sizes: tuple[tuple[int, int], tuple[int, int]], gap: float = GAP
) -> tuple[QRectF, QRectF]:
    """Two pictures of ``sizes`` (width, height), side by side at one height, as large as
    ``area`` allows, centred in it."""
    (wa, ha), (wb, hb) = sizes
    ratio = wa / max(ha, 1) + wb / max(hb, 1)
    height = max(min(area.height(), (area.width() - gap) / max(ratio, 1e-6)), 1.0)
    left_w, right_w = height * wa / max(ha, 1), height * wb / max(hb, 1)
    x = area.left() + (area.width() - (left_w + gap + right_w)) / 2
    y = area.top() + (area.height() - height) / 2
    return QRectF(x, y, left_w, height), QRectF(x + left_w + gap, y, right_w, height)


def line_colour(i: int) -> QColor:
    colour = QColor.fromHsvF((i * GOLDEN) % 1.0, 0.85, 1.0)
    colour.setAlphaF(0.85)
    return colour


class KeypointOverlay(QWidget):
    """Two pictures and, once ``set_matches`` gives them, the lines between matched points.
    Until then, or when there are none, it shows ``message`` over the pictures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.images: tuple[QImage, QImage] | None = None
        self.matches: PointMatches | None = None
        self.message = ""

    def sizeHint(self) -> QSize:
        return QSize(900, 500)

    def set_images(self, left: QImage, right: QImage) -> None:
        self.images = (left, right)
        self.matches = None
        self.update()

    def set_matches(self, matches: PointMatches | None, message: str = "") -> None:
        """The lines to draw (None: none), and a line of text to show with them."""
        self.matches = matches
        self.message = message
        self.update()

    @property
    def lines(self) -> int:
        return 0 if self.matches is None else len(self.matches.points_a)

    def placements(self) -> tuple[Placement, Placement] | None:
        """Where the two pictures are drawn and how each file's pixels map onto them; the
        files' sizes come from the matches (points are in those), else the images'."""
        if self.images is None:
            return None
        area = QRectF(self.rect()).adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        shown = tuple((image.width(), image.height()) for image in self.images)
        rects = place(area, (shown[0], shown[1]))
        files = (self.matches.size_a, self.matches.size_b) if self.matches is not None else shown
        return (
            Placement(rects[0], rects[0].width() / files[0][0], rects[0].height() / files[0][1]),
            Placement(rects[1], rects[1].width() / files[1][0], rects[1].height() / files[1][1]),
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(32, 32, 32))
        placed = self.placements()
        if self.images is not None and placed is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            for image, where in zip(self.images, placed, strict=True):
                painter.drawImage(where.rect, image)
            if self.matches is not None:
                self._draw_lines(painter, self.matches, placed)
        if self.message:
            self._draw_message(painter)
        painter.end()

    def _draw_lines(
        self, painter: QPainter, matches: PointMatches, placed: tuple[Placement, Placement]
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        left, right = placed
        for i, (pa, pb) in enumerate(zip(matches.points_a, matches.points_b, strict=True)):
            start, end = left.point(*map(float, pa)), right.point(*map(float, pb))
            pen = QPen(line_colour(i), 1.4)
            painter.setPen(pen)
            painter.drawLine(start, end)
            painter.drawEllipse(start, 2.5, 2.5)
            painter.drawEllipse(end, 2.5, 2.5)

    def _draw_message(self, painter: QPainter) -> None:
        metrics = painter.fontMetrics()
        width = min(self.width() - 2 * MARGIN, metrics.horizontalAdvance(self.message) + 24)
        box = QRectF((self.width() - width) / 2, MARGIN + 4, width, metrics.height() + 12)
        painter.fillRect(box, QColor(0, 0, 0, 190))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.message)
