"""The desktop app under pytest-qt (offscreen): models pass qtmodeltester, a real scan runs
through the worker and fills the grid, cancel works, and trash goes through a fake trash with
every action journalled. The window also runs over stand-in scans (AppContext.scan) that
return a prepared report, wait for the cancel, or fail, so its own behaviour is tested without
the engine. Qt warnings fail these tests (qt_log_level_fail in pyproject)."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.evaluation.attacks import ManifestRow
from ndid_desktop.engine.progress import CancelToken, ProgressCallback, ProgressEvent
from ndid_desktop.engine.types import ScanReport
from ndid_desktop.ui.groups_model import GroupListModel, Roles
from ndid_desktop.ui.main_window import AppContext, MainWindow
from ndid_desktop.ui.trash_confirm import TrashScope

if TYPE_CHECKING:
    from pytestqt.modeltest import ModelTester
    from pytestqt.qtbot import QtBot


class FakeTrash:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        self.paths: list[str] = []

    def __call__(self, path: str) -> None:
        shutil.move(path, self.folder / f"{len(self.paths)}-{os.path.basename(path)}")
        self.paths.append(path)


@pytest.fixture
def library(tiny_library: tuple[Path, list[ManifestRow]], tmp_path: Path) -> Path:
    """A private copy: these tests move files to a (fake) trash."""
    root, _ = tiny_library
    copy = tmp_path / "photos"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*.sqlite*", "manifest.json"))
    return copy


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    data = tmp_path / "data"  # the scans use the shipped Lite0 ONNX file: no export
    trash = FakeTrash(tmp_path / "trash")
    settings = QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(AppContext(data_dir=data, settings=settings, trash=trash, confirm=False))
    qtbot.addWidget(w)
    w.fake_trash = trash  # type: ignore[attr-defined]
    return w


def _scan(qtbot: QtBot, window: MainWindow, folder: Path) -> None:
    window.folders.add_folder(str(folder))
    window.start_scan()
    assert window.worker is not None
    with qtbot.waitSignal(window.worker.done, timeout=240_000):
        pass
    qtbot.waitUntil(lambda: window.scan_button.isEnabled(), timeout=10_000)


def test_scan_fills_the_grid_and_the_model_is_sound(
    qtbot: QtBot, qtmodeltester: ModelTester, window: MainWindow, library: Path
) -> None:
    _scan(qtbot, window, library)
    assert window.report is not None
    assert window.groups.rowCount() == len(window.report.groups) > 0
    qtmodeltester.check(window.groups)
    first = window.groups.index(0)
    state = window.groups.state(0)  # the largest savings first, as the sort box says
    assert state.group in window.report.groups
    assert state.savings == max(s.savings for s in window.groups.states())
    assert window.groups.data(first, Roles.KEEP) == state.group.keep
    assert "groups" in window.status.text()
    window.view.grab()  # paint: thumbnails are requested for visible rows
    keep = state.keep
    qtbot.waitUntil(lambda: window.thumbnails.get(keep) is not None, timeout=20_000)


def test_window_stays_responsive_and_cancel_stops_the_scan(
    qtbot: QtBot, window: MainWindow, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import itertools
    import time

    from PySide6.QtCore import QTimer

    from ndid_desktop.engine.features.cache import FeatureCache
    from ndid_desktop.ui.worker import ScanWorker

    # Cancel exactly as the Cancel button does (worker.cancel), at a known point of the scan:
    # 24 of its 84 photos read, so the scan cannot have finished first.
    report = ScanWorker._report

    def report_then_cancel(self: ScanWorker, event: ProgressEvent) -> None:
        report(self, event)
        if event.stage == "features" and event.done >= 24:
            self.cancel()

    monkeypatch.setattr(ScanWorker, "_report", report_then_cancel)

    # A timer on the GUI thread: if the scan blocked the event loop, its ticks would stall.
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    window.folders.add_folder(str(library))
    window.start_scan()
    assert window.worker is not None
    with qtbot.waitSignal(window.worker.done, timeout=120_000):
        pass
    timer.stop()
    qtbot.waitUntil(lambda: window.scan_button.isEnabled(), timeout=10_000)
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 5 and max(gaps) < 1.0
    assert "Scan cancelled" in window.status.text()
    assert window.report is None
    with FeatureCache(window.context.data_dir / "features.sqlite") as cache:
        assert 24 <= cache.count() < 84  # what was read stays cached for the next scan


def test_trash_uses_the_fake_trash_and_the_journal(
    qtbot: QtBot, window: MainWindow, library: Path
) -> None:
    _scan(qtbot, window, library)
    assert window.report is not None
    first = window.groups.state(0)
    # Files the keeper does not hold (overlapping) stay out of the trash.
    duplicates = [m.path for m in first.members if m.path != first.keep and not m.overlapping]
    for row in range(1, window.groups.rowCount()):  # only the first group is ticked
        window.groups.setData(
            window.groups.index(row), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole
        )
    window.trash_selected()
    real = sorted(os.path.realpath(p) for p in duplicates)
    assert sorted(window.fake_trash.paths) == real  # type: ignore[attr-defined]
    assert os.path.exists(first.keep)
    journal = window.journal.entries()
    assert {e.path for e in journal if e.action == "trash" and e.status == "trashed"} == set(real)


def test_trash_is_checked_again_when_the_user_confirms(
    qtbot: QtBot, window: MainWindow, library: Path
) -> None:
    """The keeper vanishes while the confirmation is open: nothing of its group moves."""
    _scan(qtbot, window, library)
    first = window.groups.state(0)
    for row in range(1, window.groups.rowCount()):
        window.groups.setData(
            window.groups.index(row), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole
        )
    window.context = replace(window.context, confirm=True)

    def user_waits_then_says_yes(scopes: list[TrashScope], default: int) -> TrashScope:
        plan = scopes[default].plan
        assert len(plan.trash) == sum(1 for m in first.members if m.path != first.keep
                                      and not m.overlapping)  # fmt: skip
        os.remove(first.keep)  # e.g. another program deleted it meanwhile
        return scopes[default]

    window._confirm_trash = user_waits_then_says_yes  # type: ignore[method-assign]
    window.trash_selected()
    assert window.fake_trash.paths == []  # type: ignore[attr-defined]
    assert all(os.path.exists(m.path) for m in first.members if m.path != first.keep)
    # The second plan refuses every file of the group (its keeper is gone): none may move.
    others = sum(1 for m in first.members if m.path != first.keep and not m.overlapping)
    assert "Moved 0 files" in window.status.text()
    assert f"{others} files were no longer safe to move" in window.status.text()


def test_not_duplicates_is_remembered(qtbot: QtBot, window: MainWindow, library: Path) -> None:
    _scan(qtbot, window, library)
    before = window.groups.rowCount()
    window.view.setCurrentIndex(window.groups.index(0))
    window.mark_not_duplicates()
    assert window.groups.rowCount() == before - 1
    assert len(window.verdicts) > 0


def test_keeper_rules(qtbot: QtBot, window: MainWindow, library: Path) -> None:
    _scan(qtbot, window, library)
    window.groups.keep_by_rule("resolution")
    for state in window.groups.states():
        kept = next(m for m in state.members if m.path == state.keep)
        assert kept.info.pixels == max(m.info.pixels for m in state.members)
    window.groups.keep_suggested()
    assert all(s.keep == s.group.keep for s in window.groups.states())


def test_empty_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    qtmodeltester.check(GroupListModel())


def test_sensitivity_is_explained_as_measured_precision() -> None:
    from ndid_desktop.ui.settings_dialog import expected_precision

    points = [[0.5, 0.9, 0.95], [0.9, 0.99, 0.8], [0.99, 0.999, 0.6]]
    assert expected_precision(points, 0.9) == pytest.approx((0.99, 0.8))
    # Between two measured points, read off the straight line between them.
    assert expected_precision(points, 0.945) == pytest.approx((0.9945, 0.7))
    assert expected_precision(points, 0.999) == pytest.approx((0.999, 0.6))
    assert expected_precision(points, 0.4) is None


def test_settings_reach_the_scan_config(qtbot: QtBot, window: MainWindow) -> None:
    s = window.context.settings
    s.setValue("threshold", 0.97)
    s.setValue("extensions", [".jpg", ".png"])
    config = window.scan_config()
    assert config.threshold == 0.97
    assert config.extensions == frozenset({".jpg", ".png"})


def test_folders_with_reference_and_exclusions_persist(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    (tmp_path / "lib" / "skip").mkdir(parents=True)
    window.folders.add_folder(str(tmp_path / "lib"), reference=True)
    window.folders.exclude(str(tmp_path / "lib"), str(tmp_path / "lib" / "skip"))
    window._save()
    again = MainWindow(window.context)
    qtbot.addWidget(again)
    (root,) = again.folders.roots()
    assert root.reference and root.excluded == (tmp_path / "lib" / "skip",)


def test_split_group_keeps_parts_apart_now_and_later(
    qtbot: QtBot, qtmodeltester: ModelTester, window: MainWindow, library: Path
) -> None:
    _scan(qtbot, window, library)
    before = window.groups.rowCount()
    state = window.groups.state(0)
    moved = {m.path for m in state.members[-2:]}
    window.apply_split(0, moved)
    assert window.groups.rowCount() == before + 1
    qtmodeltester.check(window.groups)
    parts = [set(m.path for m in s.members) for s in window.groups.states()[:2]]
    assert moved in parts
    a = next(iter(moved))
    b = next(m.path for m in state.members if m.path not in moved)
    assert (a, b) in window.verdicts


# --- the window over a stand-in scan: no engine, a prepared report


def _jpeg(seed: int) -> bytes:
    import io

    from ..conftest import textured

    out = io.BytesIO()
    textured(seed, (96, 72)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def prepared(window: MainWindow, tmp_path: Path) -> tuple[Path, ScanReport]:
    """Two groups over real files, with the scan record in the window's data folder (as the
    engine writes it), so that the window can trash from this report."""
    from ..trash_fixtures import photo, scanned

    lib = tmp_path / "prepared"
    a, b, c = (photo(lib, f"{name}.jpg", _jpeg(1)) for name in ("a", "b", "c"))
    x, y = (photo(lib, f"{name}.jpg", _jpeg(2)) for name in ("x", "y"))
    s = scanned(window.context.folder.scan_records, [[a, b, c], [x, y]], [lib])
    return lib, s.report


class PreparedScan:
    """Stands in for the engine's scan: reports progress, then returns a prepared report."""

    def __init__(self, report: ScanReport) -> None:
        self.report = report
        self.calls: list[tuple[tuple[Root, ...], ScanConfig]] = []

    def __call__(
        self,
        roots: Sequence[Root],
        config: ScanConfig,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> ScanReport:
        self.calls.append((tuple(roots), config))
        progress(ProgressEvent("features", 1, 2))
        progress(ProgressEvent("features", 2, 2))
        return self.report


def test_a_stand_in_scan_fills_the_grid_and_its_groups_can_be_trashed(
    qtbot: QtBot,
    qtmodeltester: ModelTester,
    window: MainWindow,
    prepared: tuple[Path, ScanReport],
) -> None:
    lib, report = prepared
    fake = PreparedScan(report)
    window.context = replace(window.context, scan=fake)
    window.folders.add_folder(str(lib))
    window.start_scan()
    qtbot.waitUntil(lambda: window.scan_button.isEnabled(), timeout=10_000)
    assert fake.calls == [(tuple(window.folders.roots()), window.scan_config())]
    assert window.report is report
    assert window.groups.rowCount() == 2
    qtmodeltester.check(window.groups)
    assert window.status.text().startswith("2 groups, 3 duplicates")
    assert window.review.currentWidget() is window.view
    # Keep b instead of the suggested a, leave the second group alone, trash.
    keep = str(lib / "b.jpg")
    assert window.groups.setData(window.groups.index(0), keep, Roles.KEEP)
    assert not window.groups.setData(window.groups.index(0), str(lib / "x.jpg"), Roles.KEEP)
    window.groups.setData(
        window.groups.index(1), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole
    )
    window.trash_selected()
    expected = sorted(os.path.realpath(lib / n) for n in ("a.jpg", "c.jpg"))
    assert sorted(window.fake_trash.paths) == expected  # type: ignore[attr-defined]
    assert os.path.exists(keep) and os.path.exists(lib / "x.jpg") and os.path.exists(lib / "y.jpg")
    assert window.groups.rowCount() == 1  # the emptied group left the list
    assert window.groups.state(0).keep == str(lib / "x.jpg")
    assert window.status.text().startswith("Moved 2 files to the trash.")


def test_cancel_reaches_the_scan_and_the_cancelled_state_is_shown(
    qtbot: QtBot, window: MainWindow, prepared: tuple[Path, ScanReport]
) -> None:
    """The stand-in waits for the token the Cancel button sets, then stops as the engine
    does. Had the cancel not arrived it would return its report, and this test would fail."""
    import threading
    import time

    from ndid_desktop.engine.progress import ScanCancelled

    lib, report = prepared
    started, saw_cancel = threading.Event(), threading.Event()

    def waits_for_cancel(
        roots: Sequence[Root], config: ScanConfig, progress: ProgressCallback, cancel: CancelToken
    ) -> ScanReport:
        started.set()
        deadline = time.monotonic() + 30
        while not cancel.cancelled:
            if time.monotonic() > deadline:
                return report
            time.sleep(0.01)
        saw_cancel.set()
        raise ScanCancelled("scan cancelled")

    window.context = replace(window.context, scan=waits_for_cancel)
    window.folders.add_folder(str(lib))
    window.start_scan()
    assert window.worker is not None and not window.scan_button.isEnabled()
    qtbot.waitUntil(started.is_set, timeout=10_000)
    assert window.cancel_button.isEnabled()
    with qtbot.waitSignal(window.worker.done, timeout=30_000):
        window.cancel_button.click()
        assert window.status.text() == "Cancelling after the current batch…"
    qtbot.waitUntil(lambda: window.scan_button.isEnabled(), timeout=10_000)
    assert saw_cancel.is_set()
    assert window.report is None and window.groups.rowCount() == 0
    assert window.status.text().startswith("Scan cancelled.")
    assert window.placeholder.text().startswith("Scan cancelled")
    assert window.review.currentWidget() is window.placeholder
    assert not window.cancel_button.isEnabled() and window.worker is None


def test_a_failing_scan_is_shown_and_the_window_stays_usable(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    def fails(
        roots: Sequence[Root], config: ScanConfig, progress: ProgressCallback, cancel: CancelToken
    ) -> ScanReport:
        raise RuntimeError("the disk went away")

    window.context = replace(window.context, scan=fails)
    (tmp_path / "lib").mkdir()
    window.folders.add_folder(str(tmp_path / "lib"))
    window.start_scan()
    qtbot.waitUntil(lambda: window.scan_button.isEnabled(), timeout=10_000)
    assert window.status.text() == "The scan stopped: the disk went away"
    assert window.report is None


def test_the_window_takes_its_paths_and_config_from_the_workspace(window: MainWindow) -> None:
    from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

    folder = DataFolder.at(window.context.data_dir)
    assert window.context.folder == folder
    assert window.journal.path == folder.journal and window.verdicts.path == folder.verdicts
    expected = scan_config(folder, ScanOptions(models_dir=folder.models_dir))
    assert window.scan_config() == expected
