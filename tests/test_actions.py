"""Trash safety rules, each a test; outcomes per file; the journal; restoring from the trash.
Files go through a fake trash function: the test machine's real trash is never touched."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ndid_desktop.engine.actions import (
    FileState,
    GroupChoice,
    Journal,
    execute,
    plan_deletion,
    restore,
)


def _file(folder: Path, name: str, content: bytes = b"photo", reference: bool = False) -> FileState:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    st = path.stat()
    return FileState(str(path), st.st_size, st.st_mtime_ns, reference)


class FakeTrash:
    """Moves files into a folder of its own, like a trash would."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir()
        self.trashed: list[str] = []

    def __call__(self, path: str) -> None:
        shutil.move(path, self.folder / f"{len(self.trashed)}-{os.path.basename(path)}")
        self.trashed.append(path)


def test_trashes_the_others_keeps_the_keeper_and_journals(tmp_path: Path) -> None:
    keep, dup = _file(tmp_path / "lib", "a.jpg"), _file(tmp_path / "lib", "a-copy.jpg")
    plan = plan_deletion(
        [GroupChoice((keep, dup), frozenset({keep.path}))], [str(tmp_path / "lib")]
    )
    assert [f.path for f in plan.trash] == [dup.path] and not plan.refused
    journal = Journal(tmp_path / "journal.jsonl")
    fake = FakeTrash(tmp_path / "trash")
    outcomes = execute(plan, journal, fake)
    assert [(o.path, o.status) for o in outcomes] == [(dup.path, "trashed")]
    assert os.path.exists(keep.path) and not os.path.exists(dup.path)
    assert [(e["action"], e["path"]) for e in journal.entries()] == [("trash", dup.path)]


def test_never_every_member_of_a_group(tmp_path: Path) -> None:
    a, b = _file(tmp_path, "a.jpg"), _file(tmp_path, "b.jpg")
    plan = plan_deletion([GroupChoice((a, b), frozenset())], [str(tmp_path)])
    assert not plan.trash
    assert {r.path for r in plan.refused} == {a.path, b.path}
    assert "every copy" in plan.refused[0].reason


def test_never_a_reference_folder_file(tmp_path: Path) -> None:
    keep = _file(tmp_path, "a.jpg")
    ref = _file(tmp_path / "refs", "r.jpg", reference=True)
    plan = plan_deletion([GroupChoice((keep, ref), frozenset({keep.path}))], [str(tmp_path)])
    assert not plan.trash and "reference" in plan.refused[0].reason


def test_never_outside_the_scanned_folders(tmp_path: Path) -> None:
    keep = _file(tmp_path / "lib", "a.jpg")
    outside = _file(tmp_path / "elsewhere", "b.jpg")
    link = tmp_path / "lib" / "sneaky"
    os.symlink(tmp_path / "elsewhere", link)
    via_link = FileState(str(link / "b.jpg"), outside.size, outside.mtime_ns)
    plan = plan_deletion([GroupChoice((keep, outside, via_link), frozenset({keep.path}))],
                         [str(tmp_path / "lib")])  # fmt: skip
    assert not plan.trash
    assert all("outside" in r.reason for r in plan.refused)


def test_never_a_file_that_changed_since_the_scan(tmp_path: Path) -> None:
    keep, dup = _file(tmp_path, "a.jpg"), _file(tmp_path, "b.jpg")
    Path(dup.path).write_bytes(b"edited since the scan!")
    plan = plan_deletion([GroupChoice((keep, dup), frozenset({keep.path}))], [str(tmp_path)])
    assert not plan.trash and "changed since the scan" in plan.refused[0].reason


def test_keeper_gone_means_nothing_goes(tmp_path: Path) -> None:
    keep, dup = _file(tmp_path, "a.jpg"), _file(tmp_path, "b.jpg")
    os.unlink(keep.path)
    plan = plan_deletion([GroupChoice((keep, dup), frozenset({keep.path}))], [str(tmp_path)])
    assert not plan.trash and "rescan" in plan.refused[0].reason


def test_one_failure_does_not_stop_the_batch(tmp_path: Path) -> None:
    keep = _file(tmp_path, "a.jpg")
    dups = [_file(tmp_path, f"d{i}.jpg") for i in range(3)]
    plan = plan_deletion([GroupChoice((keep, *dups), frozenset({keep.path}))], [str(tmp_path)])
    fake = FakeTrash(tmp_path / "trash")

    def flaky(path: str) -> None:
        if path.endswith("d1.jpg"):
            raise PermissionError("read-only folder")
        fake(path)

    outcomes = execute(plan, Journal(tmp_path / "j.jsonl"), flaky)
    assert [o.status for o in outcomes] == ["trashed", "error", "trashed"]
    assert "read-only" in outcomes[1].message


@pytest.mark.skipif(not os.sys.platform.startswith("linux"), reason="freedesktop trash")
def test_restore_from_a_freedesktop_trash(tmp_path: Path) -> None:
    trash = tmp_path / "Trash"
    (trash / "files").mkdir(parents=True)
    (trash / "info").mkdir()
    original = tmp_path / "lib" / "été 1.jpg"
    (trash / "files" / "été 1.jpg").write_bytes(b"photo")
    quoted = "/".join(p for p in str(original).split("/"))
    from urllib.parse import quote

    (trash / "info" / "été 1.jpg.trashinfo").write_text(
        f"[Trash Info]\nPath={quote(quoted)}\nDeletionDate=2026-11-22T01:00:00\n"
    )
    assert restore(str(original), [trash]).startswith("restored")
    assert original.read_bytes() == b"photo"
    assert not list((trash / "info").iterdir())
    assert "not in the trash" in restore(str(tmp_path / "other.jpg"), [trash])
