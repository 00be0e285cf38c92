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

from ..engine.config import Root


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
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)

    def add_folder(self, path: str, reference: bool = False) -> None:
        if not path or path in self.paths():
            return
        item = QListWidgetItem(path)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if reference else Qt.CheckState.Unchecked)
        item.setToolTip(self.tr("ticked = reference folder (protected)"))
        self.list.addItem(item)
        self.changed.emit()

    def paths(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def roots(self) -> list[Root]:
        return [
            Root(Path(item.text()), reference=item.checkState() == Qt.CheckState.Checked)
            for item in (self.list.item(i) for i in range(self.list.count()))
        ]

    def state(self) -> list[tuple[str, bool]]:
        return [(str(r.path), r.reference) for r in self.roots()]

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
