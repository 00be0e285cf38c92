"""A damaged feature cache is moved aside and rebuilt; a disk that fills up mid-scan costs the
cache's speed-up, not the scan; a report or model export that hits a full disk ends the command
with one line and exit code 1, keeping what was done."""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from ndid_desktop.cli.main import main
from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.features import cache as cache_module
from ndid_desktop.engine.features.cache import CachedImage, FeatureCache
from ndid_desktop.engine.features.extract import compute_features
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.progress import ProgressEvent
from ndid_desktop.engine.types import FileEntry, ImageInfo

from .conftest import dev_photos

DAMAGED_NAME = re.compile(r"features\.sqlite\.damaged-\d{8}-\d{6}$")


def _image(i: int) -> tuple[FileEntry, CachedImage]:
    entry = FileEntry(f"/photos/p{i:04d}.jpg", "/photos", False, 1000 + i, 2000 + i)
    hashes = np.full((3, 8, 8), i % 256, np.uint8)
    return entry, CachedImage(ImageInfo(40, 30, "JPEG"), hashes, None, f"xxh3-128:{i:032x}")


def _vectors(images: list[tuple[FileEntry, CachedImage]]) -> list[tuple[str, np.ndarray]]:
    return [(e.path, np.ones(1280, np.float32)) for e, _ in images]


def _filled_cache(path: Path, count: int) -> list[tuple[FileEntry, CachedImage]]:
    images = [_image(i) for i in range(count)]
    with FeatureCache(path) as cache:
        cache.store(images, _vectors(images), "enc@1")
    return images


def _garbage_everywhere(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def _garbage_pages(path: Path) -> None:
    # Keeps the header page, so SQLite opens the file and trips over the pages behind it.
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(4096)
        f.write(np.random.default_rng(1).bytes(size - 2 * 4096))


def _not_a_database(path: Path) -> None:
    path.write_text("my shopping list\n" * 100)


@pytest.mark.parametrize("damage", [_garbage_everywhere, _garbage_pages, _not_a_database])
def test_damaged_cache_is_moved_aside_once_and_rebuilt(tmp_path: Path, damage) -> None:
    path = tmp_path / "features.sqlite"
    _filled_cache(path, 300)
    damage(path)
    damaged_bytes = path.read_bytes()
    with FeatureCache(path) as cache:
        assert cache.count() == 0
        cache.store([_image(7)])
        (warning,) = cache.warnings
    (moved,) = [p for p in tmp_path.iterdir() if DAMAGED_NAME.search(p.name)]
    assert warning == f"the feature cache was damaged; moved aside to {moved} and rebuilt"
    assert moved.read_bytes() == damaged_bytes
    with FeatureCache(path) as cache:
        assert cache.warnings == []
        assert list(cache.lookup_images([_image(7)[0]])) == ["/photos/p0007.jpg"]


def test_move_aside_keeps_the_wal_and_shm_with_the_database(tmp_path: Path) -> None:
    path = tmp_path / "features.sqlite"
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"features.sqlite{suffix}").write_text(suffix or "db")
    first, second = cache_module.move_aside(path), None
    path.write_text("db again")
    second = cache_module.move_aside(path)  # the same second: a distinct name
    assert DAMAGED_NAME.search(first.name) and first != second
    assert [p.read_text() for p in (first, Path(f"{first}-wal"), Path(f"{first}-shm"))] == [
        "db",
        "-wal",
        "-shm",
    ]
    assert second.read_text() == "db again"
    assert not path.exists() and not Path(f"{path}-wal").exists()


def test_healthy_cache_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "features.sqlite"
    images = _filled_cache(path, 20)
    with FeatureCache(path) as cache:
        assert cache.warnings == []
        assert len(cache.lookup_images(e for e, _ in images)) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.sqlite"]


def _photo_library(folder: Path, count: int, offset: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for photo in dev_photos(count, offset=offset):
        shutil.copyfile(photo, folder / photo.name)
    return folder


def test_cache_damaged_in_the_middle_of_a_scan_is_rebuilt_and_the_scan_goes_on(
    tmp_path: Path,
) -> None:
    lib = _photo_library(tmp_path / "lib", 4)
    path = tmp_path / "features.sqlite"
    config = ScanConfig(model_set="fast", workers=1, batch_size=2)
    entries = discover([Root(lib)], config).files
    cache = FeatureCache(path)

    def damage_after_the_lookups(event: ProgressEvent) -> None:
        if event.stage == "features" and event.done == 0:
            # The file goes bad under the open cache, between its lookups and its first store.
            cache._db.close()
            _not_a_database(path)
            cache._db = sqlite3.connect(path)

    with cache:
        found = compute_features(entries, config, cache, None, damage_after_the_lookups)
        (warning,) = cache.warnings
    assert len(found.entries) == 4 and found.decoded == 4
    assert warning.startswith("the feature cache was damaged; moved aside to ")
    with FeatureCache(path) as reopened:
        assert reopened.warnings == []
        assert len(reopened.lookup_images(entries)) == 4  # stored after the rebuild


def _limit_growth(db: sqlite3.Connection) -> None:
    """Make the database file unable to grow: SQLite's own "database or disk is full"."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages}")


def test_full_disk_during_store_keeps_earlier_rows_and_sends_the_rest_to_memory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "features.sqlite"
    earlier = _filled_cache(path, 3)
    later = [_image(i) for i in range(3, 40)]
    with FeatureCache(path) as cache:
        _limit_growth(cache._db)
        cache.store(later, _vectors(later), "enc@1")
        cache.store_verification(later[0][0], later[1][0], 0, (1.0, 2.0), "orb@4")
        (warning,) = cache.warnings
        everything = [e for e, _ in earlier + later]
        assert len(cache.lookup_images(everything)) == 40  # this scan still sees them all
        assert len(cache.lookup_embeddings([e.path for e in everything], "enc@1")) == 40
        assert cache.lookup_verification(later[0][0], later[1][0], 0, "orb@4") == (1.0, 2.0)
    assert warning.startswith("no space left on the disk for the feature cache")
    with FeatureCache(path) as reopened, closing(sqlite3.connect(path)) as db:
        assert reopened.warnings == []
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert reopened.count() == 3
        assert len(reopened.lookup_images(everything)) == 3


SUMMARY = re.compile(r"(\d+) pictures read \((\d+) decoded, (\d+) from cache\)")


def _scan(data: Path, lib: Path, capsys: pytest.CaptureFixture[str], *extra: str):
    code = main(["--data-dir", str(data), "scan", str(lib), "--models", "fast", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _read_counts(out: str) -> tuple[int, int, int]:
    match = SUMMARY.search(out)
    assert match is not None, out
    used, decoded, cached = (int(g) for g in match.groups())
    return used, decoded, cached


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("ndid:")]


def test_scan_over_a_damaged_cache_says_so_and_later_scans_use_the_new_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lib = _photo_library(tmp_path / "lib", 3)
    data = tmp_path / "data"
    data.mkdir()
    _not_a_database(data / "features.sqlite")
    code, out, _ = _scan(data, lib, capsys)
    assert code == 0
    assert re.search(r"^note: the feature cache was damaged; moved aside to .+ and rebuilt$",
                     out, re.MULTILINE)  # fmt: skip
    code, out, _ = _scan(data, lib, capsys)
    assert code == 0 and "note:" not in out
    assert _read_counts(out) == (3, 0, 3)


def test_scan_whose_cache_disk_fills_up_finishes_and_keeps_the_cache_usable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = _photo_library(tmp_path / "lib", 3)
    data = tmp_path / "data"
    assert _scan(data, lib, capsys)[0] == 0
    _photo_library(lib, 12, offset=3)  # more rows than the free room in the file's pages
    real_connect = cache_module._connect

    def full_disk_connect(target: str) -> sqlite3.Connection:
        db = real_connect(target)
        _limit_growth(db)
        return db

    monkeypatch.setattr(cache_module, "_connect", full_disk_connect)
    code, out, err = _scan(data, lib, capsys)
    assert code == 0, err
    assert _read_counts(out) == (15, 12, 3)
    assert "note: no space left on the disk for the feature cache" in out
    monkeypatch.undo()
    code, out, _ = _scan(data, lib, capsys)
    assert code == 0 and "note:" not in out
    assert _read_counts(out) == (15, 12, 3)  # the three cached before the disk filled up


def test_report_on_a_full_disk_exits_1_with_one_line_and_keeps_the_old_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = _photo_library(tmp_path / "lib", 3)
    data, out_dir = tmp_path / "data", tmp_path / "out"
    out_dir.mkdir()
    report = out_dir / "report.json"
    report.write_text('{"old": true}\n')
    real_write_text = Path.write_text

    def no_space(self: Path, *args: object, **kwargs: object) -> int:
        if self.parent == out_dir:
            # What write() says on a full disk: no file name.
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", no_space)
    code, _, err = _scan(data, lib, capsys, "--json", str(report))
    assert code == 1
    assert _error_lines(err) == [
        f"ndid: no space left on the disk while writing {report}; what was done so far is kept"
    ]
    assert report.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.json"]  # no partial file
    monkeypatch.undo()
    code, out, _ = _scan(data, lib, capsys, "--json", str(report))
    assert code == 0
    assert _read_counts(out) == (3, 0, 3)
    assert '"groups"' in report.read_text()


def test_model_export_on_a_full_disk_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ndid_desktop.engine.features import extract as features

    lib = _photo_library(tmp_path / "lib", 2)
    onnx = tmp_path / "data" / "models" / "efficientnet-lite0-v1.onnx"

    def export_fills_the_disk(*args: object, **kwargs: object) -> Path:
        # What the export child process raises (see encoders.export_encoder).
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(onnx))

    monkeypatch.setattr(features, "prepare_onnx", export_fills_the_disk)
    code = main(["--data-dir", str(tmp_path / "data"), "scan", str(lib), "--models", "standard"])
    assert code == 1
    assert _error_lines(capsys.readouterr().err) == [
        f"ndid: no space left on the disk while writing {onnx}; what was done so far is kept"
    ]


def test_a_full_database_anywhere_in_a_command_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ndid_desktop.engine import pipeline

    def scan_that_fills_a_database(*args: object, **kwargs: object) -> None:
        with closing(sqlite3.connect(tmp_path / "other.sqlite")) as db:
            db.execute("CREATE TABLE t (x BLOB)")
            _limit_growth(db)
            with db:
                db.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))

    monkeypatch.setattr(pipeline, "scan", scan_that_fills_a_database)
    data = tmp_path / "data"
    code = main(["--data-dir", str(data), "scan", str(tmp_path), "--models", "fast"])
    assert code == 1
    assert _error_lines(capsys.readouterr().err) == [
        f"ndid: no space left on the disk while writing a database in {data};"
        " what was done so far is kept"
    ]
