"""What NDID moved to the trash, with a Restore button where the platform's trash allows."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ndid_desktop.engine.actions import (
    ActionLockError,
    Journal,
    JournalEntry,
    TrashLocator,
    restore,
)


class HistoryDialog(QDialog):
    def __init__(
        self, journal: Journal, locate: TrashLocator | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.locate = locate
        self.setWindowTitle(self.tr("History"))
        self.resize(900, 500)
        self.journal = journal
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.itemSelectionChanged.connect(self._update_button)
        self.empty = QLabel(
            self.tr(
                "Nothing has been moved to the trash yet.\n\nWhen you trash duplicates, every "
                "file moved is listed here, and you can put it back with Restore."
            )
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(self.list)
        self.message = QLabel()
        self.message.setWordWrap(True)
        restore_button = QPushButton(self.tr("Restore selected"))
        restore_button.clicked.connect(self._restore)
        self.restore_button = restore_button
        close = QPushButton(self.tr("Close"))
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(restore_button)
        buttons.addStretch()
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._fill()

    def _fill(self) -> None:
        self._reconcile()
        self.list.clear()
        reading = self.journal.read()
        for entry in reversed(reading.entries):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.time))
            text = f"{when}  {entry.action}  {entry.status}  {entry.path}"
            if entry.message:
                text += f"  ({entry.message})"
            item = QListWidgetItem(
                text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            )
            item.setData(256, entry)
            self.list.addItem(item)
        self.pages.setCurrentWidget(self.list if reading.entries else self.empty)
        notes = []
        if reading.problem:  # not "nothing moved": NDID cannot tell
            unreadable = self.tr("The journal cannot be read: {why}").format(why=reading.problem)
            self.empty.setText(unreadable)
            notes.append(unreadable)
        if reading.damaged:
            notes.append(
                self.tr("{n} damaged lines of the journal were skipped.").format(n=reading.damaged)
            )
        if notes:
            self.message.setText("\n".join(notes))
        self._update_button()

    def _update_button(self) -> None:
        """Restore is for trashed files only, and only once one is selected."""
        chosen = self.list.selectedItems()
        self.restore_button.setEnabled(any(_restorable(i.data(256)) for i in chosen))

    def _reconcile(self) -> None:
        from ndid_desktop.engine.actions import default_locator

        try:
            with self.journal.exclusive(wait=0):
                self.journal.reconcile(self.locate or default_locator())
        except (ActionLockError, OSError):
            pass  # an action is running (its open entries are its own), or the folder is read-only

    def _restore(self) -> None:
        messages = []
        for item in self.list.selectedItems():
            entry: JournalEntry = item.data(256)
            if _restorable(entry):
                message = restore(entry.path)
                status = "restored" if message.startswith("restored") else "not restored"
                self.journal.append({"action": "restore", "path": entry.path, "status": status,
                                     "message": message})  # fmt: skip
                messages.append(message)
        self.message.setText("\n".join(messages) or self.tr("Select a trashed file first."))
        self._fill()


def _restorable(entry: JournalEntry) -> bool:
    return entry.action == "trash" and entry.status == "trashed"
