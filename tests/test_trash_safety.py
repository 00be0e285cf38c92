"""Trying to break the trash path: every invariant, at the moment each file moves.

1 never the last copy · 2 canonical paths · 3 the report is not the authority · 4 unchanged means
unchanged (content, not size+mtime) · 5 one action at a time · 6 write-ahead journal. After each
attempt, a copy of every picture must remain and the journal must match the (fake) trash."""

from __future__ import annotations

import errno
import os
import random
import threading
import time
from pathlib import Path

import pytest

from ndid_desktop.engine.actions import (
    ActionBusyError,
    GroupChoice,
    Journal,
    Outcome,
    PlanRejected,
    RecordError,
    TrashPlan,
    execute,
    plan_trash,
)
from ndid_desktop.engine.actions.report_request import ReportError, read_report, trash_request

from .trash_fixtures import FakeTrash, photo, scanned


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    return tmp_path / "lib"


@pytest.fixture
def records(tmp_path: Path) -> Path:
    return tmp_path / "data" / "scans"


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "data" / "journal.jsonl")


@pytest.fixture
def fake(tmp_path: Path) -> FakeTrash:
    return FakeTrash(tmp_path / "trash")


def _run(plan, journal: Journal, fake: FakeTrash):  # type: ignore[no-untyped-def]
    return execute(plan, journal, fake, fake.locate)


def _journal_matches_trash(journal: Journal, fake: FakeTrash) -> None:
    trashed = {e.path for e in journal.entries() if e.action == "trash" and e.status == "trashed"}
    in_trash = {p for p in fake.stored if fake.locate(p) is not None}
    assert trashed == in_trash
    assert not journal.read().interrupted


def _pair(lib: Path, content: bytes = b"picture-one") -> tuple[Path, Path]:
    return photo(lib, "a.jpg", content), photo(lib, "a-copy.jpg", content + b"~")


def _keeper_and_three_copies(lib: Path, records: Path) -> tuple[list[Path], TrashPlan]:
    keep = photo(lib, "a.jpg", b"pixels")
    dups = [photo(lib, f"d{i}.jpg", b"pixels" + bytes([i])) for i in range(3)]
    s = scanned(records, [[keep, *dups]], [lib])
    return dups, plan_trash([GroupChoice(tuple(map(str, [keep, *dups])), str(keep))], s.record)


def _second_waits_for_first(
    plan_1: TrashPlan, journal_1: Journal, plan_2: TrashPlan, journal_2: Journal, fake: FakeTrash
) -> list[Outcome]:
    """Start a second action while the first is in the middle of a move; the second must wait
    for the first to finish (the lock), then check its keeper. Returns the second's outcomes."""
    inside_move, release = threading.Event(), threading.Event()

    def slow_trash(path: str) -> None:
        inside_move.set()
        release.wait(10)
        fake(path)

    results: dict[str, list[Outcome]] = {}
    one = threading.Thread(
        target=lambda: results.update(one=execute(plan_1, journal_1, slow_trash))
    )
    one.start()
    assert inside_move.wait(10)
    two = threading.Thread(target=lambda: results.update(two=_run(plan_2, journal_2, fake)))
    two.start()
    time.sleep(0.3)
    assert "two" not in results, "the second action did not wait for the first"
    release.set()
    one.join(10)
    two.join(10)
    return results["two"]


# --- the ordinary case, and invariant 6's journal shape


def test_trashes_the_copy_keeps_the_keeper_and_journals_before_and_after(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    plan = plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record)
    assert [p.file.path for p in plan.trash] == [str(dup)] and not plan.refused
    outcomes = _run(plan, journal, fake)
    assert [(o.path, o.status) for o in outcomes] == [(str(dup), "trashed")]
    assert keep.exists() and not dup.exists()
    phases = [line for line in journal.path.read_text().splitlines() if '"phase"' in line]
    assert '"intent"' in phases[0] and '"done"' in phases[1]
    _journal_matches_trash(journal, fake)


# --- 1. never the last copy


def test_keeper_must_be_one_of_the_members(lib: Path, records: Path) -> None:
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    with pytest.raises(PlanRejected, match="not one of its group's members"):
        plan_trash([GroupChoice((str(dup),), str(keep))], s.record)


def test_two_groups_that_keep_each_others_file_trash_neither(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    a, b = _pair(lib)
    s = scanned(records, [[a, b]], [lib])
    choices = [GroupChoice((str(a), str(b)), str(a)), GroupChoice((str(b), str(a)), str(b))]
    plan = plan_trash(choices, s.record)
    assert not plan.trash
    assert all("kept in another group" in r.reason for r in plan.refused)
    _run(plan, journal, fake)
    assert a.exists() and b.exists()


def test_keeper_listed_again_under_another_spelling_is_not_trashed(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    alias = f"{lib}/./a.jpg"
    plan = plan_trash([GroupChoice((str(keep), alias, str(dup)), str(keep))], s.record)
    assert [p.file.path for p in plan.trash] == [str(dup)]
    plan = plan_trash([GroupChoice((alias, str(keep)), alias)], s.record)
    assert not plan.trash
    _run(plan, journal, fake)
    assert keep.exists()


def test_a_hard_link_of_the_keeper_is_not_a_copy(lib: Path, records: Path) -> None:
    keep = photo(lib, "a.jpg", b"pixels")
    link = lib / "a-link.jpg"
    os.link(keep, link)
    s = scanned(records, [[keep, link]], [lib])
    plan = plan_trash([GroupChoice((str(keep), str(link)), str(keep))], s.record)
    assert not plan.trash and "hard link" in plan.refused[0].reason


def test_a_keeper_that_is_a_symlink_to_another_drive_saves_no_copy(
    tmp_path: Path, lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    elsewhere = photo(tmp_path / "other-drive", "real.jpg", b"pixels")
    keeper_link = lib / "a.jpg"
    lib.mkdir()
    os.symlink(elsewhere, keeper_link)
    only_copy = photo(lib, "b.jpg", b"pixels")
    s = scanned(records, [[keeper_link, only_copy]], [lib])
    plan = plan_trash([GroupChoice((str(keeper_link), str(only_copy)), str(keeper_link))], s.record)
    assert not plan.trash and "symbolic link" in plan.refused[0].reason
    _run(plan, journal, fake)
    assert only_copy.exists()


@pytest.mark.parametrize(
    "event", ["removed", "replaced", "edited-same-size-and-mtime", "symlinked"]
)
def test_keeper_changed_between_plan_and_move_stops_the_move(
    event: str, tmp_path: Path, lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    plan = plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record)
    assert len(plan.trash) == 1
    if event == "removed":
        keep.unlink()
    elif event == "replaced":
        keep.unlink()
        keep.write_bytes(b"another picture entirely")
    elif event == "edited-same-size-and-mtime":  # what `exiftool -P` does
        st = keep.stat()
        keep.write_bytes(b"X" * st.st_size)
        os.utime(keep, ns=(st.st_atime_ns, st.st_mtime_ns))
    else:  # the keeper becomes a link to the very file about to be trashed
        keep.unlink()
        os.symlink(dup, keep)
    outcomes = _run(plan, journal, fake)
    assert [o.status for o in outcomes] == ["skipped"]
    assert "file to keep" in outcomes[0].message
    assert dup.exists()
    _journal_matches_trash(journal, fake)


def test_two_reports_trashed_together_never_remove_each_others_keeper(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    a, b = _pair(lib)
    first = scanned(records, [[a, b]], [lib])
    second = scanned(records, [[b, a]], [lib])  # another scan that chose the other keeper
    plan_1 = plan_trash([GroupChoice((str(a), str(b)), str(a))], first.record)
    plan_2 = plan_trash([GroupChoice((str(b), str(a)), str(b))], second.record)
    second_outcomes = _second_waits_for_first(plan_1, journal, plan_2, journal, fake)
    assert a.exists() != b.exists(), "exactly one copy went, the other stayed"
    assert [o.status for o in second_outcomes] == ["skipped"]
    _journal_matches_trash(journal, fake)


def test_a_busy_lock_refuses_rather_than_racing(lib: Path, records: Path, journal: Journal) -> None:
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    plan = plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record)
    moved: list[str] = []
    with journal.exclusive(), pytest.raises(ActionBusyError, match="another NDID action"):
        execute(plan, journal, moved.append, wait=0.2)
    assert not moved
    assert dup.exists()


# --- 2. canonical paths


def test_relative_paths_are_refused_not_read_against_the_current_folder(
    lib: Path, records: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    monkeypatch.chdir(lib)
    with pytest.raises(PlanRejected, match="relative path"):
        plan_trash([GroupChoice(("a.jpg", "a-copy.jpg"), "a.jpg")], s.record)


def test_a_member_reached_through_a_link_out_of_the_library_is_outside(
    tmp_path: Path, lib: Path, records: Path
) -> None:
    keep = photo(lib, "a.jpg", b"pixels")
    outside = photo(tmp_path / "elsewhere", "b.jpg", b"pixels")
    os.symlink(outside.parent, lib / "sneaky")
    s = scanned(records, [[keep, lib / "sneaky" / "b.jpg"]], [lib])
    plan = plan_trash(
        [GroupChoice((str(keep), str(lib / "sneaky" / "b.jpg")), str(keep))], s.record
    )
    assert not plan.trash and "outside the scanned folders" in plan.refused[0].reason


def test_a_member_whose_folder_became_a_link_does_not_move(
    tmp_path: Path, lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    keep = photo(lib, "a.jpg", b"pixels")
    dup = photo(lib / "sub", "b.jpg", b"pixels!")
    s = scanned(records, [[keep, dup]], [lib])
    plan = plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record)
    elsewhere = tmp_path / "elsewhere"
    (lib / "sub").rename(elsewhere)
    os.symlink(elsewhere, lib / "sub")
    outcomes = _run(plan, journal, fake)
    assert outcomes[0].status == "skipped" and "link" in outcomes[0].message
    assert (elsewhere / "b.jpg").exists()


def test_a_symlinked_member_is_not_moved(lib: Path, records: Path) -> None:
    keep = photo(lib, "a.jpg", b"pixels")
    target = photo(lib / "sub", "c.jpg", b"pixels.")
    os.symlink(target, lib / "b.jpg")
    s = scanned(records, [[keep, lib / "b.jpg"]], [lib])
    plan = plan_trash([GroupChoice((str(keep), str(lib / "b.jpg")), str(keep))], s.record)
    assert not plan.trash and "symbolic link" in plan.refused[0].reason


# --- 3. the report is not the authority


def _report_file(tmp_path: Path, data: dict[str, object]) -> Path:
    import json

    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    return path


def test_a_report_may_narrow_drop_groups_and_pick_another_keeper(
    tmp_path: Path, lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    a, b = _pair(lib)
    c = photo(lib, "a-third.jpg", b"picture-one!!")
    x, y = photo(lib, "x.jpg", b"other"), photo(lib, "y.jpg", b"other~")
    s = scanned(records, [[a, b, c], [x, y]], [lib])
    data = s.report_json()
    groups = data["groups"]
    assert isinstance(groups, list)
    data["groups"] = [groups[0]]  # the second group dropped
    groups[0]["keep"] = str(b)  # another keeper among the members
    groups[0]["members"] = groups[0]["members"][:2]  # c dropped
    request = trash_request(read_report(_report_file(tmp_path, data)), records)
    plan = plan_trash(request.choices, request.record, request.roots)
    assert [p.file.path for p in plan.trash] == [str(a)]
    _run(plan, journal, fake)
    assert b.exists() and c.exists() and x.exists() and y.exists() and not a.exists()


@pytest.mark.parametrize(
    "edit, message",
    [
        ("roots", "folder the scan did not cover"),
        ("reference", "reference folder of the scan"),
        ("extra-path", "not in any group of this scan"),
        ("merged-groups", "different groups"),
        ("no-scan-id", "no scan id"),
        ("foreign-scan-id", "no scan id"),
        ("unknown-scan-id", "is not in"),
    ],
)
def test_a_report_edited_to_widen_is_refused_whole(
    edit: str, message: str, tmp_path: Path, lib: Path, records: Path
) -> None:
    a, b = _pair(lib)
    ref = photo(tmp_path / "refs", "r.jpg", b"picture-one")
    x, y = photo(lib, "x.jpg", b"other"), photo(lib, "y.jpg", b"other~")
    outsider = photo(tmp_path / "outside", "o.jpg", b"picture-one")
    s = scanned(records, [[a, b, ref], [x, y]], [lib, tmp_path / "refs"], reference=[ref])
    data = s.report_json()
    groups, stats = data["groups"], data["stats"]
    assert isinstance(groups, list) and isinstance(stats, dict)
    if edit == "roots":
        stats["roots"] = [str(tmp_path)]
    elif edit == "reference":
        groups[0]["members"][2]["reference"] = False
        groups[0]["keep"] = str(a)
    elif edit == "extra-path":
        groups[0]["members"].append({"path": str(outsider)})
    elif edit == "merged-groups":
        groups[0]["members"] += groups[1]["members"]
    elif edit == "no-scan-id":
        del stats["scan_id"]
    elif edit == "foreign-scan-id":
        stats["scan_id"] = "../../etc/passwd"
    else:
        stats["scan_id"] = "0" * 32
    with pytest.raises((PlanRejected, RecordError, ReportError), match=message):
        request = trash_request(read_report(_report_file(tmp_path, data)), records)
        plan_trash(request.choices, request.record, request.roots)


def test_reference_flag_comes_from_the_scan(tmp_path: Path, lib: Path, records: Path) -> None:
    keep = photo(lib, "a.jpg", b"pixels")
    ref = photo(tmp_path / "refs", "r.jpg", b"pixels!")
    s = scanned(records, [[keep, ref]], [lib, tmp_path / "refs"], reference=[ref])
    plan = plan_trash([GroupChoice((str(keep), str(ref)), str(keep))], s.record)
    assert not plan.trash and "reference" in plan.refused[0].reason


# --- 4. unchanged means unchanged


def test_a_copy_rewritten_with_the_same_size_and_mtime_is_not_trashed(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    st = dup.stat()
    dup.write_bytes(b"Y" * st.st_size)  # e.g. exiftool -P: same size, mtime put back
    os.utime(dup, ns=(st.st_atime_ns, st.st_mtime_ns))
    plan = plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record)
    assert not plan.trash and "content changed" in plan.refused[0].reason


# --- 6. write-ahead journal


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


@pytest.mark.parametrize("when", ["before-move", "after-move"])
def test_a_crash_around_the_move_is_reconciled_with_the_trash(
    when: str, lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    plan = plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record)

    def crashing(path: str) -> None:
        if when == "after-move":
            fake(path)
        raise Crash

    with pytest.raises(Crash):
        execute(plan, journal, crashing, fake.locate)
    assert [e.status for e in journal.read().interrupted] == ["interrupted"]
    # The next action (here: one with nothing to do) closes the interrupted line first.
    _run(plan_trash([], s.record), journal, fake)
    [entry] = [e for e in journal.entries() if e.action == "trash"]
    assert entry.status == ("trashed" if when == "after-move" else "not-moved")
    assert dup.exists() == (when == "before-move")
    _journal_matches_trash(journal, fake)


def test_a_full_disk_at_the_journal_moves_nothing(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash, monkeypatch: pytest.MonkeyPatch
) -> None:
    dups, plan = _keeper_and_three_copies(lib, records)

    def full(self: Journal, record: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Journal, "append", full)
    outcomes = _run(plan, journal, fake)
    assert outcomes[0].status == "error" and "journal cannot be written" in outcomes[0].message
    assert [o.status for o in outcomes[1:]] == ["skipped", "skipped"]
    assert all(d.exists() for d in dups) and not fake.stored


def test_one_failure_does_not_stop_the_batch(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    _dups, plan = _keeper_and_three_copies(lib, records)

    def flaky(path: str) -> None:
        if path.endswith("d1.jpg"):
            raise PermissionError("read-only folder")
        fake(path)

    outcomes = execute(plan, journal, flaky, fake.locate)
    assert [o.status for o in outcomes] == ["trashed", "error", "trashed"]
    assert "read-only" in outcomes[1].message
    _journal_matches_trash(journal, fake)


def test_damaged_journal_lines_are_skipped_and_counted(journal: Journal) -> None:
    journal.append({"action": "restore", "path": "/p/a.jpg", "status": "restored", "message": ""})
    with journal.path.open("ab") as f:
        f.write(b"\xff\xfe not utf-8\n")
        f.write(b'{"action": 3, "time": "yesterday", "path": []}\n')
        f.write(b"[1, 2]\n")
        f.write(b'{"action": "trash", "phase": "intent", "op": "x", "path": "/p/b.jp')  # cut
    reading = journal.read()
    assert [e.path for e in reading.entries] == ["/p/a.jpg"]
    assert reading.damaged == 4
    assert reading.entries[0].time > 1.7e9  # the real date


# --- everything at once: random reports, random events between plan and move


def test_random_reports_and_events_never_lose_the_last_copy(tmp_path: Path) -> None:
    rng = random.Random(9)
    for trial in range(60):
        base = tmp_path / f"t{trial}"
        lib, records = base / "lib", base / "data" / "scans"
        pictures = {
            p: [photo(lib / f"f{rng.randrange(3)}", f"p{p}-{c}.jpg", f"pic{p}-{c}".encode())
                for c in range(rng.randint(2, 4))]
            for p in range(4)
        }  # fmt: skip
        content = {str(f): p for p, files in pictures.items() for f in files}
        groups = [files for files in pictures.values()]
        s = scanned(records, groups, [lib])
        choices = []
        for files in groups:  # the person's edits: drop members, choose keepers, repeat groups
            kept = rng.sample(files, rng.randint(1, len(files)))
            for _ in range(rng.randint(1, 2)):
                choices.append(GroupChoice(tuple(map(str, kept)), str(rng.choice(kept))))
        plan = plan_trash(choices, s.record)
        for _ in range(rng.randint(0, 3)):  # the world moves on before the person confirms
            victim = rng.choice([f for files in groups for f in files])
            if victim.exists() and not victim.is_symlink():
                action = rng.choice(["edit", "link", "delete"])
                if action == "edit":
                    victim.write_bytes(b"edited")
                elif action == "link":
                    victim.unlink()
                    os.symlink(rng.choice([f for files in groups for f in files]), victim)
                else:
                    victim.unlink()
        intact_before = _intact_pictures(content)
        fake = FakeTrash(base / "trash")
        journal = Journal(base / "data" / "journal.jsonl")
        execute(plan, journal, fake, fake.locate)
        assert intact_before <= _intact_pictures(content), f"trial {trial}"
        _journal_matches_trash(journal, fake)


def _intact_pictures(content: dict[str, int]) -> set[int]:
    """Pictures with at least one real, unedited file left in the library."""
    intact = set()
    for path, picture in content.items():
        real_file = os.path.isfile(path) and not os.path.islink(path)
        if real_file and Path(path).read_bytes().startswith(f"pic{picture}-".encode()):
            intact.add(picture)
    return intact


# --- found by trying to break it (hostile-tester findings, each fixed)


def test_two_data_folders_still_never_trash_at_the_same_time(
    tmp_path: Path, lib: Path, fake: FakeTrash
) -> None:
    """The app on its own data folder and a script with --data-dir share the user-wide lock."""
    a, b = _pair(lib)
    user_lock = tmp_path / "state" / "actions.lock"
    journal_1 = Journal(tmp_path / "data-1" / "journal.jsonl", (user_lock,))
    journal_2 = Journal(tmp_path / "data-2" / "journal.jsonl", (user_lock,))
    first = scanned(tmp_path / "data-1" / "scans", [[a, b]], [lib])
    second = scanned(tmp_path / "data-2" / "scans", [[b, a]], [lib])
    plan_1 = plan_trash([GroupChoice((str(a), str(b)), str(a))], first.record)
    plan_2 = plan_trash([GroupChoice((str(b), str(a)), str(b))], second.record)
    second_outcomes = _second_waits_for_first(plan_1, journal_1, plan_2, journal_2, fake)
    assert a.exists() != b.exists()
    assert [o.status for o in second_outcomes] == ["skipped"]


def test_a_lock_file_deleted_mid_run_stops_the_run(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    _dups, plan = _keeper_and_three_copies(lib, records)

    def trash_then_a_cleaner_deletes_the_lock(path: str) -> None:
        fake(path)
        for lock in journal.locks:
            lock.unlink(missing_ok=True)

    outcomes = execute(plan, journal, trash_then_a_cleaner_deletes_the_lock, fake.locate)
    assert [o.status for o in outcomes] == ["trashed", "error", "skipped"]
    assert "lock file" in outcomes[1].message and "removed or replaced" in outcomes[1].message
    assert len(fake.stored) == 1
    _journal_matches_trash(journal, fake)


def test_a_line_cut_by_a_full_disk_does_not_swallow_the_next(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    journal.path.parent.mkdir(parents=True)
    journal.path.write_bytes(b'{"v": 2, "time": 1.8e9, "action": "trash", "phase": "inte')
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    _run(plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record), journal, fake)
    reading = journal.read()
    assert reading.damaged == 1
    assert [(e.path, e.status) for e in reading.entries] == [(os.path.realpath(dup), "trashed")]


def test_a_failed_journal_write_leaves_no_half_line(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal.append({"action": "restore", "path": "/p/a.jpg", "status": "restored"})
    before = journal.path.read_bytes()

    def fsync_fails(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync_fails)
    with pytest.raises(OSError):
        journal.append({"action": "restore", "path": "/p/b.jpg", "status": "restored"})
    monkeypatch.undo()
    assert journal.path.read_bytes() == before


@pytest.mark.parametrize(
    "line",
    [
        b'{"action": "trash", "time": NaN, "path": "/x", "status": "trashed"}',
        b'{"action": "trash", "time": Infinity, "path": "/x", "status": "trashed"}',
        b'{"action": "trash", "time": 1e300, "path": "/x", "status": "trashed"}',
        b'{"action": "trash", "time": -1e20, "path": "/x", "status": "trashed"}',
        b'{"v": 2, "time": 1, "action": "trash", "phase": "intent", "op": "z", '
        b'"path": "/a\\u0000b"}',
    ],
)
def test_hostile_journal_lines_are_skipped_and_block_nothing(
    line: bytes, lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    journal.path.parent.mkdir(parents=True)
    journal.path.write_bytes(line + b"\n")
    assert journal.read().damaged == 1
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    outcomes = _run(
        plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record), journal, fake
    )
    assert [o.status for o in outcomes] == ["trashed"]


def test_a_journal_that_is_not_a_file_moves_nothing(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    journal.path.mkdir(parents=True)
    assert "not a regular file" in journal.read().problem
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    outcomes = _run(
        plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record), journal, fake
    )
    assert outcomes[0].status == "error" and "journal cannot be written" in outcomes[0].message
    assert dup.exists()


@pytest.mark.parametrize("who", ["member", "keeper"])
def test_a_byte_identical_file_put_in_its_place_is_not_the_scanned_file(
    who: str, lib: Path, records: Path, journal: Journal, fake: FakeTrash
) -> None:
    """Same path, same bytes, another file (a backup copied back, a disk mounted over it)."""
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    plan = plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record)
    target = dup if who == "member" else keep
    stand_in = target.with_name("stand-in")
    stand_in.write_bytes(target.read_bytes())
    os.replace(stand_in, target)
    outcomes = _run(plan, journal, fake)
    assert outcomes[0].status == "skipped" and "not the file the scan read" in outcomes[0].message
    assert dup.exists()


def test_relative_or_nul_paths_in_the_request_are_refused(lib: Path, records: Path) -> None:
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])
    with pytest.raises(PlanRejected, match="relative path"):
        plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record, roots=["."])
    with pytest.raises(PlanRejected, match="NUL"):
        plan_trash([GroupChoice((str(keep), f"{dup}\0x"), str(keep))], s.record)


def test_a_trash_that_cannot_be_reached_does_not_blame_the_photo(
    lib: Path, records: Path, journal: Journal
) -> None:
    keep, dup = _pair(lib)
    s = scanned(records, [[keep, dup]], [lib])

    def no_home(path: str) -> None:
        raise FileNotFoundError(2, "No such file or directory", "/home/nobody/.local/share")

    outcomes = execute(plan_trash([GroupChoice((str(keep), str(dup)), str(keep))], s.record),
                       journal, no_home, lambda p: None)  # fmt: skip
    assert outcomes[0].status == "error" and "trash cannot be reached" in outcomes[0].message
    assert dup.exists()


def test_moving_does_not_read_again_what_the_plan_just_hashed_unless_it_changed(
    lib: Path, records: Path, journal: Journal, fake: FakeTrash, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ndid_desktop.engine.actions import checks

    dups, plan = _keeper_and_three_copies(lib, records)
    read: list[str] = []
    real_fingerprint = checks.fingerprint_file

    def counting(path: str) -> str:
        read.append(path)
        return real_fingerprint(path)

    monkeypatch.setattr(checks, "fingerprint_file", counting)
    dups[2].write_bytes(dups[2].read_bytes())  # same bytes, but written: its ctime moves
    outcomes = _run(plan, journal, fake)
    assert [o.status for o in outcomes] == ["trashed"] * 3
    assert read == [str(dups[2])]  # only the file written since the plan is hashed again
