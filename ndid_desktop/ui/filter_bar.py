"""The bar above the review grid: show only the groups in a folder, with a kind of difference,
in a probability range, or holding a path; and the thumbnail size. Rows that do not match are
hidden in the view (the model keeps them, so every row number stays the review's)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QSlider, QWidget

from ndid_desktop.engine.actions.review import GroupReview
from ndid_desktop.engine.types import Member
from ndid_desktop.ui.group_delegate import DEFAULT_SIDE, MAX_SIDE, MIN_SIDE
from ndid_desktop.ui.group_view import GroupView
from ndid_desktop.ui.groups_model import GroupListModel

Kind = Literal["", "exact", "resized", "edited", "overlapping"]
KINDS: tuple[tuple[Kind, str], ...] = (
    ("", "any difference"),
    ("exact", "exact copies"),
    ("resized", "resized"),
    ("edited", "edited"),
    ("overlapping", "overlapping"),
)
# (lowest, highest) of the group's least sure match
PROBABILITIES: tuple[tuple[float, float, str], ...] = (
    (0.0, 1.0, "any probability"),
    (0.99, 1.0, "sure (99% or more)"),
    (0.9, 0.99, "90% to 99%"),
    (0.0, 0.9, "less sure (under 90%)"),
)
RESIZED = 0.05  # |log area ratio| above this: the copy has another size


def _tr(text: str) -> str:
    return QCoreApplication.translate("filter_bar", text)


def member_kind(member: Member) -> Kind:
    """The kind of difference between a member and the keeper, from the engine's marks and
    signals: identical copy, overlapping, another size, or otherwise edited."""
    if member.signals.get("identical"):
        return "exact"
    if member.overlapping:
        return "overlapping"
    area = member.signals.get("area_log_ratio")
    if isinstance(area, int | float) and math.isfinite(area) and abs(area) > RESIZED:
        return "resized"
    return "edited"


@dataclass(frozen=True)
class GroupFilter:
    folder: str = ""  # a group shows if one of its files is in this folder (or below)
    kind: Kind = ""
    low: float = 0.0
    high: float = 1.0
    text: str = ""  # part of a path, any case

    def matches(self, state: GroupReview) -> bool:
        paths = state.paths
        if self.folder:
            prefix = self.folder.rstrip(os.sep) + os.sep
            if not any(p.startswith(prefix) for p in paths):
                return False
        if self.kind:
            others = [m for m in state.members if m.path != state.group.keep]
            if not any(member_kind(m) == self.kind for m in others):
                return False
        weakest = state.weakest
        if not (self.low <= weakest and (weakest < self.high or self.high >= 1.0)):
            return False
        if self.text:
            needle = self.text.casefold()
            if not any(needle in p.casefold() for p in paths):
                return False
        return True


class FilterBar(QWidget):
    def __init__(self, model: GroupListModel, view: GroupView, parent: QWidget | None = None):
        super().__init__(parent)
        self.model, self.view = model, view
        self.folder = QComboBox()
        self.folder.setMinimumContentsLength(16)
        self.folder.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.kind = QComboBox()
        for key, label in KINDS:
            self.kind.addItem(_tr(label), key)
        self.probability = QComboBox()
        for low, high, label in PROBABILITIES:
            self.probability.addItem(_tr(label), (low, high))
        self.search = QLineEdit()
        self.search.setPlaceholderText(_tr("Search a path…"))
        self.search.setClearButtonEnabled(True)
        self.thumb_size = QSlider(Qt.Orientation.Horizontal)
        self.thumb_size.setRange(MIN_SIDE, MAX_SIDE)
        self.thumb_size.setValue(DEFAULT_SIDE)
        self.thumb_size.setFixedWidth(120)
        self.thumb_size.setToolTip(_tr("Thumbnail size"))
        self.shown = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self.folder, self.kind, self.probability):
            layout.addWidget(widget)
        layout.addWidget(self.search, 1)
        layout.addWidget(self.shown)
        layout.addWidget(QLabel(_tr("Size")))
        layout.addWidget(self.thumb_size)
        for box in (self.folder, self.kind, self.probability):
            box.currentIndexChanged.connect(self.apply)
        self.search.textChanged.connect(self.apply)
        self.thumb_size.valueChanged.connect(self.view.set_thumbnail_side)
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved):
            signal.connect(self._refill_folders)
        model.layoutChanged.connect(self.apply)
        self._refill_folders()

    def current(self) -> GroupFilter:
        low, high = self.probability.currentData() or (0.0, 1.0)
        return GroupFilter(
            folder=self.folder.currentData() or "",
            kind=self.kind.currentData() or "",
            low=low,
            high=high,
            text=self.search.text().strip(),
        )

    def apply(self) -> None:
        chosen = self.current()
        states = self.model.states()
        shown = 0
        for row, state in enumerate(states):
            visible = chosen.matches(state)
            shown += visible
            self.view.setRowHidden(row, not visible)
        text = _tr("{n} of {m} groups").format(n=shown, m=len(states))
        self.shown.setText(text if states else "")

    def _refill_folders(self) -> None:
        keep = self.folder.currentData() or ""
        folders = sorted({os.path.dirname(p) for s in self.model.states() for p in s.paths})
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem(_tr("all folders"), "")
        for folder in folders:
            self.folder.addItem(folder, folder)
        index = self.folder.findData(keep)
        self.folder.setCurrentIndex(max(index, 0))
        self.folder.blockSignals(False)
        self.apply()
