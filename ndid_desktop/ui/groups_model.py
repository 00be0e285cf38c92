"""The review list: one row per group. The user's decisions (keeper, selected for trash, split,
not duplicates) live in the engine's Review (engine/actions/review.py); this model shows it to
Qt views and tells them which rows changed, nothing more."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from ndid_desktop.engine.actions.review import GroupReview, KeeperRule, Review, SortKey
from ndid_desktop.engine.types import Group
from ndid_desktop.ui.card_text import group_reason

Index = QModelIndex | QPersistentModelIndex


class Roles(IntEnum):
    GROUP = Qt.ItemDataRole.UserRole + 1
    KEEP = Qt.ItemDataRole.UserRole + 2  # path of the file the user keeps
    SAVINGS = Qt.ItemDataRole.UserRole + 3  # bytes freed by trashing the others
    PROBABILITY = Qt.ItemDataRole.UserRole + 4  # the weakest member's match probability
    SELECTED = Qt.ItemDataRole.UserRole + 5  # chosen for "trash the others"
    STATE = Qt.ItemDataRole.UserRole + 6  # the whole GroupReview (keeper, exclusions, ...)


class GroupListModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._review = Review()
        self._sort_key: SortKey = "savings"  # what the sort box shows, applied to every review

    # --- Qt model interface
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._review)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._review):
            return None
        state = self._review[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.tr("{n} files — keep {name}").format(
                n=len(state.members), name=os.path.basename(state.keep)
            )
        if role == Qt.ItemDataRole.ToolTipRole:
            return group_reason(state)
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if state.selected else Qt.CheckState.Unchecked
        if role == Roles.GROUP:
            return state.group
        if role == Roles.KEEP:
            return state.keep
        if role == Roles.SAVINGS:
            return state.savings
        if role == Roles.PROBABILITY:
            return state.weakest
        if role == Roles.SELECTED:
            return state.selected
        if role == Roles.STATE:
            return state
        return None

    def setData(self, index: Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid():
            return False
        row = index.row()
        if role == Qt.ItemDataRole.CheckStateRole:
            checked = Qt.CheckState(value) == Qt.CheckState.Checked
            self._review = self._review.select(row, checked)
        elif role == Roles.KEEP and isinstance(value, str):
            if value not in self._review[row].paths:
                return False
            self._review = self._review.choose_keeper(row, value)
        else:
            return False
        self.dataChanged.emit(index, index)  # every role: labels, reason and savings follow
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsUserCheckable
        )

    # --- our interface: each call replaces the review and signals the rows it touched
    @property
    def review(self) -> Review:
        return self._review

    def set_groups(self, groups: Sequence[Group]) -> None:
        self.set_review(Review.from_groups(groups))

    def set_review(self, review: Review) -> None:
        """Show ``review``, in the order the sort box says."""
        self.beginResetModel()
        self._review = review.sorted_by(self._sort_key)
        self.endResetModel()

    @property
    def sort_key(self) -> SortKey:
        return self._sort_key

    def state(self, row: int) -> GroupReview:
        return self._review[row]

    def states(self) -> list[GroupReview]:
        return list(self._review.groups)

    def next_keeper(self, row: int) -> None:
        self._review = self._review.next_keeper(row)
        self.dataChanged.emit(self.index(row), self.index(row))

    def choose_keeper(self, row: int, path: str) -> bool:
        """Make ``path`` the file this group keeps (one click on its card)."""
        return self.setData(self.index(row), path, Roles.KEEP)

    def split(self, row: int, moved: Collection[str]) -> None:
        """Split a group in place (see Review.split): its row goes, its parts come in."""
        after = self._review.split(row, moved)
        added = len(after) - len(self._review) + 1  # 0, 1 or 2 parts kept as groups
        self.beginRemoveRows(QModelIndex(), row, row)
        self._review = self._review.remove([row])
        self.endRemoveRows()
        if added:
            self.beginInsertRows(QModelIndex(), row, row + added - 1)
            self._review = after
            self.endInsertRows()

    def remove_rows(self, rows: Sequence[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            self.beginRemoveRows(QModelIndex(), row, row)
            self._review = self._review.remove([row])
            self.endRemoveRows()

    def remove_trashed(self, trashed: Collection[str]) -> None:
        """Drop the ticked groups that have nothing left to decide after a trash action."""
        self.remove_rows(self._review.emptied_by(trashed))

    def rows_with(self, path: str) -> list[int]:
        return self._review.rows_with(path)

    def keep_suggested(self) -> None:
        self._replace_keepers(self._review.keep_suggested())

    def keep_by_rule(self, rule: KeeperRule, folder: str = "") -> None:
        """Choose the keeper of every group: 'resolution', 'oldest', or 'folder' (files under
        ``folder`` first). Reference files always stay keepers."""
        self._replace_keepers(self._review.apply_rule(rule, folder))

    def sort_by(self, key: SortKey) -> None:
        """'savings' (largest first), 'probability' (least sure first) or 'folder'."""
        self.layoutAboutToBeChanged.emit()
        self._sort_key = key
        before = self._review.groups
        self._review = self._review.sorted_by(key)
        # Selections and the current row follow their groups to the new rows.
        moved_to = {id(g): row for row, g in enumerate(self._review.groups)}
        for old in self.persistentIndexList():
            row = moved_to[id(before[old.row()])]
            self.changePersistentIndex(old, self.index(row))
        self.layoutChanged.emit()

    def _replace_keepers(self, review: Review) -> None:
        self._review = review
        if len(review):
            self.dataChanged.emit(self.index(0), self.index(len(review) - 1))
