"""The scorer on hand-computed cases, and the attack generator's determinism and labels."""

import hashlib
import os
from pathlib import Path

import pytest

from ndid_desktop.engine.evaluation.attacks import (
    EDITS,
    EDITS_BY_NAME,
    ManifestRow,
    make_dataset,
    split_of,
)
from ndid_desktop.engine.evaluation.group_scores import score_report
from ndid_desktop.engine.types import Group, ImageInfo, Member, ScanReport, ScanStats

INFO = ImageInfo(10, 10, "JPEG")
ROWS = [
    ManifestRow("a/original.jpg", "a", "original", "", ""),
    ManifestRow("a/resize.jpg", "a", "copy", "resize-50", "easy"),
    ManifestRow("a/crop.jpg", "a", "copy", "crop-40", "hard"),
    ManifestRow("b/original.jpg", "b", "original", "", ""),
    ManifestRow("b/flip.jpg", "b", "copy", "flip", "medium"),
    ManifestRow("d/x.jpg", "distractor:x", "distractor", "", ""),
]


def _report(*groups: tuple[str, ...]) -> ScanReport:
    """A report whose groups list paths under /r; the first path of each is the keeper."""
    stats = ScanStats(0, 0, 0, 0, 0, 0, 0, 0, 0, len(groups), "fast", None, 0.5, (0.1, 0.9), {})

    def member(p: str) -> Member:
        return Member(os.path.join("/r", p), 1.0, "", False, 1, INFO)

    return ScanReport(
        groups=tuple(
            Group(os.path.join("/r", g[0]), "kept", tuple(member(p) for p in g)) for g in groups
        ),
        skipped=(),
        stats=stats,
    )


def test_perfect_report() -> None:
    score = score_report(
        _report(("a/original.jpg", "a/resize.jpg", "a/crop.jpg"), ("b/original.jpg", "b/flip.jpg")),
        ROWS, "/r",
    )  # fmt: skip
    assert (score.true_pairs, score.predicted_pairs, score.correct_pairs) == (4, 4, 4)
    assert score.precision == score.recall == score.keeper_accuracy == 1.0
    assert score.false_groups == 0


def test_missed_crop_wrong_keeper_and_a_false_group() -> None:
    # Group 1 misses the crop and keeps the resized copy; group 2 pulls in the distractor.
    score = score_report(
        _report(("a/resize.jpg", "a/original.jpg"), ("b/original.jpg", "b/flip.jpg", "d/x.jpg")),
        ROWS, "/r",
    )  # fmt: skip
    # predicted pairs: a: 1; b: 3 (orig-flip, orig-x, flip-x) -> 4, of which 2 are true
    assert (score.predicted_pairs, score.correct_pairs, score.true_pairs) == (4, 2, 4)
    assert score.precision == 0.5 and score.recall == 0.5
    assert score.keeper_correct == 1 and score.false_groups == 1
    recall = {e.edit: e.recall for e in score.by_edit}
    assert recall == {"crop-40": 0.0, "flip": 1.0, "resize-50": 1.0}
    assert score.by_tier["hard"] == (0, 1)


def test_unknown_files_in_a_report_are_an_error() -> None:
    with pytest.raises(ValueError, match="does not know"):
        score_report(_report(("a/original.jpg", "zzz.jpg")), ROWS, "/r")


def test_generator_is_deterministic_and_labels_every_file(tmp_path: Path) -> None:
    from .conftest import dev_photos

    sources = dev_photos(2)
    edits = [EDITS_BY_NAME[n] for n in ("crop-60-off", "noise", "print-scan", "jpeg-q30")]

    def digest(folder: Path) -> dict[str, str]:
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"
        }

    rows = make_dataset(sources, tmp_path / "one", edits=edits, seed=3, max_side=320)
    make_dataset(sources, tmp_path / "two", edits=edits, seed=3, max_side=320)
    assert digest(tmp_path / "one") == digest(tmp_path / "two")
    assert {r.file for r in rows} == set(digest(tmp_path / "one"))
    assert sum(r.role == "original" for r in rows) == 2
    assert {r.edit for r in rows if r.role == "copy"} == {e.name for e in edits}


def test_every_edit_has_a_tier_and_splits_are_stable() -> None:
    assert {e.tier for e in EDITS} == {"easy", "medium", "hard"}
    assert len({e.name for e in EDITS}) == len(EDITS)
    assert split_of("0843f1dfa6b61194") == split_of("0843f1dfa6b61194")
