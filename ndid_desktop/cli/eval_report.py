"""`ndid eval report`: curves, calibration quality, recall by edit and the ablation table, as
Markdown + JSON + PNG plots. Reads features and keypoint checks from the dataset's cache, so it
runs in seconds after `ndid eval score` on the same dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

TARGET = 0.995


def add_report_parser(esub: Any) -> None:
    p = esub.add_parser("report", help="plots, calibration quality and the ablation table")
    p.add_argument("dataset", type=Path)
    p.add_argument("--out", type=Path, required=True, help="folder for report.md, .json, .png")
    p.add_argument("--calibration", type=Path, default=None)
    p.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from ndid_desktop.engine.config import Root, ScanConfig
    from ndid_desktop.engine.evaluation.attacks import read_manifest
    from ndid_desktop.engine.evaluation.calibrate import labelled_pairs
    from ndid_desktop.engine.evaluation.group_scores import format_score, score_report
    from ndid_desktop.engine.evaluation.pair_metrics import (
        brier,
        curve,
        reliability,
        staged_probabilities,
    )
    from ndid_desktop.engine.extras import CALIBRATE, lacking
    from ndid_desktop.engine.features.cache import FeatureCache
    from ndid_desktop.engine.features.model_sets import model_set
    from ndid_desktop.engine.match.decision import load_calibration
    from ndid_desktop.engine.match.scoring import CachedVerification, with_verification
    from ndid_desktop.engine.match.verify import NO_MATCH, Verifier
    from ndid_desktop.engine.pipeline import scan
    from ndid_desktop.paths import data_dir, models_dir

    problem = lacking(["matplotlib"], CALIBRATE)
    if problem is not None:  # said before the scan, not after it
        print(f"ndid: ndid eval report draws its plots with {problem}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    rows = read_manifest(args.dataset)
    cache_file = args.dataset / ".ndid-cache.sqlite"
    config = ScanConfig(cache_path=cache_file, models_dir=models_dir(data_dir(args.data_dir)),
                        calibration_path=args.calibration)  # fmt: skip
    report = scan([Root(args.dataset)], config)
    group_score = score_report(report, rows, str(args.dataset))
    standard = model_set("standard")
    calibration = load_calibration("standard", standard.signature, args.calibration)
    fast = load_calibration("fast", None)
    with FeatureCache(cache_file) as cache:
        data = labelled_pairs(args.dataset, rows, config, cache)
        check = CachedVerification(data.features.entries, cache, Verifier())

        def verified(i: int) -> Any:
            a, b = data.pairs[i].tolist()
            s = data.signals[i]
            return with_verification(s, check(a, b, s.orientation) or NO_MATCH)

        cheap, final, gated = staged_probabilities(data.signals, calibration, verified)
    y = data.labels
    sig = data.signals
    scores = {
        "pHash distance (negated)": -np.array([s.phash for s in sig], float),
        "Lite0 cosine": np.array([s.cosine or 0.0 for s in sig]),
        "hashes only (fast calibration)": np.array([fast.cheap.probability(s) for s in sig]),
        "hashes + Lite0 (cheap stage)": cheap,
        "full staged pipeline (gate + keypoints)": final,
    }
    curves = {name: curve(name, s, y) for name, s in scores.items()}
    ablation = []
    for name, c in curves.items():
        recall, threshold = c.recall_at_precision(TARGET)
        ablation.append({"stage": name, "recall_at_99_5_precision": recall,
                         "threshold": threshold, "best_f1": float(c.f1.max())})  # fmt: skip
    summary = {
        "pairs": len(y),
        "positives": int(y.sum()),
        "gated_share": float(gated.mean()),
        "brier_cheap": brier(cheap, y),
        "brier_final": brier(final, y),
        "reliability_final": reliability(final, y),
        "ablation": ablation,
        "not_measured": ["ResNet-50 only", "CLIP only"],
        "why_not_measured": "their pretrained weights cannot be downloaded on this machine",
        "scan": {
            "precision": group_score.precision,
            "recall": group_score.recall,
            "keeper_accuracy": group_score.keeper_accuracy,
            "false_groups": group_score.false_groups,
            "by_tier": group_score.by_tier,
            "by_edit": {e.edit: [e.recalled, e.copies] for e in group_score.by_edit},
        },
    }
    (args.out / "report.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    plots = _plots(curves, final, y, group_score, args.out)
    lines = [
        f"# Evaluation of {args.dataset.name}",
        "",
        "## Scan (groups)",
        "",
        format_score(group_score),
        "",
        f"## Candidate pairs: {len(y)} ({int(y.sum())} same picture); "
        f"{gated.mean():.1%} went through the gate",
        "",
        f"Brier score: cheap stage {summary['brier_cheap']:.4f}, "
        f"staged pipeline {summary['brier_final']:.4f}",
        "",
        "| stage | recall at 99.5% precision | threshold | best F1 |",
        "|---|---|---|---|",
    ]
    for row in ablation:
        lines.append(f"| {row['stage']} | {row['recall_at_99_5_precision']:.3f} | "
                     f"{row['threshold']:.3f} | {row['best_f1']:.3f} |")  # fmt: skip
    lines += ["| ResNet-50 only, CLIP only | not measured: no pretrained weights offline | | |",
              "", "Plots: " + ", ".join(p.name for p in plots)]  # fmt: skip
    (args.out / "report.md").write_text("\n".join(lines) + "\n", "utf-8")
    print("\n".join(lines))
    return 0


def _plots(curves: dict[str, Any], final: Any, y: Any, group_score: Any, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ndid_desktop.engine.evaluation.pair_metrics import reliability

    paths = []
    fig, ax = plt.subplots(figsize=(7, 5))
    for c in curves.values():
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
    for name in ("hashes only (fast calibration)", "hashes + Lite0 (cheap stage)",
                 "full staged pipeline (gate + keypoints)"):  # fmt: skip
        c = curves[name]
        ax.plot(c.thresholds, c.f1, label=name)
    ax.set(xlabel="probability threshold", ylabel="F1", title="F1 versus threshold")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "f1_threshold.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    points = reliability(final, y)
    ax.plot([0, 1], [0, 1], "k:", label="perfect")
    ax.plot([p for p, _, _ in points], [o for _, o, _ in points], "o-", label="staged pipeline")
    ax.set(xlabel="predicted probability", ylabel="observed share same picture",
           title="Reliability (calibration)")  # fmt: skip
    ax.legend()
    paths.append(_save(fig, out / "reliability.png"))

    fig, ax = plt.subplots(figsize=(9, 5))
    edits = sorted(
        group_score.by_edit, key=lambda e: ({"easy": 0, "medium": 1, "hard": 2}[e.tier], e.edit)
    )
    colours = {"easy": "tab:green", "medium": "tab:orange", "hard": "tab:red"}
    ax.bar(
        [e.edit for e in edits], [e.recall for e in edits], color=[colours[e.tier] for e in edits]
    )
    ax.set(ylabel="recall (copy grouped with its original)", ylim=(0, 1.05), title="Recall by edit")
    ax.tick_params(axis="x", rotation=75, labelsize=8)
    paths.append(_save(fig, out / "recall_by_edit.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
