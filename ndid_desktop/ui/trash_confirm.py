"""The trash confirmation: which groups (the scope), which files go and which stay, as words
and as a strip of thumbnails, the total size; "No" is the default, so Enter never trashes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ndid_desktop.engine.actions import GroupChoice, TrashPlan
from ndid_desktop.engine.actions.review import GroupReview
from ndid_desktop.ui.group_delegate import human_size
from ndid_desktop.ui.thumbnails import ThumbnailCache

STRIP_SIDE = 72
STRIP_MAX = 60  # thumbnails in each strip; the words list every file


@dataclass(frozen=True)
class TrashScope:
    """One answer to "which groups?": the groups, their choices and the plan checked for them."""

    label: str  # e.g. "the 1 selected group"
    states: tuple[GroupReview, ...]
    choices: tuple[GroupChoice, ...]
    plan: TrashPlan

    @property
    def going(self) -> frozenset[str]:
        return frozenset(p.file.path for p in self.plan.trash)

    @property
    def staying(self) -> tuple[str, ...]:
        going = self.going
        return tuple(p for s in self.states for p in s.paths if p not in going)


def _tr(text: str) -> str:
    return QCoreApplication.translate("trash_confirm", text)


def plural(n: int, one: str, many: str) -> str:
    return (one if n == 1 else many).format(n=n)


def short_name(path: str) -> str:
    """Folder and name: copies often share a name (IMG_8843.HEIC in DCIM and in a backup)."""
    return os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path))


def describe(scope: TrashScope) -> str:
    """Every group of the scope: the files kept and the files that go, by folder and name."""
    going = scope.going
    lines = []
    for state in scope.states:
        gone = [short_name(p) for p in state.paths if p in going]
        kept = [short_name(p) for p in state.paths if p not in going]
        lines.append(
            _tr("keep {kept}; move to the trash: {gone}").format(
                kept=", ".join(kept), gone=", ".join(gone) or _tr("nothing")
            )
        )
    return "\n".join(lines)


class TrashConfirmDialog(QDialog):
    def __init__(
        self,
        scopes: Sequence[TrashScope],
        default: int,
        thumbnails: ThumbnailCache,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Move to trash"))
        self.resize(820, 620)
        self.scopes = list(scopes)
        self.thumbnails = thumbnails
        self.scope_buttons = QButtonGroup(self)
        scope_box = QVBoxLayout()
        for i, scope in enumerate(self.scopes):
            button = QRadioButton(scope.label)
            self.scope_buttons.addButton(button, i)
            scope_box.addWidget(button)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details = QScrollArea()
        details.setWidgetResizable(True)
        details.setWidget(self.details)
        self.going_strip = _strip()
        self.staying_strip = _strip()
        self.yes = QPushButton()
        self.no = QPushButton(self.tr("No, keep everything"))
        # Enter answers No: trashing takes a deliberate click (issue 14).
        self.yes.setAutoDefault(False)
        self.no.setAutoDefault(True)
        self.no.setDefault(True)
        self.yes.clicked.connect(self.accept)
        self.no.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.yes)
        buttons.addWidget(self.no)
        layout = QVBoxLayout(self)
        layout.addLayout(scope_box)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel(self.tr("<b>Goes to the trash</b>")))
        layout.addWidget(self.going_strip)
        layout.addWidget(QLabel(self.tr("<b>Stays</b>")))
        layout.addWidget(self.staying_strip)
        layout.addWidget(details, 1)
        layout.addLayout(buttons)
        self.scope_buttons.idToggled.connect(self._toggled)
        self.scope_buttons.button(default).setChecked(True)
        self._show(default)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.no.setFocus()

    @property
    def chosen(self) -> TrashScope:
        return self.scopes[max(self.scope_buttons.checkedId(), 0)]

    def _toggled(self, i: int, on: bool) -> None:
        if on:
            self._show(i)

    def _show(self, i: int) -> None:
        scope = self.scopes[i]
        plan = scope.plan
        self.summary.setText(
            self.tr(
                "Move {files} ({size}) from {groups} to the trash; {kept}. "
                "The trash keeps them until you empty it, and History can put them back."
            ).format(
                files=plural(len(plan.trash), self.tr("1 file"), self.tr("{n} files")),
                size=human_size(plan.bytes),
                groups=plural(len(scope.states), self.tr("1 group"), self.tr("{n} groups")),
                kept=plural(len(scope.staying), self.tr("1 file stays"), self.tr("{n} files stay")),
            )
        )
        text = describe(scope)
        if plan.refused:
            text += "\n\n" + self.tr("{n} files will not be touched:").format(n=len(plan.refused))
            text += "\n" + "\n".join(f"{r.path}: {r.reason}" for r in plan.refused[:10])
        self.details.setText(text)
        files = plural(len(plan.trash), self.tr("1 file"), self.tr("{n} files"))
        self.yes.setText(self.tr("Yes, move {files}").format(files=files))
        self.yes.setEnabled(bool(plan.trash))
        going = [p.file.path for p in plan.trash]
        self._fill(self.going_strip, going, "#c62828")
        self._fill(self.staying_strip, list(scope.staying), "#2e7d32")

    def _fill(self, strip: QListWidget, paths: list[str], colour: str) -> None:
        strip.clear()
        for path in paths[:STRIP_MAX]:
            item = QListWidgetItem(_icon(self.thumbnails, path, colour), "")
            item.setToolTip(path)
            item.setData(Qt.ItemDataRole.UserRole, (path, colour))
            strip.addItem(item)

    def _thumbnail_ready(self, path: str) -> None:
        for strip in (self.going_strip, self.staying_strip):
            for i in range(strip.count()):
                item = strip.item(i)
                shown, colour = item.data(Qt.ItemDataRole.UserRole)
                if shown == path:
                    item.setIcon(_icon(self.thumbnails, path, colour))

    def strip_paths(self, which: str) -> list[str]:
        strip = self.going_strip if which == "going" else self.staying_strip
        return [strip.item(i).data(Qt.ItemDataRole.UserRole)[0] for i in range(strip.count())]


def _strip() -> QListWidget:
    strip = QListWidget()
    strip.setViewMode(QListView.ViewMode.IconMode)
    strip.setFlow(QListView.Flow.LeftToRight)
    strip.setWrapping(False)
    strip.setIconSize(QSize(STRIP_SIDE, STRIP_SIDE))
    strip.setFixedHeight(STRIP_SIDE + 28)
    strip.setSelectionMode(QListView.SelectionMode.NoSelection)
    strip.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return strip


def _icon(thumbnails: ThumbnailCache, path: str, colour: str) -> QIcon:
    """The thumbnail in a coloured frame (red: goes; green: stays), grey while it loads."""
    canvas = QPixmap(STRIP_SIDE, STRIP_SIDE)
    canvas.fill(QColor("#e0e0e0"))
    painter = QPainter(canvas)
    pixmap = thumbnails.get(path)
    if pixmap is not None:
        scaled = pixmap.scaled(
            STRIP_SIDE - 6, STRIP_SIDE - 6, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )  # fmt: skip
        painter.drawPixmap(
            (STRIP_SIDE - scaled.width()) // 2, (STRIP_SIDE - scaled.height()) // 2, scaled
        )
    painter.setPen(QPen(QColor(colour), 3))
    painter.drawRect(1, 1, STRIP_SIDE - 3, STRIP_SIDE - 3)
    painter.end()
    return QIcon(canvas)
