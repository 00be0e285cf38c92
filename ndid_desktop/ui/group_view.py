"""The review grid: groups flow several to a line, and a click on a card's "Keep this" button,
a double click on a card, or a click on a group's tick box says which file it was about."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QHelpEvent, QMouseEvent
from PySide6.QtWidgets import QListView, QToolTip, QWidget

from ndid_desktop.engine.actions.review import GroupReview
from ndid_desktop.ui.card_text import card_status
from ndid_desktop.ui.group_delegate import GroupDelegate
from ndid_desktop.ui.groups_model import Roles
from ndid_desktop.ui.thumbnails import ThumbnailCache


class GroupView(QListView):
    keep_clicked = Signal(int, str)  # row, path: make this file the keeper
    card_activated = Signal(int, str)  # row, path: compare this file with the keeper
    tick_clicked = Signal(int)  # row: in or out of "Trash duplicates"

    def __init__(self, thumbnails: ThumbnailCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.delegate = GroupDelegate(thumbnails, self)
        self.setItemDelegate(self.delegate)
        # Dense: groups flow left to right and wrap, several to a line.
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(2)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(False)

    def set_thumbnail_side(self, side: int) -> None:
        self.delegate.set_side(side)
        self.scheduleDelayedItemsLayout()

    def hit(self, point: QPoint) -> tuple[int, str | None, str]:
        """(row, member path or None, part) under ``point``; part is 'keep', 'tick', 'card',
        'group' or '' (row -1) for the empty space between groups."""
        index = self.indexAt(point)
        if not index.isValid():
            return -1, None, ""
        state: GroupReview = index.data(Roles.STATE)
        item = self.visualRect(index)
        layout = self.delegate.layout
        if layout.check_mark(item).contains(point):
            return index.row(), None, "tick"
        i = layout.member_at(item, len(state.members), point)
        if i is None:
            return index.row(), None, "group"
        path = state.members[i].path
        card = layout.card(item, i, len(state.members))
        if path != state.keep and layout.keep_button(card).contains(point):
            return index.row(), path, "keep"
        return index.row(), path, "card"

    def card_tooltip(self, point: QPoint) -> str:
        """The whole of what a card elides: its path, its status and the engine's reason."""
        row, path, _ = self.hit(point)
        if path is None:
            return ""
        state: GroupReview = self.model().index(row, 0).data(Roles.STATE)
        member = next(m for m in state.members if m.path == path)
        lines = [path, card_status(state, member)]
        if member.reason and member.reason not in lines:
            lines.append(member.reason)
        return "\n".join(lines)

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.card_tooltip(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
                return True
        return super().viewportEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if event.button() != Qt.MouseButton.LeftButton:
            return
        row, path, part = self.hit(event.position().toPoint())
        if part == "keep" and path is not None:
            self.keep_clicked.emit(row, path)
        elif part == "tick":
            self.tick_clicked.emit(row)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        row, path, part = self.hit(event.position().toPoint())
        if part in ("card", "keep") and path is not None:
            self.card_activated.emit(row, path)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)
