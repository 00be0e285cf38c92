"""Paints one group as a tile of thumbnail cards: resolution, format, size, date, folder, how it
matches, a KEEP badge on the file to keep and a "Keep this" button on every other card. Groups
flow several to a line (dense layout); the thumbnail size is the user's (slider)."""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from ndid_desktop.engine.actions.review import GroupReview
from ndid_desktop.engine.types import Member
from ndid_desktop.ui.card_text import card_status, group_reason, is_identical, nothing_to_trash
from ndid_desktop.ui.groups_model import Roles
from ndid_desktop.ui.thumbnails import THUMB_SIDE, ThumbnailCache

PAD, HEADER, BUTTON_H = 8, 24, 20
# Thumbnails are decoded at THUMB_SIDE: larger cards would only show them blurred.
MIN_SIDE, MAX_SIDE, DEFAULT_SIDE = 64, THUMB_SIDE, 96
CARD_FONT_SCALE = 0.9  # the cards' text, a little smaller than the header's: dense, still whole
TEXT_LINES = 5
TILE_CACHE = 64  # painted groups kept (a 1600x1000 window shows about 15; ~1 MB each)
MAX_PER_LINE = 4  # a group wider than this wraps its cards, so several groups share a line
# The widest metadata line a card must show whole (issue 14: truncated at 1600 px).
WIDEST_LINE = "00000×00000 · WEBP"
OVERLAP = "#ef6c00"  # the colour of a file the keeper only overlaps


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


@dataclass(frozen=True)
class CardLayout:
    """Where a group's header, cards and buttons are, for one thumbnail size and font."""

    side: int  # thumbnail height
    card_w: int
    card_h: int
    line_h: int

    @classmethod
    def for_font(cls, metrics: QFontMetrics, side: int) -> CardLayout:
        text_w = max(metrics.horizontalAdvance(WIDEST_LINE), metrics.horizontalAdvance(
            "000.0 MB · 0000-00-00"))  # fmt: skip
        # At the default size and above a card fits its metadata; smaller thumbnails shrink
        # the card with them (the lines elide, the tooltip has them), so more groups fit a line.
        if side < DEFAULT_SIDE:
            text_w = min(text_w, max(side, text_w * side // DEFAULT_SIDE))
        card_w = max(side, text_w) + 16
        card_h = 8 + side + 6 + TEXT_LINES * metrics.height() + 8
        return cls(side, card_w, card_h, metrics.height())

    def per_line(self, members: int) -> int:
        return max(1, min(members, MAX_PER_LINE))

    def size(self, members: int) -> QSize:
        per_line = self.per_line(members)
        lines = -(-members // per_line)  # ceiling division
        return QSize(
            PAD + per_line * (self.card_w + PAD), HEADER + lines * (self.card_h + PAD) + PAD
        )

    def card(self, item: QRect, i: int, members: int) -> QRect:
        line, column = divmod(i, self.per_line(members))
        return QRect(
            item.left() + PAD + column * (self.card_w + PAD),
            item.top() + HEADER + line * (self.card_h + PAD),
            self.card_w,
            self.card_h,
        )

    def thumb(self, card: QRect) -> QRect:
        return QRect(card.left() + 8, card.top() + 8, self.card_w - 16, self.side)

    def keep_button(self, card: QRect) -> QRect:
        """Over the bottom of the thumbnail: one click makes this card the keeper."""
        thumb = self.thumb(card)
        width = min(thumb.width(), 84)
        return QRect(thumb.right() - width + 1, thumb.bottom() - BUTTON_H + 1, width, BUTTON_H)

    def check_mark(self, item: QRect) -> QRect:
        """The tick box in the header: in or out of "Trash duplicates"."""
        return QRect(item.left() + PAD, item.top() + 2, 20, HEADER - 4)

    def member_at(self, item: QRect, members: int, point: QPoint) -> int | None:
        for i in range(members):
            if self.card(item, i, members).contains(point):
                return i
        return None


class GroupDelegate(QStyledItemDelegate):
    def __init__(self, thumbnails: ThumbnailCache, view: QWidget, side: int = DEFAULT_SIDE) -> None:
        super().__init__()
        self.thumbnails = thumbnails
        self.view = view
        self.card_font = QFont(view.font())
        self.card_font.setPointSizeF(view.font().pointSizeF() * CARD_FONT_SCALE)
        self.layout = CardLayout.for_font(QFontMetrics(self.card_font), side)
        self._tiles: OrderedDict[int, tuple[GroupReview, tuple[object, ...], QPixmap]] = (
            OrderedDict()
        )

    def set_side(self, side: int) -> None:
        """The thumbnail size (the slider): the cards grow or shrink around it."""
        side = max(MIN_SIDE, min(MAX_SIDE, side))
        self.layout = CardLayout.for_font(QFontMetrics(self.card_font), side)
        self.sizeHintChanged.emit(QModelIndex())

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        state: GroupReview = index.data(Roles.STATE)
        return self.layout.size(len(state.members))

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        """Draws the group's tile, painted once and kept while nothing on it changes: text
        is most of a tile's cost, and scrolling repaints the same tiles again and again."""
        state: GroupReview = index.data(Roles.STATE)
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        ratio = painter.device().devicePixelRatioF()
        shown = tuple(self.thumbnails.get(m.path) is not None for m in state.members)
        key = (rect.width(), rect.height(), selected, ratio, shown, self.layout)
        cached = self._tiles.get(id(state))
        if cached is not None and cached[0] is state and cached[1] == key:
            self._tiles.move_to_end(id(state))
            painter.drawPixmap(rect.topLeft(), cached[2])
            return
        tile = QPixmap(QSize(round(rect.width() * ratio), round(rect.height() * ratio)))
        tile.setDevicePixelRatio(ratio)
        tile_painter = QPainter(tile)
        local = QStyleOptionViewItem(option)
        local.rect = QRect(0, 0, rect.width(), rect.height())
        self._paint_group(tile_painter, local, state)
        tile_painter.end()
        self._tiles[id(state)] = (state, key, tile)  # the state held: its id is not reused
        while len(self._tiles) > TILE_CACHE:
            self._tiles.popitem(last=False)
        painter.drawPixmap(rect.topLeft(), tile)

    def _paint_group(
        self, painter: QPainter, option: QStyleOptionViewItem, state: GroupReview
    ) -> None:
        painter.save()
        rect = option.rect
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, palette.highlight().color().lighter(170))
        else:
            painter.fillRect(rect, palette.base())
        painter.setPen(QColor("#bdbdbd"))
        painter.drawRect(rect.adjusted(2, 2, -3, -3))
        self._header(painter, option, rect, state)
        painter.setFont(self.card_font)
        n = len(state.members)
        for i, member in enumerate(state.members):
            self._card(painter, self.layout.card(rect, i, n), member, state)
        painter.restore()

    def _header(
        self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, state: GroupReview
    ) -> None:
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(option.palette.text().color())
        if nothing_to_trash(state):
            # Overlapping files (neither holds the other), references: nothing can go.
            head = self.tr("{n} files · all kept, nothing to trash").format(n=len(state.members))
        else:
            mark = "☑" if state.selected else "☐"
            head = self.tr("{mark} {n} files · frees {size}").format(
                mark=mark, n=len(state.members), size=human_size(state.savings)
            )
        text = f"{head} · {group_reason(state)}"
        header = QRect(rect.left() + PAD, rect.top() + 2, rect.width() - 2 * PAD, HEADER - 4)
        elided = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, header.width())
        painter.drawText(header, Qt.AlignmentFlag.AlignVCenter, elided)

    def _card(self, painter: QPainter, card: QRect, member: Member, state: GroupReview) -> None:
        kept = member.path == state.keep
        stays = kept or member.path in state.kept_out or member.reference
        overlapping = member.overlapping and not kept
        # Green: kept; amber: overlaps the keeper, so kept too; blue: stays; red: goes.
        if kept:
            border = QColor("#2e7d32")
        elif overlapping:
            border = QColor(OVERLAP)
        else:
            border = QColor("#1565c0" if stays else "#c62828")
        painter.setPen(QPen(border, 3 if kept else 1))
        painter.drawRect(card.adjusted(1, 1, -1, -1))
        self._thumbnail(painter, self.layout.thumb(card), member.path)
        if kept:
            self._badge(painter, card, self.tr("KEEP"), "#2e7d32")
        elif overlapping:
            self._badge(painter, card, self.tr("OVERLAPS"), OVERLAP)
        elif member.reference:
            self._badge(painter, card, self.tr("REFERENCE"), "#1565c0")
        elif is_identical(member):
            self._badge(painter, card, self.tr("IDENTICAL"), "#6a1b9a")
        if not kept:
            button = self.layout.keep_button(card)
            painter.fillRect(button, QColor(255, 255, 255, 220))
            painter.setPen(QColor("#2e7d32"))
            painter.drawRect(button.adjusted(0, 0, -1, -1))
            painter.drawText(button, Qt.AlignmentFlag.AlignCenter, self.tr("Keep this"))
        painter.setPen(QColor("#212121"))
        metrics = painter.fontMetrics()
        top = card.top() + 8 + self.layout.side + 6
        width = card.width() - 16
        lines = card_lines(member, state)
        for j, line in enumerate(lines):
            # Names and folders keep both ends; the status line is read from its start
            # ("98% · PNG conversion of…"), the tooltip has all of it.
            mode = (
                Qt.TextElideMode.ElideRight if j == len(lines) - 1 else Qt.TextElideMode.ElideMiddle
            )
            elided = metrics.elidedText(line, mode, width)
            painter.drawText(card.left() + 8, top + j * metrics.height() + metrics.ascent(), elided)

    def _thumbnail(self, painter: QPainter, area: QRect, path: str) -> None:
        pixmap = self.thumbnails.get(path)
        if pixmap is None:
            painter.fillRect(area, QColor("#e0e0e0"))
            painter.setPen(QColor("#616161"))
            error = self.thumbnails.error(path)
            painter.drawText(
                area, Qt.AlignmentFlag.AlignCenter, self.tr("cannot show") if error else "…"
            )
            return
        fast = Qt.TransformationMode.FastTransformation  # painted on every scroll step
        scaled = pixmap.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio, fast)
        x = area.left() + (area.width() - scaled.width()) // 2
        y = area.top() + (area.height() - scaled.height()) // 2
        painter.drawPixmap(x, y, scaled)

    def _badge(self, painter: QPainter, card: QRect, text: str, colour: str) -> None:
        width = painter.fontMetrics().horizontalAdvance(text) + 12
        badge = QRect(card.left() + 8, card.top() + 8, width, 18)
        painter.fillRect(badge, QColor(colour))
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


def card_lines(member: Member, state: GroupReview) -> list[str]:
    """The text of one card, one line each (a card is wide enough for every line but the
    name, folder and status, which are elided in the middle when long)."""
    info = member.info
    if info.taken_at:
        date = info.taken_at[:10].replace(":", "-")  # EXIF writes 2022:04:15 23:09:25
    else:
        date = time.strftime("%Y-%m-%d", time.localtime(member.mtime_ns / 1e9))
    return [
        os.path.basename(member.path),
        f"{info.width}×{info.height} · {info.format}",
        f"{human_size(member.size)} · {date}",
        os.path.basename(os.path.dirname(member.path)) + os.sep,
        card_status(state, member),
    ]
