"""Paints one group as a row of thumbnail cards: resolution, size, format, date, folder, match
probability, and a KEEP badge with the reason on the file to keep."""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from ndid_desktop.engine.types import Group
from ndid_desktop.ui.groups_model import Roles
from ndid_desktop.ui.thumbnails import ThumbnailCache

CARD_W, CARD_H, PAD, HEADER = 176, 262, 8, 26


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


OVERLAP = "#ef6c00"  # the colour of a file the keeper only overlaps


class GroupDelegate(QStyledItemDelegate):
    def __init__(self, thumbnails: ThumbnailCache, view: QWidget) -> None:
        super().__init__()
        self.thumbnails = thumbnails
        self.view = view  # its width decides how many cards fit on a line

    def per_line(self) -> int:
        return max(1, (self.view.width() - 2 * PAD - 20) // (CARD_W + PAD))

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        group: Group = index.data(Roles.GROUP)
        lines = -(-len(group.members) // self.per_line())  # ceiling division
        return QSize(PAD + self.per_line() * (CARD_W + PAD), HEADER + lines * (CARD_H + PAD) + PAD)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        group: Group = index.data(Roles.GROUP)
        keep: str = index.data(Roles.KEEP)
        selected_for_trash: bool = index.data(Roles.SELECTED)
        painter.save()
        rect = option.rect
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, palette.highlight().color().lighter(170))
        else:
            painter.fillRect(rect, palette.base())
        savings = index.data(Roles.SAVINGS)
        header = QRect(rect.left() + PAD, rect.top() + 4, rect.width() - 2 * PAD, HEADER - 6)
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        mark = "☑" if selected_for_trash else "☐"
        painter.drawText(
            header,
            Qt.AlignmentFlag.AlignVCenter,
            self.tr("{mark}  {n} files · frees {size} · {reason}").format(
                mark=mark, n=len(group.members), size=human_size(savings), reason=group.reason
            ),
        )
        painter.setFont(option.font)
        per_line = self.per_line()
        for i, member in enumerate(group.members):
            line, column = divmod(i, per_line)
            card = QRect(
                rect.left() + PAD + column * (CARD_W + PAD),
                rect.top() + HEADER + line * (CARD_H + PAD),
                CARD_W,
                CARD_H,
            )
            self._card(painter, card, member, member.path == keep, member.path == group.keep)
        painter.restore()

    def _card(
        self, painter: QPainter, card: QRect, member: object, kept: bool, suggested: bool
    ) -> None:
        from ndid_desktop.engine.types import Member

        assert isinstance(member, Member)
        # Green: kept; amber: overlaps the keeper (neither holds the other), so kept too; red: goes.
        overlapping = member.overlapping and not kept
        border = QColor("#2e7d32") if kept else QColor(OVERLAP if overlapping else "#c62828")
        painter.setPen(QPen(border, 3 if kept else 1))
        painter.drawRect(card.adjusted(1, 1, -1, -1))
        side = self.thumbnails.side
        thumb_area = QRect(card.left() + 8, card.top() + 8, CARD_W - 16, side)
        pixmap = self.thumbnails.get(member.path)
        if pixmap is not None:
            scaled = pixmap.scaled(
                thumb_area.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            x = thumb_area.left() + (thumb_area.width() - scaled.width()) // 2
            y = thumb_area.top() + (thumb_area.height() - scaled.height()) // 2
            painter.drawPixmap(x, y, scaled)
        else:
            painter.fillRect(thumb_area, QColor("#e0e0e0"))
            error = self.thumbnails.error(member.path)
            painter.setPen(QColor("#616161"))
            painter.drawText(
                thumb_area, Qt.AlignmentFlag.AlignCenter, self.tr("cannot show") if error else "…"
            )
        if kept:
            badge = QRect(card.left() + 8, card.top() + 8, 54, 20)
            painter.fillRect(badge, QColor("#2e7d32"))
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, self.tr("KEEP"))
        elif overlapping:
            badge = QRect(card.left() + 8, card.top() + 8, 80, 20)
            painter.fillRect(badge, QColor(OVERLAP))
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, self.tr("OVERLAPS"))
        elif member.reference:
            badge = QRect(card.left() + 8, card.top() + 8, 80, 20)
            painter.fillRect(badge, QColor("#1565c0"))
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, self.tr("REFERENCE"))
        info = member.info
        date = info.taken_at or time.strftime("%Y-%m-%d", time.localtime(member.mtime_ns / 1e9))
        lines = [
            os.path.basename(member.path),
            f"{info.width}×{info.height} · {info.format} · {human_size(member.size)}",
            date,
            os.path.basename(os.path.dirname(member.path)) + os.sep,
            self._status(member, suggested, overlapping),
        ]
        painter.setPen(QColor("#212121"))
        text = QRect(card.left() + 8, card.top() + side + 14, CARD_W - 16, CARD_H - side - 18)
        metrics = painter.fontMetrics()
        for j, line in enumerate(lines):
            elided = metrics.elidedText(line, Qt.TextElideMode.ElideMiddle, text.width())
            painter.drawText(text.left(), text.top() + (j + 1) * metrics.height(), elided)

    def _status(self, member: object, suggested: bool, overlapping: bool) -> str:
        from ndid_desktop.engine.types import Member

        assert isinstance(member, Member)
        if suggested:
            return self.tr("original (suggested)")
        if overlapping:
            return self.tr("overlapping, both kept")
        return self.tr("match {p:.0%}").format(p=member.probability)
