"""What `ndid compare`, `ndid history` and `ndid trash --dry-run` say, read as a user reads it:
help that explains the arguments, no crop or mirror words for unrelated photos, real shares,
signals in the natural direction (A to B), an empty history, a dry run that shows what stays."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from ndid_desktop.cli.main import main

from .conftest import dev_photos

GEOMETRY_WORDS = ("cropped", "0% of the picture", "mirrored", "turned", "flipped", "border")


def _compare(tmp_path: Path, a: Path, b: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["--data-dir", str(tmp_path / "d"), "compare", str(a), str(b)])
    out = capsys.readouterr().out
    assert code == 0
    return out


def _section(out: str, heading: str) -> list[str]:
    """The indented lines under the line that starts with ``heading``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        body.append(line)
    return body


def test_compare_help_explains_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "A the first picture file" in out and "B the second picture file" in out
    assert "the probability that they are the same picture" in out
    assert "'copydetect':" in out  # every choice of --models is explained


def test_unrelated_photos_are_plainly_not_the_same_picture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = dev_photos(2, offset=60)
    out = _compare(tmp_path, a, b, capsys)
    assert out.startswith("NOT THE SAME PICTURE: probability 0.")
    why = next(line for line in out.splitlines() if line.startswith("not the same picture: "))
    assert "the embedding sees different content (cosine 0." in why
    assert not any(word in out for word in GEOMETRY_WORDS), out
    assert "differs from" not in out and "is the original" not in out
    assert "orientation               none lines them up" in out
    assert "overlap                   none found" in out


def test_contributions_are_shares_that_sum_to_100(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = dev_photos(2, offset=60)
    out = _compare(tmp_path, a, b, capsys)
    rows = _section(out, "what moved it")
    assert len(rows) >= 3
    total = 0
    for row in rows:
        match = re.search(r"([+-]\d+\.\d\d)\s+(\d+)%  toward (same|different|neither)$", row)
        assert match, row
        push, share, toward = float(match[1]), int(match[2]), match[3]
        assert toward == ("same" if push > 0 else "different" if push < 0 else "neither")
        total += share
    assert total == 100
    assert "share of the log-odds" not in out


def test_signals_read_from_a_to_b_and_name_the_original(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    img = Image.open(dev_photos(1, offset=50)[0]).convert("RGB")
    big, small = tmp_path / "big.jpg", tmp_path / "small.jpg"
    img.save(big, quality=95)
    img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS).save(small, quality=85)
    out = _compare(tmp_path, big, small, capsys)
    assert out.startswith("SAME PICTURE")
    assert "B is 50% of A's size (25% of its pixels)" in out
    assert re.search(r"^A is the original \(probability (0\.\d\d|1\.00)\): ", out, re.M)
    assert "B differs from A: smaller: 50%" in out
    assert "orientation               B lines up with A as it is" in out
    assert "B shows 100% of A; A shows 100% of B" in out
    # The other way round, every sentence turns with it.
    out = _compare(tmp_path, small, big, capsys)
    assert "B is 200% of A's size (400% of its pixels)" in out
    assert re.search(r"^B is the original \(probability ", out, re.M)
    assert "A differs from B: smaller: 50%" in out


def test_history_of_an_empty_journal_says_nothing_trashed_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path / "new"), "history"]) == 0
    assert capsys.readouterr().out == "nothing trashed yet\n"


def test_trash_dry_run_lists_what_is_kept_next_to_what_would_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for photo in dev_photos(3):
        shutil.copy(photo, lib / photo.name)
        shutil.copy(photo, lib / f"copy of {photo.name}")
    data, report = ["--data-dir", str(tmp_path / "data")], tmp_path / "report.json"
    assert main([*data, "scan", str(lib), "--models", "fast", "--json", str(report)]) == 0
    edited = json.loads(report.read_text())
    groups = edited["groups"]
    assert len(groups) == 3
    # One group as the scan left it; in the others the user protects the second file.
    second = [next(m for m in g["members"] if m["path"] != g["keep"]) for g in groups]
    second[1]["reference"] = True
    second[2]["overlapping"] = True
    report.write_text(json.dumps(edited))
    capsys.readouterr()
    assert main([*data, "trash", str(report), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["group 1", f"  keep  {groups[0]['keep']}", f"  goes  {second[0]['path']}"]
    assert lines[3:6] == [
        "group 2",
        f"  keep  {groups[1]['keep']}",
        f"  stays {second[1]['path']}: it is in a reference folder",
    ]
    assert lines[6:9] == [
        "group 3",
        f"  keep  {groups[2]['keep']}",
        f"  stays {second[2]['path']}: it overlaps the file kept (neither holds all of the "
        "other), so both are kept",
    ]
    assert lines[9].startswith("1 files, ") and lines[9].endswith("MB would move to the trash")
    assert lines[10] == "dry run: nothing moved"
    assert len(list(lib.iterdir())) == 6


def test_trash_in_a_terminal_shows_the_groups_before_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = dev_photos(1)[0]
    shutil.copy(photo, lib / "a.jpg")
    shutil.copy(photo, lib / "b.jpg")
    data, report = ["--data-dir", str(tmp_path / "data")], tmp_path / "report.json"
    assert main([*data, "scan", str(lib), "--models", "fast", "--json", str(report)]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main([*data, "trash", str(report)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["group 1", f"  keep  {lib / 'a.jpg'}", f"  goes  {lib / 'b.jpg'}"]
    assert out[3].endswith("MB to move to the trash") and out[-1] == "nothing moved"
    assert sorted(p.name for p in lib.iterdir()) == ["a.jpg", "b.jpg"]
