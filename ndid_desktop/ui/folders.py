"""The folders to scan: add (dialog or drag and drop), remove, mark as reference."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ndid_desktop.engine.config import Root

EXCLUDED_ROLE = Qt.ItemDataRole.UserRole + 1


class FolderPanel(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.list = QListWidget()
        self.list.setToolTip(
            self.tr(
                "Tick a folder to make it a reference: its files are always "
                "kept and never moved to the trash."
            )
        )
        self.list.itemChanged.connect(lambda _item: self.changed.emit())
        add = QPushButton(self.tr("Add folder…"))
        add.clicked.connect(self._choose)
        remove = QPushButton(self.tr("Remove"))
        remove.clicked.connect(self._remove_selected)
        exclude = QPushButton(self.tr("Exclude subfolder…"))
        exclude.clicked.connect(self._choose_exclusion)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addWidget(exclude)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)

    def add_folder(
        self, path: str, reference: bool = False, excluded: tuple[str, ...] = ()
    ) -> None:
        if not path or path in self.paths():
            return
        item = QListWidgetItem(path)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if reference else Qt.CheckState.Unchecked)
        item.setData(EXCLUDED_ROLE, list(excluded))
        self._describe(item)
        self.list.addItem(item)
        self.changed.emit()

    def exclude(self, root: str, subfolder: str) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.text() == root:
                item.setData(EXCLUDED_ROLE, [*item.data(EXCLUDED_ROLE), subfolder])
                self._describe(item)
                self.changed.emit()

    def _describe(self, item: QListWidgetItem) -> None:
        excluded = item.data(EXCLUDED_ROLE) or []
        tip = self.tr("ticked = reference folder (protected)")
        if excluded:
            tip += "\n" + self.tr("left out:") + "\n" + "\n".join(excluded)
        item.setToolTip(tip)

    def paths(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def roots(self) -> list[Root]:
        return [
            Root(
                Path(item.text()),
                reference=item.checkState() == Qt.CheckState.Checked,
                excluded=tuple(Path(p) for p in item.data(EXCLUDED_ROLE) or []),
            )
            for item in (self.list.item(i) for i in range(self.list.count()))
        ]

    def state(self) -> list[tuple[str, bool, tuple[str, ...]]]:
        return [(str(r.path), r.reference, tuple(str(p) for p in r.excluded)) for r in self.roots()]

    def _choose_exclusion(self) -> None:
        selected = self.list.selectedItems()
        if not selected:
            return
        current = selected[0]
        folder = QFileDialog.getExistingDirectory(
            self, self.tr("Leave out this subfolder"), current.text()
        )
        if folder and Path(folder).is_relative_to(current.text()):
            self.exclude(current.text(), folder)

    def _choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Choose a folder of photos"))
        self.add_folder(folder)

    def _remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self.changed.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if Path(path).is_dir():
                self.add_folder(path)
        event.acceptProposedAction()
