"""A group's keeper beside one of its other files: synchronised zoom and pan, swap/flicker, a
difference view, the matched keypoints of the scan's check, the match probability and its
reasons, metadata with the better value highlighted, and "Keep this one". Left/Right move to
the previous/next file of the group."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np
from PySide6.QtCore import QRunnable, Qt, QThreadPool, QTimer
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut, QWheelEvent
from PySide6.QtWidgets import (
    QDialog,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ndid_desktop.engine.match.match_points import PointMatches, match_points
from ndid_desktop.engine.match.signals import TRUSTED_INLIERS
from ndid_desktop.engine.types import Member
from ndid_desktop.ui.group_delegate import human_size
from ndid_desktop.ui.keypoint_overlay import KeypointOverlay

VIEW_SIDE = 1200
# The keeper's path and the shown file's -> their matched keypoints (raises when unreadable).
Matcher: TypeAlias = Callable[[str, str], PointMatches]
PairKey: TypeAlias = tuple[str, str]
POLL_MS = 30  # how often the dialog looks for finished keypoint matching


def _qimage(array: np.ndarray) -> QImage:
    h, w = array.shape[:2]
    data = np.ascontiguousarray(array, dtype=np.uint8)
    return QImage(data.data, w, h, w * 3, QImage.Format.Format_RGB888).copy()


def load_rgb(path: str, side: int = VIEW_SIDE) -> np.ndarray:
    from ndid_desktop.engine.files.decode import decode

    image = decode(path, min_side=side // 2).image
    image.thumbnail((side, side))
    return np.asarray(image.convert("RGB"))


def difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| with b resized onto a, amplified so that small edits show."""
    from PIL import Image

    resized = np.asarray(
        Image.fromarray(b).resize((a.shape[1], a.shape[0]), Image.Resampling.BILINEAR)
    )
    diff = np.abs(a.astype(np.int16) - resized.astype(np.int16)).max(axis=2)
    heat = np.clip(diff * 4, 0, 255).astype(np.uint8)
    return np.stack([heat, heat // 3, 255 - heat], axis=2)


class SyncedView(QGraphicsView):
    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.scene().addItem(self.item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.partner: SyncedView | None = None

    def show_image(self, image: QImage) -> None:
        self.item.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(self.item.boundingRect())

    def wheelEvent(self, event: QWheelEvent) -> None:
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.scale(factor, factor)
        if self.partner is not None:
            self.partner.setTransform(self.transform())


class MatchJob(QRunnable):
    """Runs the matcher off the GUI thread. It touches nothing of Qt's there: it only sets
    ``finished``, which the dialog polls from the GUI thread (a timer, while jobs run)."""

    def __init__(self, key: PairKey, matcher: Matcher) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns it: the dialog reads the result after run()
        self.key = key
        self.matcher = matcher
        self.result: PointMatches | None = None
        self.error = ""
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            self.result = self.matcher(*self.key)
        except Exception as exc:  # an unreadable file: said in the view, never a crash
            self.error = str(exc) or type(exc).__name__
        finally:
            self.finished.set()


def describe_matches(matches: PointMatches | None, error: str = "") -> str:
    """The line shown over the matched-keypoints view."""
    if error:
        return f"Could not match keypoints: {error}"
    if matches is None:
        return "Finding matched keypoints…"
    if not matches.measurable:
        return "Too few keypoints to compare (the pictures matched on global similarity)"
    if matches.inliers == 0:
        return "No keypoint matches (the pictures matched on global similarity)"
    drawn = len(matches.points_a)
    text = f"{matches.inliers} matched keypoints ({matches.inlier_ratio:.0%} of the candidates)"
    if drawn < matches.inliers:
        text += f", {drawn} drawn"
    if not matches.trusted:
        # RANSAC fits a homography to any handful of matches: the decision's inlier_evidence
        # ignores such a check (signals.TRUSTED_INLIERS).
        text += f"; fewer than {TRUSTED_INLIERS}: no clean geometry"
    return text


class CompareDialog(QDialog):
    def __init__(
        self,
        a: Member,
        b: Member,
        parent: QWidget | None = None,
        *,
        group: Sequence[Member] = (),
        on_keep: Callable[[str], None] | None = None,
        matcher: Matcher = match_points,
    ) -> None:
        """``a`` is the keeper, ``b`` the file shown beside it; ``group`` all the group's
        members, the scan's keeper first (it is what their probabilities are against)."""
        super().__init__(parent)
        self.setWindowTitle(self.tr("Compare"))
        self.resize(1200, 860)
        self.group: tuple[Member, ...] = tuple(group) or (a, b)
        self.keeper, self.shown = a, b
        self._on_keep = on_keep
        self._matcher = matcher
        self._pixels: dict[str, np.ndarray] = {}
        self._matches: dict[PairKey, tuple[PointMatches | None, str]] = {}
        self._jobs: dict[PairKey, MatchJob] = {}  # started, not yet collected
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._collect_matches)
        self._swapped = False
        self._flicker = QTimer(self)
        self._flicker.setInterval(600)
        self._flicker.timeout.connect(self.swap)
        self._build()
        self._show_pair()
        QTimer.singleShot(0, self._fit)

    @classmethod
    def for_group(
        cls,
        members: Sequence[Member],
        keeper: str,
        shown: str,
        parent: QWidget | None = None,
        on_keep: Callable[[str], None] | None = None,
        *,
        matcher: Matcher = match_points,
    ) -> CompareDialog:
        """The group's keeper beside ``shown`` (the first other file when ``shown`` is the
        keeper); ``members`` as the group holds them, the scan's keeper first. "Keep this one"
        calls ``on_keep(path)``."""
        by_path = {m.path: m for m in members}
        if shown == keeper:
            shown = next((m.path for m in members if m.path != keeper), shown)
        return cls(
            by_path[keeper], by_path[shown], parent, group=members, on_keep=on_keep,
            matcher=matcher,
        )  # fmt: skip

    # --- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.left, self.right = SyncedView(), SyncedView()
        self.left.partner, self.right.partner = self.right, self.left
        for one, other in ((self.left, self.right), (self.right, self.left)):
            one.horizontalScrollBar().valueChanged.connect(other.horizontalScrollBar().setValue)
            one.verticalScrollBar().valueChanged.connect(other.verticalScrollBar().setValue)
        side_by_side = QWidget()
        views = QHBoxLayout(side_by_side)
        views.setContentsMargins(0, 0, 0, 0)
        views.addWidget(self.left)
        views.addWidget(self.right)
        self.overlay = KeypointOverlay()
        self.stack = QStackedWidget()
        self.stack.addWidget(side_by_side)
        self.stack.addWidget(self.overlay)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = self._new_table()
        layout = QVBoxLayout(self)
        layout.addLayout(self._toolbar())
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.verdict)
        layout.addWidget(self.table)
        for key, step in ((Qt.Key.Key_Left, -1), (Qt.Key.Key_Right, 1)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.activated.connect(lambda step=step: self.step(step))

    def _toolbar(self) -> QHBoxLayout:
        self.swap_button = QPushButton(self.tr("Swap"))
        self.swap_button.clicked.connect(self.swap)
        self.flicker = QPushButton(self.tr("Flicker"))
        self.flicker.setCheckable(True)
        self.flicker.toggled.connect(
            lambda on: self._flicker.start() if on else self._flicker.stop()
        )
        self.diff = QPushButton(self.tr("Show differences"))
        self.diff.setCheckable(True)
        self.diff.toggled.connect(self._show)
        self.matches_button = QPushButton(self.tr("Matches"))
        self.matches_button.setCheckable(True)
        self.matches_button.setToolTip(
            self.tr("Lines between the keypoints the scan's keypoint check matched")
        )
        self.matches_button.toggled.connect(self._show_matches)
        fit = QPushButton(self.tr("Fit"))
        fit.clicked.connect(self._fit)
        self.position = QLabel()
        self.keep_button = QPushButton(self.tr("Keep this one"))
        self.keep_button.setToolTip(self.tr("Keep the file on the right instead of the keeper"))
        self.keep_button.clicked.connect(self.keep_shown)
        self.keep_button.setVisible(self._on_keep is not None)
        bar = QHBoxLayout()
        for w in (self.swap_button, self.flicker, self.diff, self.matches_button, fit):
            bar.addWidget(w)
        bar.addStretch()
        bar.addWidget(self.position)
        bar.addWidget(self.keep_button)
        return bar

    def _new_table(self) -> QTableWidget:
        table = QTableWidget(0, 2)
        header = table.horizontalHeader()
        # Both columns share the width: with only the last one stretching, the first kept
        # Qt's 100-px default and cut its file name.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        return table

    # --- the pair shown -----------------------------------------------------------------------

    @property
    def others(self) -> list[Member]:
        """The group's files other than the keeper, in the group's order."""
        return [m for m in self.group if m.path != self.keeper.path]

    @property
    def pair(self) -> PairKey:
        return (self.keeper.path, self.shown.path)

    def step(self, step: int) -> None:
        """Shows the previous (-1) or next (+1) file of the group beside the keeper."""
        others = self.others
        i = next((k for k, m in enumerate(others) if m.path == self.shown.path), 0)
        j = min(max(i + step, 0), len(others) - 1)
        if others and others[j].path != self.shown.path:
            self.shown = others[j]
            self._show_pair()

    def keep_shown(self) -> None:
        """Keeps the shown file: tells the owner, then shows it as the keeper beside the one
        it replaces."""
        if self._on_keep is None:
            return
        self._on_keep(self.shown.path)
        self.keeper, self.shown = self.shown, self.keeper
        self._show_pair()

    def _show_pair(self) -> None:
        for member in (self.keeper, self.shown):
            if member.path not in self._pixels:
                self._pixels[member.path] = load_rgb(member.path)
        self._swapped = False
        others = self.others
        index = next((k for k, m in enumerate(others) if m.path == self.shown.path), 0)
        self.position.setText(
            self.tr("file {0} of {1} (←/→)").format(index + 1, len(others))
            if len(others) > 1
            else ""
        )
        self.verdict.setText(self._verdict_text())
        self._fill_metadata()
        self._request_matches()
        self._show()
        self._show_matches(self.matches_button.isChecked())

    def _verdict_text(self) -> str:
        scan_keeper = self.group[0]
        shown = self.shown
        name = os.path.basename
        if shown.path == scan_keeper.path:
            head = self.tr("{0} is the scan's keeper").format(name(shown.path))
        else:
            head = self.tr("{0:.0%} likely the same picture as {1}").format(
                shown.probability, name(scan_keeper.path)
            )
        if shown.overlapping:
            head += self.tr(" — overlapping: kept too")
        kept = self.tr("Keeping {0}").format(name(self.keeper.path))
        return f"{kept}.\n{head}: {shown.reason}" if shown.reason else f"{kept}.\n{head}"

    def swap(self) -> None:
        self._swapped = not self._swapped
        self._show()

    def _show(self) -> None:
        pixels = [self._pixels[self.keeper.path], self._pixels[self.shown.path]]
        members = [self.keeper, self.shown]
        order = [1, 0] if self._swapped else [0, 1]
        self.left.show_image(_qimage(pixels[order[0]]))
        if self.diff.isChecked():
            self.right.show_image(_qimage(difference(pixels[0], pixels[1])))
            right_text = self.tr("differences (red = changed)")
        else:
            self.right.show_image(_qimage(pixels[order[1]]))
            right_text = members[order[1]].path
        self.caption.setText(f"{members[order[0]].path}    |    {right_text}")

    def _fit(self) -> None:
        for view in (self.left, self.right):
            view.fitInView(view.item, Qt.AspectRatioMode.KeepAspectRatio)

    # --- matched keypoints --------------------------------------------------------------------

    def _request_matches(self) -> None:
        """Starts the pair's keypoint matching in the background, once per pair."""
        key = self.pair
        if key in self._matches or key in self._jobs:
            return
        job = MatchJob(key, self._matcher)
        self._jobs[key] = job
        self._pool.start(job)
        self._poll.start()

    def _collect_matches(self) -> None:
        """On the GUI thread: records the jobs that finished, and shows the pair's."""
        for key, job in list(self._jobs.items()):
            if job.finished.is_set():
                del self._jobs[key]
                self._matches[key] = (job.result, job.error)
                if key == self.pair and self.matches_button.isChecked():
                    self._show_matches(True)
        if not self._jobs:
            self._poll.stop()

    def done(self, result: int) -> None:
        # A job still running holds the matcher and its files: let it end with the dialog.
        self._poll.stop()
        self._pool.waitForDone()
        super().done(result)

    def matches_ready(self) -> bool:
        """Whether the shown pair's matching has finished."""
        return self.pair in self._matches

    def _show_matches(self, on: bool) -> None:
        for button in (self.swap_button, self.flicker, self.diff):
            button.setEnabled(not on)
        if on:
            self.flicker.setChecked(False)
        self.stack.setCurrentIndex(1 if on else 0)
        if not on:
            return
        self.overlay.set_images(
            _qimage(self._pixels[self.keeper.path]), _qimage(self._pixels[self.shown.path])
        )
        result, error = self._matches.get(self.pair, (None, ""))
        drawn = result if result is not None and len(result.points_a) else None
        self.overlay.set_matches(drawn, describe_matches(result, error))

    # --- metadata -----------------------------------------------------------------------------

    def _fill_metadata(self) -> None:
        a, b = self.keeper, self.shown
        rows = [
            (
                self.tr("resolution"),
                f"{a.info.width}×{a.info.height}",
                f"{b.info.width}×{b.info.height}",
                a.info.pixels - b.info.pixels,
            ),
            # Not "better": a PNG copy of a JPEG is bigger and no better.
            (self.tr("file size"), human_size(a.size), human_size(b.size), 0),
            (self.tr("format"), a.info.format, b.info.format, 0),
            (
                self.tr("JPEG quality"),
                str(a.info.jpeg_quality or "—"),
                str(b.info.jpeg_quality or "—"),
                (a.info.jpeg_quality or 0) - (b.info.jpeg_quality or 0),
            ),
            (
                self.tr("camera"),
                a.info.camera or "—",
                b.info.camera or "—",
                (a.info.camera is not None) - (b.info.camera is not None),
            ),
            (self.tr("taken"), a.info.taken_at or "—", b.info.taken_at or "—", 0),
        ]
        table = self.table
        table.clear()
        table.setRowCount(len(rows))
        for j, (role, member) in enumerate(((self.tr("keeper"), a), (self.tr("this file"), b))):
            head = QTableWidgetItem(f"{role}: {os.path.basename(member.path)}")
            head.setToolTip(member.path)
            table.setHorizontalHeaderItem(j, head)
        table.setVerticalHeaderLabels([r[0] for r in rows])
        for i, (_, left, right, better) in enumerate(rows):
            for j, text in enumerate((left, right)):
                cell = QTableWidgetItem(text)
                if (better > 0 and j == 0) or (better < 0 and j == 1):
                    cell.setBackground(Qt.GlobalColor.green)
                table.setItem(i, j, cell)
        # As tall as its rows: no empty band under them.
        rows_height = sum(table.rowHeight(i) for i in range(table.rowCount()))
        header = table.horizontalHeader().sizeHint().height()
        table.setFixedHeight(rows_height + header + 2 * table.frameWidth())
