"""The main window: folders and scan on the left, the review list in the middle."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSettings, Qt, QThread
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ndid_desktop.engine.actions import (
    ActionLockError,
    GroupChoice,
    Journal,
    Outcome,
    PlanRejected,
    RecordError,
    TrashFunction,
    TrashLocator,
    TrashPlan,
    execute,
    load_record,
    plan_trash,
    restore,
)
from ndid_desktop.engine.actions.review import GroupReview, Review, SortKey
from ndid_desktop.engine.actions.verdicts import Verdicts
from ndid_desktop.engine.config import DEFAULT_EXTENSIONS, ScanConfig
from ndid_desktop.engine.progress import ProgressEvent
from ndid_desktop.engine.types import ScanReport
from ndid_desktop.ui.folders import FolderPanel
from ndid_desktop.ui.group_delegate import human_size
from ndid_desktop.ui.group_view import GroupView
from ndid_desktop.ui.groups_model import GroupListModel, Roles
from ndid_desktop.ui.progress_text import StageClock, describe
from ndid_desktop.ui.settings_dialog import SettingsDialog, UserSettings
from ndid_desktop.ui.thumbnails import ThumbnailCache
from ndid_desktop.ui.trash_confirm import TrashConfirmDialog, TrashScope, plural
from ndid_desktop.ui.worker import ScanFunction, ScanWorker, engine_scan
from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

SORT_KEYS: tuple[SortKey, ...] = ("savings", "probability", "folder")
RestoreFunction = Callable[[str], str]  # puts a trashed file back; says what happened


@dataclass(frozen=True)
class AppContext:
    """What the window needs from outside, built once in app.py (no globals)."""

    data_dir: Path
    settings: QSettings
    trash: TrashFunction | None = None  # None = the system trash (tests inject a fake)
    locate: TrashLocator | None = None  # finds a file in that trash (for interrupted runs)
    user_locks: tuple[Path, ...] = ()  # held by every NDID process of the user while trashing
    confirm: bool = True  # tests answer the confirmation themselves
    scan: ScanFunction = engine_scan  # tests hand in a stand-in that returns a prepared report
    restore_file: RestoreFunction = restore  # Undo after trashing (tests: from their fake trash)

    @property
    def folder(self) -> DataFolder:
        """Where each of NDID's files lives under ``data_dir``."""
        return DataFolder.at(self.data_dir)


class MainWindow(QMainWindow):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.setWindowTitle(self.tr("NDID Desktop — duplicate photo finder"))
        self.report: ScanReport | None = None
        self.worker: ScanWorker | None = None
        self.scan_thread: QThread | None = None
        self._clock = StageClock()
        self._undo: tuple[Review, tuple[str, ...]] | None = None  # the review before, the files
        self.journal = Journal(context.folder.journal, context.user_locks)
        self.verdicts = Verdicts(context.folder.verdicts)

        self.folders = FolderPanel()
        self.model_set = QComboBox()
        self.model_set.addItems(["standard", "fast", "thorough", "copydetect"])
        self.model_set.setToolTip(
            self.tr(
                "standard: works offline; fast: hashes only; "
                "thorough: ResNet-50 + CLIP (needs their weights); "
                "copydetect: Meta's SSCD copy-detection model (needs its TorchScript file)"
            )
        )
        self.scan_button = QPushButton(self.tr("Scan"))
        self.scan_button.clicked.connect(self.start_scan)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_scan)
        self.progress = QProgressBar()
        self.status = QLabel()
        self.status.setWordWrap(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel(self.tr("<b>Folders</b> (tick = reference, never cleaned)")))
        left_layout.addWidget(self.folders, 1)
        left_layout.addWidget(QLabel(self.tr("Models")))
        left_layout.addWidget(self.model_set)
        buttons = QHBoxLayout()
        buttons.addWidget(self.scan_button)
        buttons.addWidget(self.cancel_button)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.progress)
        left_layout.addWidget(self.status)

        self.thumbnails = ThumbnailCache(parent=self)
        self.groups = GroupListModel(self)
        self.view = GroupView(self.thumbnails)
        self.view.setModel(self.groups)
        self.view.keep_clicked.connect(self.choose_keeper)
        self.view.card_activated.connect(self.compare_member)
        self.view.tick_clicked.connect(self.toggle_row)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.placeholder = QLabel()
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.review = QStackedWidget()
        self.review.addWidget(self.placeholder)
        self.review.addWidget(self.view)
        self.undo_button = QPushButton(self.tr("Undo"))
        self.undo_button.setToolTip(self.tr("Put the files just moved back where they were"))
        self.undo_button.clicked.connect(self.undo_trash)
        self.undo_button.hide()
        self.statusBar().addPermanentWidget(self.undo_button)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self._review_pane())
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 1000])
        self.setCentralWidget(splitter)
        self._actions()
        self._restore()
        self.folders.changed.connect(self._show_ready)
        for signal in (
            self.groups.modelReset, self.groups.rowsInserted, self.groups.rowsRemoved,
            self.groups.dataChanged, self.groups.layoutChanged,
            self.view.selectionModel().selectionChanged, self.view.selectionModel().currentChanged,
        ):  # fmt: skip
            signal.connect(self._update_actions)
        self._show_ready()
        self._update_actions()

    def _review_pane(self) -> QWidget:
        """The review grid with its bar: filters, path search and the thumbnail size."""
        from ndid_desktop.ui.filter_bar import FilterBar

        self.filter_bar = FilterBar(self.groups, self.view)
        pane = QWidget()
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.review, 1)
        return pane

    def _show_ready(self) -> None:
        """The first words say what to do next, for the folders actually in the list."""
        if self.worker is not None or self.report is not None:
            return
        n = len(self.folders.paths())
        if n:
            ready = self.tr("Press Scan to look for duplicates in the {n} folders on the left.")
            text = ready.format(n=n)
        else:
            text = self.tr("Add the folders that hold your photos on the left, then Scan.")
        self.placeholder.setText(text + "\n" + self.tr("Groups of duplicates appear here."))
        self.status.setText(text)

    # --- actions and keyboard
    def _actions(self) -> None:
        bar = QToolBar(self.tr("Actions"))
        self.addToolBar(bar)
        self._needs: dict[QAction, str] = {}

        def action(
            text: str,
            slot: object,
            shortcut: QKeySequence | QKeySequence.StandardKey | Qt.Key | str | None = None,
            needs: str = "",
        ) -> QAction:
            a = QAction(text, self)
            if needs:  # "groups": any group on the list; "row": a group selected
                self._needs[a] = needs
            a.triggered.connect(slot)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            bar.addAction(a)
            return a

        self.trash_action = action(
            self.tr("Trash duplicates…"), self.trash_selected, QKeySequence.StandardKey.Delete,
            "trash",
        )  # fmt: skip
        self.compare_action = action(
            self.tr("Compare"), self.compare_selected, Qt.Key.Key_Return, "row"
        )
        action(self.tr("Toggle group"), self.toggle_selected, Qt.Key.Key_Space, "row")
        action(self.tr("Next keeper"), self.next_keeper, "K", "row")
        action(self.tr("Not duplicates"), self.mark_not_duplicates, None, "row")
        action(self.tr("Split group…"), self.split_group, None, "row")
        bar.addSeparator()
        action(self.tr("Keep suggested"), self.groups.keep_suggested, None, "groups")
        action(
            self.tr("Keep highest resolution"),
            lambda: self.groups.keep_by_rule("resolution"), None, "groups",
        )  # fmt: skip
        action(self.tr("Keep oldest"), lambda: self.groups.keep_by_rule("oldest"), None, "groups")
        action(self.tr("Keep in folder…"), self.keep_in_folder, None, "groups")
        bar.addSeparator()
        self.sort = QComboBox()
        self.sort.addItems(
            [self.tr("sort: savings"), self.tr("sort: least sure first"), self.tr("sort: folder")]
        )
        self.sort.setCurrentIndex(SORT_KEYS.index(self.groups.sort_key))
        self.sort.currentIndexChanged.connect(lambda i: self.groups.sort_by(SORT_KEYS[i]))
        bar.addWidget(self.sort)
        action(self.tr("Export…"), self.export, None, "report")
        action(self.tr("History"), self.show_history)
        action(self.tr("Settings…"), self.edit_settings)

    def _update_actions(self) -> None:
        """Each action is enabled only when there is something for it to act on."""
        has_groups = self.groups.rowCount() > 0
        has_row = has_groups and bool(self._selected_rows())
        can_trash = any(s.selected and s.savings for s in self.groups.states())
        enabled = {
            "groups": has_groups,
            "row": has_row,
            "trash": can_trash,
            "report": self.report is not None,
        }
        for a, needs in self._needs.items():
            a.setEnabled(enabled[needs])
        self.sort.setEnabled(has_groups)

    def _selected_rows(self) -> list[int]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedIndexes()})
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        return rows

    def toggle_selected(self) -> None:
        for row in self._selected_rows():
            self.toggle_row(row)

    def toggle_row(self, row: int) -> None:
        """In or out of "Trash duplicates" (the tick box on the group)."""
        index = self.groups.index(row)
        selected = self.groups.data(index, Roles.SELECTED)
        state = Qt.CheckState.Unchecked if selected else Qt.CheckState.Checked
        self.groups.setData(index, state, Qt.ItemDataRole.CheckStateRole)

    def choose_keeper(self, row: int, path: str) -> None:
        """One click on a card's "Keep this": that file is the group's keeper."""
        if self.groups.choose_keeper(row, path):
            state = self.groups.state(row)
            self.status.setText(
                self.tr("Keeping {name}; this group now frees {size}.").format(
                    name=os.path.basename(path), size=human_size(state.savings)
                )
            )

    def next_keeper(self) -> None:
        """Make the next member of the current group the file to keep."""
        for row in self._selected_rows()[:1]:
            self.groups.next_keeper(row)

    def keep_in_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Keep the files in this folder"))
        if folder:
            self.groups.keep_by_rule("folder", folder)

    # --- scanning
    def user_settings(self) -> UserSettings:
        s = self.context.settings
        threshold = s.value("threshold")
        extensions = _as_list(s.value("extensions", []))
        return UserSettings(
            threshold=float(str(threshold)) if threshold not in (None, "") else None,
            extensions=frozenset(extensions) or DEFAULT_EXTENSIONS,
            models_dir=Path(str(s.value("models_dir", self.context.folder.models_dir))),
        )

    def edit_settings(self) -> None:
        from ndid_desktop.engine.features.model_sets import model_store, resolve
        from ndid_desktop.engine.match.decision import CalibrationError

        config = self.scan_config()
        try:
            calibration = resolve(config, model_store(config)).calibration
        except CalibrationError as exc:
            self.status.setText(str(exc))
            return
        dialog = SettingsDialog(
            self.user_settings(),
            calibration.threshold,
            list(calibration.metrics.get("precision_at", [])),
            self,
        )
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        chosen = dialog.result_settings()
        s = self.context.settings
        s.setValue("threshold", "" if chosen.threshold is None else chosen.threshold)
        s.setValue("extensions", sorted(chosen.extensions))
        s.setValue("models_dir", str(chosen.models_dir))

    def scan_config(self) -> ScanConfig:
        user = self.user_settings()
        options = ScanOptions(
            model_set=self.model_set.currentText(),
            threshold=user.threshold,
            extensions=user.extensions,
            models_dir=user.models_dir,
        )
        return scan_config(self.context.folder, options)

    def start_scan(self) -> None:
        roots = self.folders.roots()
        if not roots:
            self.status.setText(self.tr("Add at least one folder first."))
            return
        self._save()
        self.worker = ScanWorker(roots, self.scan_config(), scan=self.context.scan)
        self.scan_thread = QThread(self)
        self.worker.moveToThread(self.scan_thread)
        self.scan_thread.started.connect(self.worker.run)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished_report.connect(self._on_report)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.worker.done.connect(self.scan_thread.quit)
        self.scan_thread.finished.connect(self._on_thread_finished)
        self.scan_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._clock = StageClock()
        self.status.setText(self.tr("Starting…"))
        self.placeholder.setText(self.tr("Scanning… the groups appear here when the scan ends."))
        self.review.setCurrentWidget(self.placeholder)
        self.scan_thread.start()

    def cancel_scan(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText(self.tr("Cancelling after the current batch…"))

    def _on_progress(self, event: ProgressEvent) -> None:
        shown = describe(event, self._clock, time.monotonic())
        self.progress.setRange(0, shown.maximum)  # 0..0: busy, no count known
        self.progress.setValue(shown.value)
        self.progress.setFormat("%v / %m" if shown.maximum else "")
        self.status.setText(shown.text)

    def _on_report(self, report: ScanReport) -> None:
        self.report = report
        self.groups.set_groups(report.groups)
        if report.groups:
            self.review.setCurrentWidget(self.view)
        else:
            self.placeholder.setText(self.tr("No duplicates found in these folders."))
        s = report.stats
        text = self.tr(
            "{groups} groups, {dupes} duplicates ({size}); {n} photos read, {skipped} skipped"
        ).format(
            groups=len(report.groups),
            dupes=sum(len(g.duplicates) for g in report.groups),
            size=human_size(sum(m.size for g in report.groups for m in g.duplicates)),
            n=s.images_used,
            skipped=s.skipped,
        )
        if s.warnings:
            text += "\n" + "\n".join(s.warnings)
        if report.skipped:
            text += (
                "\n"
                + self.tr("Skipped:")
                + "\n"
                + "\n".join(f"{k.path}: {k.error}" for k in report.skipped[:20])
            )
        self.status.setText(text)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat(self.tr("done"))
        if report.groups:  # the keyboard starts on the first group, nothing selected yet
            self.view.selectionModel().setCurrentIndex(
                self.groups.index(0), QItemSelectionModel.SelectionFlag.NoUpdate
            )
        self._update_actions()

    def _on_failed(self, message: str) -> None:
        self.status.setText(self.tr("The scan stopped: ") + message.splitlines()[0])

    def _on_cancelled(self) -> None:
        self.placeholder.setText(
            self.tr("Scan cancelled: Scan again to continue where it stopped.")
        )
        self.status.setText(
            self.tr("Scan cancelled. What was read is cached: the next scan continues from there.")
        )
        self.progress.setRange(0, 1)
        self.progress.setValue(0)

    def _on_thread_finished(self) -> None:
        self.scan_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.scan_thread is not None:
            self.scan_thread.wait()
            self.scan_thread.deleteLater()
        self.scan_thread, self.worker = None, None

    def _thumbnail_ready(self, path: str) -> None:
        for row in self.groups.rows_with(path):
            index = self.groups.index(row)
            self.groups.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    # --- decisions
    def compare_selected(self, index: QModelIndex | None = None) -> None:
        """Return: the keeper against the first other file of the current group."""
        rows = self._selected_rows()
        if not rows:
            return
        state = self.groups.state(rows[0])
        others = [m.path for m in state.members if m.path != state.keep]
        if others:
            self.compare_member(rows[0], others[0])

    def compare_member(self, row: int, path: str) -> None:
        """A double click on a card: the keeper against that very file."""
        from ndid_desktop.ui.compare import CompareDialog

        state = self.groups.state(row)
        if path == state.keep:  # the keeper itself: against the first other file
            path = next((m.path for m in state.members if m.path != state.keep), path)
        if path == state.keep:
            return
        group_id = id(state.group)

        def keep(chosen: str) -> None:
            # The list may have changed while the dialog was open: find the group again.
            for r, s in enumerate(self.groups.states()):
                if id(s.group) == group_id:
                    self.choose_keeper(r, chosen)
                    return

        CompareDialog.for_group(state.members, state.keep, path, self, on_keep=keep).exec()

    def mark_not_duplicates(self) -> None:
        rows = self._selected_rows()
        for row in rows:
            self.verdicts.mark_not_duplicates(self.groups.state(row).paths)
        self.groups.remove_rows(rows)
        self.status.setText(self.tr("Remembered: these files are not duplicates."))

    def split_group(self) -> None:
        from ndid_desktop.ui.split_dialog import SplitDialog

        rows = self._selected_rows()
        if not rows:
            return
        dialog = SplitDialog(list(self.groups.state(rows[0]).paths), self)
        if dialog.exec() != SplitDialog.DialogCode.Accepted or not dialog.moved():
            return
        moved = dialog.moved()
        self.apply_split(rows[0], moved)

    def apply_split(self, row: int, moved: set[str]) -> None:
        """Split a group and remember that the two parts are different pictures."""
        staying, moving = self.groups.state(row).parts(moved)
        self.verdicts.mark_apart(staying, moving)
        self.groups.split(row, moved)
        self.status.setText(self.tr("Group split; later scans keep the two parts apart."))

    def trash_choices(self) -> list[GroupChoice]:
        return self.groups.review.trash_choices()

    def trash_scopes(self) -> tuple[list[TrashScope], int]:
        """What "Trash duplicates" may cover, each checked against the scan's record now: the
        selected groups (when some are selected), the ticked groups a filter shows (when it
        hides some) and every ticked group; and which is meant: the first of these."""
        ticked = [s for s in self.groups.states() if s.selected]
        selection = sorted({i.row() for i in self.view.selectionModel().selectedIndexes()})
        chosen = [self.groups.state(r) for r in selection]
        scopes = []
        if chosen and chosen != ticked:
            label = plural(
                len(chosen), self.tr("only the selected group"),
                self.tr("only the {n} selected groups"),
            )  # fmt: skip
            scopes.append(self._scope(label, chosen))
        shown = [
            s for r, s in enumerate(self.groups.states())
            if s.selected and not self.view.isRowHidden(r)
        ]  # fmt: skip
        if shown and len(shown) < len(ticked):  # a filter hides some ticked groups
            label = self.tr("the ticked groups the filter shows ({groups})").format(
                groups=plural(len(shown), self.tr("1 group"), self.tr("{n} groups"))
            )
            scopes.append(self._scope(label, shown))
        if ticked:
            label = self.tr("every ticked group ({groups})").format(
                groups=plural(len(ticked), self.tr("1 group"), self.tr("{n} groups"))
            )
            scopes.append(self._scope(label, ticked))
        found = [s for s in scopes if s is not None]
        return found, 0

    def _scope(self, label: str, states: list[GroupReview]) -> TrashScope | None:
        choices = tuple(s.choice() for s in states)
        plan = self._plan(list(choices))
        if plan is None:
            return None
        return TrashScope(label, tuple(states), choices, plan)

    def _plan(self, choices: list[GroupChoice]) -> TrashPlan | None:
        """The plan for these choices, checked against the scan's record on disk now."""
        assert self.report is not None
        try:
            record = load_record(self.context.folder.scan_records, self.report.stats.scan_id)
            return plan_trash(choices, record)
        except (RecordError, PlanRejected) as exc:
            self.status.setText(self.tr("Nothing moved: {why}").format(why=exc))
            return None

    def trash_selected(self) -> None:
        if self.report is None:
            return
        scopes, default = self.trash_scopes()
        if not scopes:
            return
        if not any(s.plan.trash for s in scopes):
            self.status.setText(self.tr("Nothing to move to the trash."))
            return
        scope = self._confirm_trash(scopes, default) if self.context.confirm else scopes[default]
        if scope is None:
            return
        # Checked again now that the user said yes: the dialog may have been open for a while.
        # Only files the user confirmed may go, and only those still safe.
        again = self._plan(list(scope.choices))
        if again is None:
            return
        confirmed = {p.file.real for p in scope.plan.trash}
        again = replace(again, trash=tuple(p for p in again.trash if p.file.real in confirmed))
        before = self.groups.review
        try:
            outcomes = execute(again, self.journal, self.context.trash, self.context.locate)
        except (ActionLockError, OSError) as exc:
            self.status.setText(self.tr("Nothing moved: {why}").format(why=exc))
            return
        self._after_trash(outcomes, len(scope.plan.trash) - len(again.trash), before)

    def _confirm_trash(self, scopes: list[TrashScope], default: int) -> TrashScope | None:
        """The user's answer: the scope to trash, or None (No is the default button)."""
        dialog = TrashConfirmDialog(scopes, default, self.thumbnails, self)
        if dialog.exec() != TrashConfirmDialog.DialogCode.Accepted:
            return None
        return dialog.chosen

    def _after_trash(self, outcomes: list[Outcome], no_longer_safe: int, before: Review) -> None:
        gone = {o.path for o in outcomes if o.status == "trashed"}
        self.groups.remove_trashed(gone)
        failed = [o for o in outcomes if o.status != "trashed"]
        text = self.tr("Moved {n} files to the trash.").format(n=len(gone))
        if no_longer_safe:
            later = self.tr("{n} files were no longer safe to move when you confirmed.")
            text += " " + later.format(n=no_longer_safe)
        if failed:
            text += "\n" + "\n".join(f"{o.path}: {o.message}" for o in failed[:10])
        self.status.setText(text)
        if gone:
            self._undo = (before, tuple(sorted(gone)))
            self.statusBar().showMessage(
                self.tr("Moved {n} files to the trash.").format(n=len(gone))
            )
            self.undo_button.show()
        self._update_actions()

    def undo_trash(self) -> None:
        """Put back what the last trash action moved (the journal's restore), and its groups."""
        if self._undo is None:
            return
        before, paths = self._undo
        self._undo = None
        self.undo_button.hide()
        restored, messages = 0, []
        for path in paths:
            message = self.context.restore_file(path)
            ok = message.startswith("restored")
            restored += ok
            status = "restored" if ok else "not restored"
            try:
                self.journal.append(
                    {"action": "restore", "path": path, "status": status, "message": message}
                )
            except OSError as exc:  # the file is back; say that the journal could not say so
                messages.append(str(exc))
            if not ok:
                messages.append(message)
        self.groups.set_review(before)
        text = self.tr("Undo: {n} of {m} files put back.").format(n=restored, m=len(paths))
        self.status.setText("\n".join([text, *messages[:10]]))
        self.statusBar().showMessage(text)
        self._update_actions()

    def export(self) -> None:
        if self.report is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self,
            self.tr("Export groups"),
            "ndid-report.json",
            self.tr("JSON (*.json);;CSV (*.csv)"),
        )
        if not path:
            return
        from ndid_desktop.engine.report import write_csv, write_json

        (write_csv if path.endswith(".csv") else write_json)(self.report, Path(path))

    def show_history(self) -> None:
        from ndid_desktop.ui.history_dialog import HistoryDialog

        HistoryDialog(self.journal, self.context.locate, self).exec()

    # --- persistence
    def _restore(self) -> None:
        s = self.context.settings
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)
        for entry in _as_list(s.value("folders", [])):
            path, ref, excluded = [*str(entry).split("|"), "", ""][:3]
            self.folders.add_folder(path, ref == "1", tuple(e for e in excluded.split(";") if e))
        index = self.model_set.findText(str(s.value("model_set", "standard")))
        self.model_set.setCurrentIndex(max(index, 0))

    def _save(self) -> None:
        s = self.context.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("folders", [f"{p}|{int(r)}|{';'.join(ex)}" for p, r, ex in self.folders.state()])
        s.setValue("model_set", self.model_set.currentText())

    def closeEvent(self, event: object) -> None:
        self._save()
        if self.worker is not None:
            self.worker.cancel()
        if self.scan_thread is not None:
            self.scan_thread.quit()
            self.scan_thread.wait(10_000)
        self.thumbnails.wait()
        super().closeEvent(event)  # type: ignore[arg-type]


def _as_list(value: object) -> list[str]:
    """QSettings gives a str for a one-item list in INI files, a list otherwise."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []
