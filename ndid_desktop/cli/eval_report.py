"""`ndid eval report`: curves, calibration quality, recall by edit and the ablation table, as
Markdown + JSON + PNG plots. The numbers come from the engine (evaluation/summary.py), which
reads features and keypoint checks from the dataset's cache, so it runs in seconds after
`ndid eval score` on the same dataset; this module writes them down and draws them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when run: building the parser must not load the evaluation
    from ndid_desktop.engine.evaluation.seed_stability import SeedStability
    from ndid_desktop.engine.evaluation.summary import EvaluationReport

_TIER_ORDER = {"easy": 0, "medium": 1, "hard": 2}
_TIER_COLOURS = {"easy": "tab:green", "medium": "tab:orange", "hard": "tab:red"}


def add_report_parser(esub: Any) -> None:
    from ndid_desktop.cli.calibrate_cmd import EVAL_LAYOUTS

    p = esub.add_parser(
        "report",
        help="plots, calibration quality and the ablation table",
        description="Scans DATASET with the standard set, scores it and measures its candidate "
        "pairs stage by stage. DATASET is read as `ndid eval score` reads it (--layout).",
    )
    p.add_argument("dataset", type=Path)
    p.add_argument(
        "--layout",
        choices=EVAL_LAYOUTS,
        default="auto",
        help="how DATASET is labelled, as for ndid eval score (default: auto)",
    )
    p.add_argument("--out", type=Path, required=True, help="folder for report.md, .json, .png")
    p.add_argument("--calibration", type=Path, default=None)
    p.add_argument(
        "--seed-stability",
        type=Path,
        default=None,
        metavar="SEEDS_JSON",
        help="add the mean ± spread over generator seeds that `ndid eval seeds` wrote "
        "(its seeds.json) to report.md and report.json",
    )
    p.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from ndid_desktop.engine.evaluation.public_sets import LayoutError, labelled_folder
    from ndid_desktop.engine.evaluation.summary import evaluate_dataset
    from ndid_desktop.engine.extras import CALIBRATE, lacking
    from ndid_desktop.workspace import DataFolder

    problem = lacking(["matplotlib"], CALIBRATE)
    if problem is not None:  # said before the scan, not after it
        print(f"ndid: ndid eval report draws its plots with {problem}", file=sys.stderr)
        return 1
    seeds = _read_seeds(args.seed_stability)
    if isinstance(seeds, str):
        print(f"ndid: {seeds}", file=sys.stderr)
        return 2
    try:
        labelled = labelled_folder(args.dataset, args.layout)
    except LayoutError as exc:
        print(f"ndid: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    models = DataFolder.at(args.data_dir).models_dir
    report = evaluate_dataset(labelled.root, models, args.calibration, labelled.rows)
    data = _json(report)
    if labelled.layout != "manifest":
        data["layout"] = {"name": labelled.layout, "note": labelled.note}
    if seeds is not None:
        from ndid_desktop.engine.evaluation.seed_stability import stability_json

        data["seed_stability"] = stability_json(seeds)
    (args.out / "report.json").write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    plots = _plots(report, args.out)
    text = _markdown(report, plots)
    if labelled.note:
        text += f"\n\nNote ({labelled.layout}): {labelled.note}."
    if seeds is not None:
        from ndid_desktop.engine.evaluation.seed_stability import format_stability

        text += "\n\n" + format_stability(seeds)
    (args.out / "report.md").write_text(text + "\n", "utf-8")
    print(text)
    return 0


def _read_seeds(path: Path | None) -> SeedStability | str | None:
    """The seed stability in ``path`` (None without one), or what is wrong with the file:
    said before the scan, not after it."""
    from ndid_desktop.engine.evaluation.seed_stability import read_stability

    if path is None:
        return None
    try:
        return read_stability(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"cannot read the seed stability in {path} (ndid eval seeds writes it): {exc!r}"


def _json(report: EvaluationReport) -> dict[str, Any]:
    from ndid_desktop.engine.evaluation.summary import NOT_MEASURED, WHY_NOT_MEASURED

    p, g = report.pairs, report.groups
    return {
        "pairs": p.pairs,
        "positives": p.positives,
        "gated_share": p.gated_share,
        "brier_cheap": p.brier_cheap,
        "brier_final": p.brier_final,
        "reliability_final": [list(point) for point in p.reliability_final],
        "ablation": [
            {
                "stage": row.stage,
                "recall_at_99_5_precision": row.recall,
                "threshold": row.threshold,
                "best_f1": row.best_f1,
            }
            for row in p.ablation
        ],
        "direction": {
            "accuracy": report.direction.overall,
            "by_edit": {e: list(rt) for e, rt in report.direction.by_edit.items()},
            "no_evidence": report.direction.ties,
        },
        "candidate_sources": {e: list(c) for e, c in report.sources.items()},
        "not_measured": list(NOT_MEASURED),
        "why_not_measured": WHY_NOT_MEASURED,
        "scan": {
            "precision": g.precision,
            "recall": g.recall,
            "keeper_accuracy": g.keeper_accuracy,
            "kept_instead_of_the_original": g.kept_instead,
            "groups_without_their_original": g.without_original,
            "groups_per_picture": g.groups_per_picture,
            "false_groups": g.false_groups,
            "by_tier": g.by_tier,
            "by_edit": {e.edit: [e.recalled, e.copies] for e in g.by_edit},
        },
    }


def _markdown(report: EvaluationReport, plots: list[Path]) -> str:
    from ndid_desktop.engine.evaluation.group_scores import format_score

    p = report.pairs
    lines = [
        f"# Evaluation of {report.dataset}",
        "",
        "## Scan (groups)",
        "",
        format_score(report.groups),
        "",
        f"## Candidate pairs: {p.pairs} ({p.positives} same picture); "
        f"{p.gated_share:.1%} went through the gate",
        "",
        f"Brier score: cheap stage {p.brier_cheap:.4f}, staged pipeline {p.brier_final:.4f}",
        "",
        "| stage | recall at 99.5% precision | threshold | best F1 |",
        "|---|---|---|---|",
    ]
    for row in p.ablation:
        lines.append(
            f"| {row.stage} | {row.recall:.3f} | {row.threshold:.3f} | {row.best_f1:.3f} |"
        )
    lines += ["| ResNet-50 only, CLIP only | not measured: no pretrained weights offline | | |", ""]
    lines += [*_sources_table(report), ""]
    lines += _direction_table(report)
    lines += ["", "Plots: " + ", ".join(plot.name for plot in plots)]
    return "\n".join(lines)


def _sources_table(report: EvaluationReport) -> list[str]:
    lines = [
        "## Candidate sources: which proposed each (original, copy) pair",
        "",
        "| edit | pairs | hashes + embedding | keypoint votes | either |",
        "|---|---|---|---|---|",
    ]
    for edit, (n, by_global, by_votes, either) in report.sources.items():
        lines.append(
            f"| {edit} | {n} | {by_global / n:.3f} | {by_votes / n:.3f} | {either / n:.3f} |"
        )
    lines += ["", "A copy missed by both is still found when a source links it to another copy "
              "of its picture (grouping then pairs it with the original). Identical files "
              "(backups) are never candidates: they join their copy's group directly."]  # fmt: skip
    return lines


def _direction_table(report: EvaluationReport) -> list[str]:
    d = report.direction
    lines = [
        f"## Which file was made from which: {d.overall:.1%} of (original, copy) pairs right",
        "",
        "| edit | tier | direction right | pairs | no evidence either way | kept instead of the "
        "original (groups) |",
        "|---|---|---|---|---|---|",
    ]
    kept = report.groups.kept_instead
    for edit, (right, total) in _by_tier(d.by_edit, d.tier_of):
        lines.append(
            f"| {edit} | {d.tier_of[edit]} | {right / total:.3f} | {total} "
            f"| {d.ties.get(edit, 0)} | {kept.get(edit, 0)} |"
        )
    lines += ["", "Pairs with no evidence either way are byte-identical files with one date: "
              "the scan keeps the one the identical-files rule names (EXIF, then the older, "
              "then the shorter path)."]  # fmt: skip
    return lines


def _by_tier(
    by_edit: dict[str, tuple[int, int]], tier_of: dict[str, str]
) -> list[tuple[str, tuple[int, int]]]:
    return sorted(by_edit.items(), key=lambda kv: (_TIER_ORDER.get(tier_of[kv[0]], 3), kv[0]))


def _plots(report: EvaluationReport, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ndid_desktop.engine.evaluation.summary import CHEAP_STAGE, HASHES_ONLY, STAGED

    pairs = report.pairs
    paths = []
    fig, ax = plt.subplots(figsize=(7, 5))
    for c in pairs.curves:
        ax.plot(c.recall, c.precision, label=c.name)
    ax.set(
        xlabel="recall",
        ylabel="precision",
        ylim=(0.5, 1.01),
        title="Precision-recall, candidate pairs",
    )
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "precision_recall.png"))

    fig, ax = plt.subplots(figsize=(7, 5))
    for name in (HASHES_ONLY, CHEAP_STAGE, STAGED):
        c = pairs.curve(name)
        ax.plot(c.thresholds, c.f1, label=name)
    ax.set(xlabel="probability threshold", ylabel="F1", title="F1 versus threshold")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "f1_threshold.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    points = pairs.reliability_final
    ax.plot([0, 1], [0, 1], "k:", label="perfect")
    ax.plot([p for p, _, _ in points], [o for _, o, _ in points], "o-", label="staged pipeline")
    ax.set(xlabel="predicted probability", ylabel="observed share same picture",
           title="Reliability (calibration)")  # fmt: skip
    ax.legend()
    paths.append(_save(fig, out / "reliability.png"))

    fig, ax = plt.subplots(figsize=(9, 5))
    edits = sorted(report.groups.by_edit, key=lambda e: (_TIER_ORDER.get(e.tier, 3), e.edit))
    ax.bar(
        [e.edit for e in edits],
        [e.recall for e in edits],
        color=[_TIER_COLOURS.get(e.tier, "tab:grey") for e in edits],
    )
    ax.set(ylabel="recall (copy grouped with its original)", ylim=(0, 1.05), title="Recall by edit")
    ax.tick_params(axis="x", rotation=75, labelsize=8)
    paths.append(_save(fig, out / "recall_by_edit.png"))

    fig, ax = plt.subplots(figsize=(9, 5))
    d = report.direction
    ranked = _by_tier(d.by_edit, d.tier_of)
    names, right = [e for e, _ in ranked], [r / t for _, (r, t) in ranked]
    ax.bar(names, right, color=[_TIER_COLOURS.get(d.tier_of[e], "tab:grey") for e in names])
    ties = [d.ties.get(e, 0) / t for e, (_, t) in ranked]
    ax.bar(names, ties, bottom=right, color="lightgrey", hatch="//",
           label="no evidence either way (identical files, one date)")  # fmt: skip
    ax.set(ylabel="share of (original, copy) pairs", ylim=(0, 1.05),
           title="Direction model: the original is said to have made the copy")  # fmt: skip
    if any(ties):
        ax.legend(fontsize=8, loc="lower left")
    ax.tick_params(axis="x", rotation=75, labelsize=8)
    paths.append(_save(fig, out / "direction_by_edit.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
