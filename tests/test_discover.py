import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest import MonkeyPatch

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.files import discover as discover_module
from ndid_desktop.engine.files.discover import PULSE_INTERVAL_S, RootNotFoundError, discover
from ndid_desktop.engine.progress import CancelToken, ProgressEvent, ScanCancelled

from .conftest import textured


def _photo(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    textured(seed).save(path, "JPEG")
    return path


def _names(files: tuple) -> list[str]:
    return sorted(os.path.basename(f.path) for f in files)


def test_finds_images_recursively_and_skips_hidden_and_system_folders(tmp_path: Path) -> None:
    _photo(tmp_path / "a.jpg")
    _photo(tmp_path / "sub" / "deeper" / "b.JPEG")
    _photo(tmp_path / ".hidden" / "c.jpg")
    _photo(tmp_path / "$RECYCLE.BIN" / "d.jpg")
    _photo(tmp_path / "@eaDir" / "e.jpg")
    (tmp_path / "notes.txt").write_text("not a photo")
    found = discover([Root(tmp_path)], ScanConfig())
    assert _names(found.files) == ["a.jpg", "b.JPEG"]
    with_hidden = discover([Root(tmp_path)], ScanConfig(skip_hidden=False))
    assert "c.jpg" in _names(with_hidden.files)


def test_paths_are_reported_as_found_under_the_given_root(tmp_path: Path) -> None:
    _photo(tmp_path / "x" / "a.jpg")
    found = discover([Root(tmp_path / "x" / ".." / "x")], ScanConfig())
    assert found.files[0].path == os.path.join(str(tmp_path / "x" / ".." / "x"), "a.jpg")


def test_symlink_loops_end_and_linked_files_count_once(tmp_path: Path) -> None:
    _photo(tmp_path / "photos" / "a.jpg")
    os.symlink(tmp_path, tmp_path / "photos" / "loop")
    os.link(tmp_path / "photos" / "a.jpg", tmp_path / "photos" / "hardlink.jpg")
    found = discover([Root(tmp_path)], ScanConfig())
    assert len(found.files) == 1


def test_reference_root_wins_a_file_under_two_roots(tmp_path: Path) -> None:
    _photo(tmp_path / "lib" / "refs" / "a.jpg")
    found = discover([Root(tmp_path / "lib"), Root(tmp_path / "lib" / "refs", reference=True)],
                     ScanConfig())  # fmt: skip
    assert len(found.files) == 1 and found.files[0].reference


def test_excluded_subfolders_are_left_out(tmp_path: Path) -> None:
    _photo(tmp_path / "keep" / "a.jpg")
    _photo(tmp_path / "skip" / "b.jpg")
    found = discover([Root(tmp_path, excluded=(tmp_path / "skip",))], ScanConfig())
    assert _names(found.files) == ["a.jpg"]


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RootNotFoundError, match="folder not found"):
        discover([Root(tmp_path / "nope")], ScanConfig())


def test_non_utf8_file_names_are_kept_exactly(tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.jpg")
    textured(1).save(os.fsdecode(raw), "JPEG")
    found = discover([Root(tmp_path)], ScanConfig())
    assert os.fsencode(found.files[0].path) == raw


def test_dangling_symlink_is_skipped_with_a_reason(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.jpg", tmp_path / "link.jpg")
    found = discover([Root(tmp_path)], ScanConfig())
    assert not found.files
    assert found.skipped and "cannot read" in found.skipped[0].error


DEEP_LEVELS = 600  # deeper than Python's default recursion limit (1000) allows for a
# recursive walker of nested generators: each level costs it more than one frame


def test_a_very_deep_tree_is_walked_to_the_bottom(tmp_path: Path) -> None:
    _photo(tmp_path / "top.jpg")
    deepest = tmp_path.joinpath(*["d"] * DEEP_LEVELS)
    _photo(deepest / "bottom.jpg", seed=1)
    found = discover([Root(tmp_path)], ScanConfig())
    assert _names(found.files) == ["bottom.jpg", "top.jpg"]
    assert not found.skipped


def test_folders_are_walked_depth_first_in_name_order(tmp_path: Path) -> None:
    for name in ("b/2.jpg", "b/1.jpg", "a.jpg", "c.jpg", "b/sub/3.jpg", "0/4.jpg"):
        _photo(tmp_path / name)
    found = discover([Root(tmp_path)], ScanConfig())
    relative = [os.path.relpath(f.path, tmp_path) for f in found.files]
    assert relative == ["0/4.jpg", "a.jpg", "b/1.jpg", "b/2.jpg", "b/sub/3.jpg", "c.jpg"]


class _FakeClock:
    """Stands in for time.monotonic in discover: each reading moves time on by ``step``, and
    ``on_read`` runs at each reading (to cancel "from another thread" at a known point)."""

    def __init__(self, step: float, on_read: Callable[[int], None] | None = None) -> None:
        self.now, self.step, self.reads = 1000.0, step, 0
        self.on_read = on_read

    def __call__(self) -> float:
        self.reads += 1
        if self.on_read is not None:
            self.on_read(self.reads)
        self.now += self.step
        return self.now


def _library(root: Path, folders: int = 4, per_folder: int = 10) -> int:
    # discover only lists and stats files, so empty files named like photos are enough
    for f in range(folders):
        (root / f"f{f}").mkdir(parents=True)
        for i in range(per_folder):
            (root / f"f{f}" / f"{i:02d}.jpg").write_bytes(b"")
    return folders * per_folder


def test_progress_counts_up_while_walking(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    total = _library(tmp_path)
    monkeypatch.setattr(discover_module, "monotonic", _FakeClock(PULSE_INTERVAL_S))
    events: list[ProgressEvent] = []
    found = discover([Root(tmp_path)], ScanConfig(), progress=events.append)
    start, walking, end = events[0], events[1:-1], events[-1]
    assert start == ProgressEvent("discover", 0, 0, "looking for photos")
    counts = [e.done for e in walking]
    assert len(counts) > 2 and 0 < counts[0] < total  # reported while the walk went on
    assert counts == sorted(set(counts))  # each event a new, larger count
    assert all(e.total == 0 for e in walking)  # the total is unknown until the walk ends
    assert walking[1].message == f"{counts[1]} photos found"
    assert end == ProgressEvent("discover", total, total, f"{total} photos found")  # finished
    assert len(found.files) == total


def test_progress_is_throttled_by_time(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    total = _library(tmp_path)
    monkeypatch.setattr(discover_module, "monotonic", _FakeClock(0.0))  # time stands still
    events: list[ProgressEvent] = []
    discover([Root(tmp_path)], ScanConfig(), progress=events.append)
    assert events == [
        ProgressEvent("discover", 0, 0, "looking for photos"),
        ProgressEvent("discover", total, total, f"{total} photos found"),
    ]


def test_cancel_during_the_walk_stops_it(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    total = _library(tmp_path)
    monkeypatch.setattr(discover_module, "monotonic", _FakeClock(PULSE_INTERVAL_S))
    token = CancelToken()
    seen: list[int] = []

    def progress(event: ProgressEvent) -> None:
        seen.append(event.done)
        if event.done >= 5:
            token.cancel()

    with pytest.raises(ScanCancelled):
        discover([Root(tmp_path)], ScanConfig(), progress=progress, cancel=token)
    assert max(seen) < total  # it stopped before the end of the walk


def test_cancel_is_seen_in_folders_without_photos(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    for i in range(200):
        (tmp_path / f"{i:03d}.txt").write_bytes(b"")
    token = CancelToken()

    def cancel_at_20th_reading(reads: int) -> None:
        if reads == 20:
            token.cancel()

    clock = _FakeClock(PULSE_INTERVAL_S, on_read=cancel_at_20th_reading)
    monkeypatch.setattr(discover_module, "monotonic", clock)
    with pytest.raises(ScanCancelled):
        discover([Root(tmp_path)], ScanConfig(), cancel=token)
    assert clock.reads < 200  # not at the end: while walking the non-image files


def test_a_cancelled_scan_does_not_walk(tmp_path: Path) -> None:
    _library(tmp_path)
    token = CancelToken()
    token.cancel()
    events: list[ProgressEvent] = []
    with pytest.raises(ScanCancelled):
        discover([Root(tmp_path)], ScanConfig(), progress=events.append, cancel=token)
    assert not events
