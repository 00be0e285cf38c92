"""One scoring contract for scan reports against a labelled dataset (see attacks.py).

Pairwise: the pairs inside predicted groups against the pairs inside true groups. Per edit: a
copy is recalled when it lands in the same group as its original. Keeper accuracy: the kept
file of a group is the true original of that group's picture.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ndid_desktop.engine.evaluation.attacks import ManifestRow
from ndid_desktop.engine.types import ScanReport


@dataclass(frozen=True)
class EditScore:
    edit: str
    tier: str
    copies: int
    recalled: int

    @property
    def recall(self) -> float:
        return self.recalled / self.copies if self.copies else 1.0


@dataclass(frozen=True)
class Score:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    keeper_correct: int
    keeper_total: int
    false_groups: int  # predicted groups that join different pictures (distractors included)
    by_edit: tuple[EditScore, ...]
    by_tier: dict[str, tuple[int, int]] = field(default_factory=dict)  # tier -> (recalled, copies)
    # The edit that made each file kept instead of its group's original ("" for a distractor);
    # groups without their original are counted apart: no keeper of theirs can be right.
    kept_instead: dict[str, int] = field(default_factory=dict)
    without_original: int = 0
    pictures_found: int = 0  # true pictures with at least one file in a predicted group
    picture_groups: int = 0  # predicted groups those pictures' files are spread over

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def groups_per_picture(self) -> float:
        """Predicted groups per true picture found: 1.0 when no picture is split."""
        return self.picture_groups / self.pictures_found if self.pictures_found else 1.0

    @property
    def keeper_accuracy(self) -> float:
        return self.keeper_correct / self.keeper_total if self.keeper_total else 1.0


def _pairs(members: Iterable[str]) -> set[tuple[str, str]]:
    return {(a, b) if a < b else (b, a) for a, b in itertools.combinations(sorted(members), 2)}


def score_report(report: ScanReport, rows: Sequence[ManifestRow], root: str) -> Score:
    """Score ``report`` against the manifest of the dataset in folder ``root``."""
    label = {os.path.normpath(os.path.join(root, r.file)): r for r in rows}
    unknown = [
        m.path for g in report.groups for m in g.members if os.path.normpath(m.path) not in label
    ]
    if unknown:
        raise ValueError(f"report holds files the manifest does not know, e.g. {unknown[0]}")
    true_groups: dict[str, list[str]] = defaultdict(list)
    for path, row in label.items():
        true_groups[row.group].append(path)
    true_pairs = set().union(*(_pairs(v) for v in true_groups.values())) if true_groups else set()
    predicted: set[tuple[str, str]] = set()
    keeper_correct = false_groups = without_original = 0
    kept_instead: dict[str, int] = defaultdict(int)
    spread: dict[str, set[int]] = defaultdict(set)
    for number, g in enumerate(report.groups):
        paths = [os.path.normpath(m.path) for m in g.members]
        predicted |= _pairs(paths)
        if len({label[p].group for p in paths}) > 1:
            false_groups += 1
        for p in paths:
            if label[p].role != "distractor":
                spread[label[p].group].add(number)
        kept = label[os.path.normpath(g.keep)]
        keeper_correct += kept.role == "original"
        if not any(label[p].role == "original" for p in paths):
            without_original += 1
        elif kept.role != "original":
            kept_instead[kept.edit] += 1
    by_edit = _by_edit(rows, root, predicted)
    tiers: dict[str, tuple[int, int]] = {}
    for e in by_edit:
        got, total = tiers.get(e.tier, (0, 0))
        tiers[e.tier] = (got + e.recalled, total + e.copies)
    return Score(
        true_pairs=len(true_pairs),
        predicted_pairs=len(predicted),
        correct_pairs=len(predicted & true_pairs),
        keeper_correct=keeper_correct,
        keeper_total=len(report.groups),
        false_groups=false_groups,
        by_edit=by_edit,
        by_tier=tiers,
        kept_instead=dict(sorted(kept_instead.items(), key=lambda kv: -kv[1])),
        without_original=without_original,
        pictures_found=len(spread),
        picture_groups=sum(len(v) for v in spread.values()),
    )


def _by_edit(
    rows: Sequence[ManifestRow], root: str, predicted: set[tuple[str, str]]
) -> tuple[EditScore, ...]:
    originals = {
        r.group: os.path.normpath(os.path.join(root, r.file)) for r in rows if r.role == "original"
    }
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if r.role != "copy" or r.group not in originals:
            continue
        copy = os.path.normpath(os.path.join(root, r.file))
        pair = tuple(sorted((copy, originals[r.group])))
        c = counts[(r.edit, r.tier)]
        c[0] += 1
        c[1] += pair in predicted
    return tuple(
        EditScore(edit, tier, total, got) for (edit, tier), (total, got) in sorted(counts.items())
    )


def format_score(score: Score) -> str:
    """A Markdown summary, for the terminal and for notes."""
    lines = [
        f"pairwise precision {score.precision:.4f}  recall {score.recall:.4f}  F1 {score.f1:.4f}",
        f"pairs: {score.correct_pairs} correct of {score.predicted_pairs} predicted, "
        f"{score.true_pairs} true",
        f"keeper accuracy {score.keeper_accuracy:.4f} ({score.keeper_correct}/{score.keeper_total})"
        f"; false groups {score.false_groups}",
        f"groups per picture {score.groups_per_picture:.3f} ({score.picture_groups} groups for "
        f"{score.pictures_found} pictures); groups without their original "
        f"{score.without_original}",
        "kept instead of the original: "
        + (", ".join(f"{e or 'distractor'} {n}" for e, n in score.kept_instead.items()) or "none"),
        "",
        "| tier | recall | copies |",
        "|---|---|---|",
    ]
    for tier in ("easy", "medium", "hard"):
        if tier in score.by_tier:
            got, total = score.by_tier[tier]
            lines.append(f"| {tier} | {got / total:.3f} | {total} |")
    lines += ["", "| edit | tier | recall | copies |", "|---|---|---|---|"]
    for e in score.by_edit:
        lines.append(f"| {e.edit} | {e.tier} | {e.recall:.3f} | {e.copies} |")
    return "\n".join(lines)
