"""`ndid trash`, `history` and `restore` as a person uses them: a real scan, a report, the
trash (a freedesktop-style trash in a temporary folder, never the machine's own), bad reports."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from ndid_desktop.cli.main import main
from ndid_desktop.engine.actions import execution as execute_module
from ndid_desktop.engine.actions import restore

from .conftest import dev_photos


class FreedesktopTrash:
    """Does what send2trash does on Linux, inside $XDG_DATA_HOME/Trash of the test."""

    def __init__(self, home: Path) -> None:
        self.folder = home / "Trash"

    def __call__(self, path: str) -> None:
        (self.folder / "files").mkdir(parents=True, exist_ok=True)
        (self.folder / "info").mkdir(parents=True, exist_ok=True)
        name = f"{len(list((self.folder / 'files').iterdir()))}-{os.path.basename(path)}"
        shutil.move(path, self.folder / "files" / name)
        quoted = quote(os.fsencode(os.path.abspath(path)))
        (self.folder / "info" / f"{name}.trashinfo").write_text(
            f"[Trash Info]\nPath={quoted}\nDeletionDate=2026-12-01T10:00:00\n"
        )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FreedesktopTrash:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    trash = FreedesktopTrash(tmp_path / "xdg")
    monkeypatch.setattr(execute_module, "default_trash", lambda: trash)
    return trash


@pytest.fixture
def library(tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    lib.mkdir()
    for photo in dev_photos(3):
        shutil.copy(photo, lib / photo.name)
        shutil.copy(photo, lib / f"copy of {photo.name}")
    return lib


def _scan(tmp_path: Path, library: Path) -> Path:
    report = tmp_path / "report.json"
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "scan", str(library), "--models", "fast", "--json", str(report)]) == 0
    return report


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop trash")
def test_scan_trash_history_restore_round_trip(
    tmp_path: Path, library: Path, home: FreedesktopTrash, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _scan(tmp_path, library)
    groups = json.loads(report.read_text())["groups"]
    assert len(groups) == 3 and all(len(g["members"]) == 2 for g in groups)
    data = ["--data-dir", str(tmp_path / "data")]
    capsys.readouterr()
    assert main([*data, "trash", str(report), "--yes"]) == 0
    assert "3 of 3 files moved" in capsys.readouterr().out
    assert len(list(library.iterdir())) == 3
    assert all(Path(g["keep"]).exists() for g in groups)
    assert main([*data, "history"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if " trashed " in line]
    assert len(lines) == 3
    shown = lines[0].split(" trashed ", 1)[1].strip()
    assert main([*data, "restore", shown]) == 0
    assert Path(shown).exists()
    assert main([*data, "history"]) == 0
    out = capsys.readouterr().out
    restored = [line for line in out.splitlines() if "restore" in line and "restored" in line]
    assert restored and not restored[0].startswith("1970")  # restore entries carry their date
    # The restored file is byte for byte the one scanned, so the same report may trash it again;
    # the two copies already in the trash are named as gone.
    assert main([*data, "trash", str(report), "--yes"]) == 0
    captured = capsys.readouterr()
    assert "1 of 1 files moved" in captured.out
    assert captured.err.count("it is no longer there") == 2
    assert len(list(library.iterdir())) == 3


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "report not found"),
        ("{}", "not an NDID scan report"),
        ("[1, 2]", "not an NDID report"),
        ("{not json", "is not a JSON report"),
        ('{"groups": [{"keep": "/a.jpg"}], "stats": {}}', "no scan id"),
    ],
)
def test_bad_reports_give_a_clear_error_and_exit_2(
    content: str | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "missing.json"
    if content is not None:
        report.write_text(content)
    assert main(["--data-dir", str(tmp_path / "data"), "trash", str(report), "--yes"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_group_without_members_is_named(
    tmp_path: Path, library: Path, home: FreedesktopTrash, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _scan(tmp_path, library)
    data = json.loads(report.read_text())
    del data["groups"][1]["members"]
    report.write_text(json.dumps(data))
    assert main(["--data-dir", str(tmp_path / "data"), "trash", str(report), "--yes"]) == 2
    assert "group 2 of the report needs a 'keep' path and a 'members' list" in (
        capsys.readouterr().err
    )
    assert len(list(library.iterdir())) == 6


def test_a_drive_trash_with_relative_paths_restores(tmp_path: Path) -> None:
    drive_trash = tmp_path / "drive" / ".Trash-1000"
    (drive_trash / "files").mkdir(parents=True)
    (drive_trash / "info").mkdir()
    (drive_trash / "files" / "été 1.jpg").write_bytes(b"photo")
    (drive_trash / "info" / "été 1.jpg.trashinfo").write_text(
        f"[Trash Info]\nPath={quote('photos/été 1.jpg')}\nDeletionDate=2026-11-22T01:00:00\n"
    )
    original = tmp_path / "drive" / "photos" / "été 1.jpg"
    assert restore(str(original), [drive_trash]).startswith("restored")
    assert original.read_bytes() == b"photo"
    assert "not in the trash" in restore(str(tmp_path / "other.jpg"), [drive_trash])
    (drive_trash / "files" / "été 1.jpg").write_bytes(b"another photo, trashed later")
    (drive_trash / "info" / "été 1.jpg.trashinfo").write_text(
        f"[Trash Info]\nPath={quote('photos/été 1.jpg')}\nDeletionDate=2026-11-23T01:00:00\n"
    )
    assert "already exists" in restore(str(original), [drive_trash])
    assert original.read_bytes() == b"photo"


def test_a_scan_that_cannot_write_its_record_still_reports_but_nothing_can_be_trashed(
    tmp_path: Path, library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "scans").write_text("a file where the records folder should be")
    report = _scan(tmp_path, library)
    assert "scan record could not be written" in capsys.readouterr().out
    assert len(json.loads(report.read_text())["groups"]) == 3
    assert main(["--data-dir", str(data), "trash", str(report), "--yes"]) == 2
    assert "no scan id" in capsys.readouterr().err
    assert len(list(library.iterdir())) == 6


def _trashed_file(tmp_path: Path) -> tuple[Path, Path]:
    trash = tmp_path / "Trash"
    (trash / "files").mkdir(parents=True)
    (trash / "info").mkdir()
    original = tmp_path / "lib" / "sub" / "a.jpg"
    (trash / "files" / "a.jpg").write_bytes(b"photo")
    (trash / "info" / "a.jpg.trashinfo").write_text(
        f"[Trash Info]\nPath={quote(str(original))}\nDeletionDate=2026-11-22T01:00:00\n"
    )
    return trash, original


def test_restore_never_goes_through_a_folder_that_became_a_link(tmp_path: Path) -> None:
    trash, original = _trashed_file(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    original.parent.parent.mkdir()
    os.symlink(tmp_path / "elsewhere", original.parent)
    message = restore(str(original), [trash])
    assert message.startswith("not restored") and "leads somewhere else" in message
    assert not (tmp_path / "elsewhere" / "a.jpg").exists()
    assert (trash / "files" / "a.jpg").exists()


def test_restore_into_a_folder_that_became_a_file_says_so(tmp_path: Path) -> None:
    trash, original = _trashed_file(tmp_path)
    original.parent.parent.mkdir()
    original.parent.write_text("a file now")
    message = restore(str(original), [trash])
    assert message.startswith("not restored") and "still in the trash" in message


def test_a_scan_of_a_relative_folder_reports_absolute_paths_and_can_be_trashed(
    tmp_path: Path, library: Path, home: FreedesktopTrash, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = ["--data-dir", "data"]
    assert main([*data, "scan", "lib", "--models", "fast", "--json", "r.json"]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert all(os.path.isabs(m["path"]) for g in report["groups"] for m in g["members"])
    assert main([*data, "trash", "r.json", "--yes"]) == 0
    assert len(list(library.iterdir())) == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop trash")
def test_a_file_the_report_marks_overlapping_is_never_trashed_from_it(
    tmp_path: Path, library: Path, home: FreedesktopTrash, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _scan(tmp_path, library)
    data = json.loads(report.read_text())
    for group in data["groups"]:
        for member in group["members"]:
            member["overlapping"] = member["path"] != group["keep"]
    report.write_text(json.dumps(data))
    before = sorted(p.name for p in library.iterdir())
    capsys.readouterr()
    assert main(["--data-dir", str(tmp_path / "data"), "trash", str(report), "--yes"]) == 0
    assert sorted(p.name for p in library.iterdir()) == before
    # Said as what it is, not as a reference folder it is not in.
    err = capsys.readouterr().err
    assert err.count("it overlaps the file kept (neither holds all of the other)") == 3
    assert "reference" not in err
