"""The review list: one row per group, with the user's choices (keeper, selected for trash,
not duplicates) held beside the engine's read-only report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from ndid_desktop.engine.types import Group, Member

Index = QModelIndex | QPersistentModelIndex


class Roles(IntEnum):
    GROUP = Qt.ItemDataRole.UserRole + 1
    KEEP = Qt.ItemDataRole.UserRole + 2  # path of the file the user keeps
    SAVINGS = Qt.ItemDataRole.UserRole + 3  # bytes freed by trashing the others
    PROBABILITY = Qt.ItemDataRole.UserRole + 4  # the weakest member's match probability
    SELECTED = Qt.ItemDataRole.UserRole + 5  # chosen for "trash the others"


@dataclass
class GroupState:
    group: Group
    keep: str
    selected: bool = True
    members: list[Member] = field(default_factory=list)

    @property
    def savings(self) -> int:
        return sum(m.size for m in self.members if m.path != self.keep and not m.reference)

    @property
    def weakest(self) -> float:
        return min((m.probability for m in self.members if m.path != self.group.keep), default=1.0)


class GroupListModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[GroupState] = []

    # --- Qt model interface
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        state = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.tr("{n} files — keep {name}").format(
                n=len(state.members), name=os.path.basename(state.keep)
            )
        if role == Qt.ItemDataRole.ToolTipRole:
            return state.group.reason
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
        return None

    def setData(self, index: Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid():
            return False
        state = self._rows[index.row()]
        if role == Qt.ItemDataRole.CheckStateRole:
            state.selected = Qt.CheckState(value) == Qt.CheckState.Checked
        elif role == Roles.KEEP and isinstance(value, str):
            if value not in {m.path for m in state.members}:
                return False
            state.keep = value
        else:
            return False
        self.dataChanged.emit(index, index, [role])
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsUserCheckable
        )

    # --- our interface
    def set_groups(self, groups: Sequence[Group]) -> None:
        self.beginResetModel()
        self._rows = [GroupState(g, g.keep, True, list(g.members)) for g in groups]
        self.endResetModel()

    def state(self, row: int) -> GroupState:
        return self._rows[row]

    def states(self) -> list[GroupState]:
        return list(self._rows)

    def split(self, row: int, moved: set[str]) -> None:
        """Move the ``moved`` members of a group into a group of their own; a part left with a
        single file is no group any more."""
        state = self._rows[row]
        parts = [
            [m for m in state.members if m.path not in moved],
            [m for m in state.members if m.path in moved],
        ]
        new_rows = [_state_of(part) for part in parts if len(part) > 1]
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self.endRemoveRows()
        if new_rows:
            self.beginInsertRows(QModelIndex(), row, row + len(new_rows) - 1)
            self._rows[row:row] = new_rows
            self.endInsertRows()

    def remove_rows(self, rows: Sequence[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()

    def rows_with(self, path: str) -> list[int]:
        return [i for i, s in enumerate(self._rows) if any(m.path == path for m in s.members)]

    def keep_suggested(self) -> None:
        for state in self._rows:
            state.keep = state.group.keep
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1), [Roles.KEEP])

    def keep_by_rule(self, rule: str, folder: str = "") -> None:
        """Choose the keeper of every group: 'resolution', 'oldest', or 'folder' (files under
        ``folder`` first). Reference files always stay keepers."""
        for state in self._rows:
            refs = [m for m in state.members if m.reference]
            if refs:
                state.keep = refs[0].path
                continue
            if rule == "resolution":
                state.keep = max(state.members, key=lambda m: (m.info.pixels, m.size)).path
            elif rule == "oldest":
                state.keep = min(state.members, key=lambda m: (m.mtime_ns, m.path)).path
            elif rule == "folder":
                inside = [
                    m for m in state.members if m.path.startswith(folder.rstrip(os.sep) + os.sep)
                ]
                if inside:
                    state.keep = inside[0].path
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1), [Roles.KEEP])

    def sort_by(self, key: str) -> None:
        """'savings' (largest first), 'probability' (least sure first) or 'folder'."""
        self.layoutAboutToBeChanged.emit()
        if key == "savings":
            self._rows.sort(key=lambda s: -s.savings)
        elif key == "probability":
            self._rows.sort(key=lambda s: s.weakest)
        else:
            self._rows.sort(key=lambda s: os.path.dirname(s.keep))
        self.layoutChanged.emit()


def _state_of(members: list[Member]) -> GroupState:
    """A group made by hand: the reference file, else the highest resolution, is kept."""
    keeper = max(members, key=lambda m: (m.reference, m.info.pixels, m.size))
    ordered = [keeper, *[m for m in members if m is not keeper]]
    group = Group(keeper.path, "kept: chosen when the group was split by hand", tuple(ordered))
    return GroupState(group, keeper.path, True, ordered)
