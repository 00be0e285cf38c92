"""The Compare dialog under pytest-qt (offscreen): it opens on the clicked file beside the
keeper with the probability and the reasons, the arrow keys move through the group, "Keep
this one" tells its owner, the matched-keypoints view fills in once the background matching
ends (the real engine's for a photo and its crop), and the metadata headers are not cut."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from typing import TYPE_CHECKING

from PIL import Image
from PySide6.QtCore import Qt

from ndid_desktop.engine.files.decode import decode
from ndid_desktop.engine.match.match_points import PointMatches
from ndid_desktop.engine.types import Member
from ndid_desktop.ui.compare import CompareDialog

from ..conftest import dev_photos

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

# The offscreen platform says this whenever a dialog is shown; it is no fault of the dialog.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _member(path: Path, probability: float, reason: str) -> Member:
    info = decode(str(path)).info
    return Member(str(path), probability, reason, False, path.stat().st_size, info)


@pytest.fixture
def group(tmp_path: Path) -> list[Member]:
    """A photo (the keeper), a crop of it with a long name, a half-size copy and a greyscale
    copy."""
    with Image.open(dev_photos(1)[0]) as image:
        picture = image.convert("RGB")
    width, height = picture.size
    files = {
        "original.jpg": picture,
        "a-rather-long-file-name-for-the-cropped-copy-of-it.jpg": picture.crop(
            (width // 10, height // 10, width * 9 // 10, height * 9 // 10)
        ),
        "half.jpg": picture.resize((width // 2, height // 2)),
        "grey.jpg": picture.convert("L").convert("RGB"),
    }
    for name, image in files.items():
        image.save(tmp_path / name, quality=90)
    names = list(files)
    reasons = ["kept: it is the largest", "same picture: cropped", "resized", "greyscale"]
    probabilities = [1.0, 0.97, 0.99, 0.93]
    return [
        _member(tmp_path / n, p, r) for n, p, r in zip(names, probabilities, reasons, strict=True)
    ]


def _no_matches(a: str, b: str) -> PointMatches:
    none = np.zeros((0, 2), np.float32)
    return PointMatches((10, 10), (10, 10), none, none, None, 0, 0.0, 0, True)


def _open(qtbot: QtBot, dialog: CompareDialog) -> CompareDialog:
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def test_it_opens_on_the_shown_file_beside_the_keeper(qtbot: QtBot, group: list[Member]) -> None:
    keeper, crop = group[0], group[1]
    dialog = _open(
        qtbot, CompareDialog.for_group(group, keeper.path, crop.path, None, matcher=_no_matches)
    )
    assert dialog.keeper == keeper and dialog.shown == crop
    assert crop.path in dialog.caption.text()
    assert "97% likely the same picture as original.jpg" in dialog.verdict.text()
    assert "same picture: cropped" in dialog.verdict.text()
    assert dialog.keep_button.isHidden()  # no on_keep: nothing to tell
    assert dialog.position.text() == "file 1 of 3 (←/→)"


def test_asked_for_the_keeper_it_shows_the_first_other_file(
    qtbot: QtBot, group: list[Member]
) -> None:
    keeper = group[0].path
    dialog = _open(qtbot, CompareDialog.for_group(group, keeper, keeper, matcher=_no_matches))
    assert dialog.keeper == group[0] and dialog.shown == group[1]


def test_the_arrow_keys_move_through_the_groups_other_files(
    qtbot: QtBot, group: list[Member]
) -> None:
    keeper = group[0]
    dialog = _open(
        qtbot,
        CompareDialog.for_group(group, keeper.path, group[2].path, None, matcher=_no_matches),
    )
    seen = []
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Left, Qt.Key.Key_Left,
                Qt.Key.Key_Left):  # fmt: skip
        qtbot.keyClick(dialog, key)
        seen.append(dialog.shown.path)
        assert dialog.keeper == keeper  # the keeper never moves
    assert seen == [group[3].path, group[3].path, group[2].path, group[1].path, group[1].path]
    assert "greyscale" not in dialog.verdict.text() and "cropped" in dialog.verdict.text()


def test_keep_this_one_tells_the_owner_and_shows_it_as_the_keeper(
    qtbot: QtBot, group: list[Member]
) -> None:
    kept: list[str] = []
    keeper, half = group[0], group[2]
    dialog = _open(
        qtbot,
        CompareDialog.for_group(group, keeper.path, half.path, None, kept.append,
                                matcher=_no_matches),
    )  # fmt: skip
    assert dialog.keep_button.isVisible()
    qtbot.mouseClick(dialog.keep_button, Qt.MouseButton.LeftButton)
    assert kept == [half.path]
    assert dialog.keeper == half and dialog.shown == keeper  # beside the one it replaces
    assert dialog.verdict.text().startswith("Keeping half.jpg")
    assert "keeper: half.jpg" in dialog.table.horizontalHeaderItem(0).text()
    assert [m.path for m in dialog.others] == [group[0].path, group[1].path, group[3].path]


def test_the_matches_appear_when_the_background_matching_ends(
    qtbot: QtBot, group: list[Member]
) -> None:
    keeper, crop = group[0], group[1]
    release = threading.Event()
    from ndid_desktop.engine.match.match_points import match_points

    def slow_engine(a: str, b: str) -> PointMatches:
        release.wait(10)  # the dialog must be up before the matching ends
        return match_points(a, b)

    dialog = _open(
        qtbot, CompareDialog.for_group(group, keeper.path, crop.path, None, matcher=slow_engine)
    )
    dialog.matches_button.setChecked(True)
    assert dialog.stack.currentWidget() is dialog.overlay
    assert not dialog.matches_ready() and dialog.overlay.lines == 0
    assert dialog.overlay.message == "Finding matched keypoints…"
    release.set()
    qtbot.waitUntil(dialog.matches_ready, timeout=10_000)
    overlay = dialog.overlay
    assert overlay.matches is not None and overlay.matches.inliers >= 100
    assert 0 < overlay.lines <= 150
    assert "matched keypoints" in overlay.message
    # Each line runs from the left picture to the right one.
    placed = overlay.placements()
    assert placed is not None
    left, right = placed
    start = left.point(*map(float, overlay.matches.points_a[0]))
    end = right.point(*map(float, overlay.matches.points_b[0]))
    assert left.rect.contains(start) and right.rect.contains(end)
    dialog.matches_button.setChecked(False)
    assert dialog.stack.currentWidget() is not dialog.overlay and dialog.diff.isEnabled()


def test_no_keypoint_matches_says_the_pictures_matched_on_global_similarity(
    qtbot: QtBot, group: list[Member]
) -> None:
    dialog = _open(
        qtbot,
        CompareDialog.for_group(group, group[0].path, group[3].path, None, matcher=_no_matches),
    )
    dialog.matches_button.setChecked(True)
    qtbot.waitUntil(dialog.matches_ready)
    assert dialog.overlay.matches is None and dialog.overlay.lines == 0
    assert dialog.overlay.message == (
        "No keypoint matches (the pictures matched on global similarity)"
    )


def test_a_failed_matching_is_said_not_raised(qtbot: QtBot, group: list[Member]) -> None:
    def broken(a: str, b: str) -> PointMatches:
        raise ValueError("local features cut short")

    dialog = _open(
        qtbot, CompareDialog.for_group(group, group[0].path, group[1].path, None, matcher=broken)
    )
    dialog.matches_button.setChecked(True)
    qtbot.waitUntil(dialog.matches_ready)
    assert dialog.overlay.message == "Could not match keypoints: local features cut short"


def test_the_metadata_headers_are_not_cut(qtbot: QtBot, group: list[Member]) -> None:
    dialog = _open(
        qtbot,
        CompareDialog.for_group(group, group[0].path, group[1].path, None, matcher=_no_matches),
    )
    header = dialog.table.horizontalHeader()
    metrics = header.fontMetrics()
    for column in (0, 1):
        text = dialog.table.horizontalHeaderItem(column).text()
        assert header.sectionSize(column) > metrics.horizontalAdvance(text), text
    assert abs(header.sectionSize(0) - header.sectionSize(1)) <= 1


def test_the_two_file_constructor_still_works(qtbot: QtBot, group: list[Member]) -> None:
    dialog = _open(qtbot, CompareDialog(group[0], group[2], matcher=_no_matches))
    assert dialog.keeper == group[0] and dialog.shown == group[2]
    assert dialog.others == [group[2]] and dialog.position.text() == ""
    dialog.swap()
    assert dialog.caption.text().startswith(group[2].path)
    dialog.diff.setChecked(True)
    assert "differences" in dialog.caption.text()
