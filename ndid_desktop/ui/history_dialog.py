"""What NDID moved to the trash, with a Restore button where the platform's trash allows."""

from __future__ import annotations

import time

from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..engine.actions import Journal, restore


class HistoryDialog(QDialog):
    def __init__(self, journal: Journal, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("History"))
        self.resize(900, 500)
        self.journal = journal
        self.list = QListWidget()
        self.message = QLabel()
        self.message.setWordWrap(True)
        restore_button = QPushButton(self.tr("Restore selected"))
        restore_button.clicked.connect(self._restore)
        close = QPushButton(self.tr("Close"))
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(restore_button)
        buttons.addStretch()
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._fill()

    def _fill(self) -> None:
        self.list.clear()
        for entry in reversed(self.journal.entries()):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(str(entry.get("time", 0)))))
            text = f"{when}  {entry.get('action')}  {entry.get('status', '')}  {entry.get('path')}"
            item = QListWidgetItem(text)
            item.setData(256, entry)
            self.list.addItem(item)

    def _restore(self) -> None:
        messages = []
        for item in self.list.selectedItems():
            entry = item.data(256)
            if entry.get("action") == "trash" and entry.get("status") == "trashed":
                message = restore(str(entry["path"]))
                self.journal.append({"action": "restore", "time": time.time(),
                                     "path": entry["path"], "message": message})  # fmt: skip
                messages.append(message)
        self.message.setText("\n".join(messages) or self.tr("Select a trashed file first."))
        self._fill()
