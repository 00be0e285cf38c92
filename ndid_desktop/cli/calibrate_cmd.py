"""`ndid calibrate` and `ndid eval`: fit the decision model and measure it, from the CLI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ndid_desktop.engine.config import MODEL_SETS, ScanConfig

# evaluation/public_sets.LAYOUTS, spelled here: building the parser must not load the evaluation
EVAL_LAYOUTS = ("auto", "manifest", "copydays", "ukbench")

if TYPE_CHECKING:  # imported when run: `ndid --help` and scans must not load the evaluation
    from ndid_desktop.engine.evaluation.calibration_run import CalibrationRequest, CalibrationRun
    from ndid_desktop.engine.progress import ProgressCallback


def add_calibrate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the match-probability model on edited copies of distinct photos",
        description="Makes edited copies of distinct photos (known duplicates), pairs them as a "
        "scan would, and fits the logistic regression that turns signals into a probability.",
    )
    p.add_argument(
        "--auto",
        type=Path,
        metavar="PHOTO_FOLDER",
        help="calibrate on your own photos: sample them, make edited copies, fit, and keep the "
        "result in your data folder, where every later scan with this model set uses it",
    )
    p.add_argument("--photos", type=Path, help="a folder of distinct photos (developers)")
    p.add_argument("--out", type=Path, help="calibration JSON to write (with --photos)")
    p.add_argument(
        "--models", "--model-set", dest="model_set", choices=MODEL_SETS, default="standard"
    )
    p.add_argument(
        "--split",
        choices=("train", "test", "all"),
        default="train",
        help="which fixed split of the photos to use (default: train)",
    )
    p.add_argument(
        "--edits-per-photo",
        type=int,
        default=None,
        help="random edits per photo (default: 12; 8 with --auto)",
    )
    p.add_argument(
        "--max-photos",
        type=int,
        default=None,
        help="use at most this many photos (default: all; 120 with --auto)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the generated dataset and its cache here (default: temporary)",
    )
    p.set_defaults(handler=run_calibrate)


def add_eval_parser(sub: Any) -> None:
    p = sub.add_parser("eval", help="measure precision and recall on a labelled dataset")
    esub = p.add_subparsers(dest="eval_command", metavar="ACTION")
    make = esub.add_parser("make-dataset", help="write originals, edited copies and a manifest")
    make.add_argument("photos", type=Path)
    make.add_argument("out", type=Path)
    _add_dataset_options(make, lifelike=True)
    make.add_argument("--seed", type=int, default=0)
    make.add_argument(
        "--lifelike",
        action="store_true",
        help="write a library as a disk holds one: camera originals with EXIF and dates under "
        "DCIM, with backups, messenger copies, exports, edits and screenshots of them",
    )
    make.set_defaults(handler=run_make_dataset)
    score = esub.add_parser(
        "score",
        help="scan a dataset and score the result (ours, Copydays or UKBench)",
        description="Scans a labelled dataset and scores its groups. DATASET is a folder made "
        "by `ndid eval make-dataset` (its manifest.json), an INRIA Copydays tree (original/, "
        "strong/, crops/<percent>/, jpegqual/<quality>/; a file's block, the first four digits "
        "of its name, is its picture) or a UKBench folder (ukbench00000.jpg, ... or full/ with "
        "them; four consecutive numbers per object). UKBench's groups are four views of one "
        "object, not copies of one photo: not near-duplicates in NDID's sense, so their score "
        "is reported for comparison only. The feature cache is kept in DATASET "
        "(.ndid-cache.sqlite), so a second run reads no image again.",
    )
    score.add_argument("dataset", type=Path)
    score.add_argument(
        "--layout",
        choices=EVAL_LAYOUTS,
        default="auto",
        help="how DATASET is labelled: manifest (ndid eval make-dataset), copydays, ukbench; "
        "default auto: manifest.json if present, else the public layout the folder has",
    )
    _add_scan_options(score)
    score.add_argument("--markdown", type=Path, default=None, help="also write the summary here")
    score.set_defaults(handler=run_score)
    seeds = esub.add_parser(
        "seeds",
        help="make and score the edit dataset with several generator seeds: mean ± spread",
        description="Makes the dataset `ndid eval make-dataset` makes once per generator seed "
        "(OUT/seed-N/), scores each as `ndid eval score` does, and reports precision, recall, "
        "keeper accuracy and recall by tier and by edit as mean ± sample standard deviation "
        "across seeds (with min and max), in OUT/seeds.md and OUT/seeds.json. `ndid eval report "
        "OUT/seed-N --out DIR --seed-stability OUT/seeds.json` adds it to a report.",
    )
    seeds.add_argument("photos", type=Path)
    seeds.add_argument("out", type=Path, help="folder for each seed's dataset and seeds.md/.json")
    seeds.add_argument("--seeds", type=int, default=3, help="how many seeds (default: 3)")
    seeds.add_argument("--first-seed", type=int, default=0, help="seeds run from here up")
    _add_dataset_options(seeds)
    _add_scan_options(seeds)
    seeds.set_defaults(handler=run_seeds)
    from ndid_desktop.cli.eval_report import add_report_parser

    add_report_parser(esub)


def _add_dataset_options(p: Any, lifelike: bool = False) -> None:
    """The options that say which edited dataset to make (make-dataset and seeds)."""
    unless = "; ignored with --lifelike" if lifelike else ""
    p.add_argument("--split", choices=("train", "test", "all"), default="test")
    p.add_argument("--max-photos", type=int, default=None)
    p.add_argument(
        "--edits-per-photo",
        type=int,
        default=None,
        help=f"random edits per photo (default: every edit{unless})",
    )
    p.add_argument(
        "--distractors",
        type=int,
        default=0,
        help="also add this many untouched photos from the other split",
    )
    p.add_argument(
        "--tier",
        choices=("easy", "medium", "hard"),
        default=None,
        help=f"only the edits of this tier (default: every edit{unless})",
    )


def _add_scan_options(p: Any) -> None:
    """The options of the scan that is scored (score and seeds)."""
    p.add_argument(
        "--models", "--model-set", dest="model_set", choices=MODEL_SETS, default="standard"
    )
    p.add_argument("--calibration", type=Path, default=None)
    p.add_argument("--threshold", type=float, default=None)


def run_make_dataset(args: argparse.Namespace) -> int:
    from ndid_desktop.engine.evaluation.dataset import TooFewPhotosError, make_eval_dataset
    from ndid_desktop.engine.evaluation.lifelike import make_lifelike_dataset

    try:
        if args.lifelike:
            made = make_lifelike_dataset(args.photos, args.out, args.split, args.max_photos,
                                         args.distractors, args.seed)  # fmt: skip
        else:
            made = make_eval_dataset(args.photos, args.out, args.split, args.max_photos,
                                     args.edits_per_photo, args.distractors, args.seed,
                                     args.tier)  # fmt: skip
    except TooFewPhotosError as exc:
        print(f"ndid: only {exc.found} photos; fewer distractors please", file=sys.stderr)
        return 2
    print(f"wrote {len(made.rows)} files from {made.sources} photos to {args.out}")
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    from ndid_desktop.cli.progress import TerminalProgress
    from ndid_desktop.engine.evaluation.calibration_run import run_calibration
    from ndid_desktop.engine.evaluation.dataset import TooFewPhotosError
    from ndid_desktop.engine.match.decision import CalibrationError

    if (args.auto is None) == (args.photos is None):
        print("ndid: give either --auto PHOTO_FOLDER or --photos DIR --out FILE", file=sys.stderr)
        return 2
    problem = _missing_for_calibrate(args.model_set)
    if problem is not None:  # said before minutes of making edited copies, not after
        print(f"ndid: {problem}", file=sys.stderr)
        return 1
    if args.auto is not None and not args.auto.is_dir():
        print(f"ndid: folder not found: {args.auto}", file=sys.stderr)
        return 2
    if args.auto is None and args.out is None:
        print("ndid: --photos needs --out FILE", file=sys.stderr)
        return 2
    request = _calibration_request(args)
    progress = TerminalProgress()
    try:
        run = run_calibration(request, _with_copies_note(progress))
    except TooFewPhotosError as exc:
        print(f"ndid: need at least {exc.needed} distinct photos in {request.photos}",
              file=sys.stderr)  # fmt: skip
        return 2
    except CalibrationError as exc:
        progress.close()
        print(f"ndid: {exc}", file=sys.stderr)
        return 1
    progress.close()
    print(_calibrated(run))
    return 0


def _missing_for_calibrate(model_set: str) -> str | None:
    from ndid_desktop.engine.evaluation.calibration_run import missing_for_calibration

    missing = missing_for_calibration(model_set)
    if missing is None:
        return None
    if missing.model is None:
        return f"ndid calibrate fits the model with {missing.problem}"
    return f"model '{missing.model}' (model set '{model_set}') needs {missing.problem}"


def _calibration_request(args: argparse.Namespace) -> CalibrationRequest:
    """The request the options describe; --auto writes the user's own calibration into the
    data folder, where every later scan with this model set finds it."""
    from ndid_desktop.engine.evaluation.calibration_run import CalibrationRequest
    from ndid_desktop.engine.match.decision import bundled_calibration_name
    from ndid_desktop.workspace import DataFolder

    folder = DataFolder.at(args.data_dir)
    auto = args.auto is not None
    out = args.out
    if auto and out is None:
        out = folder.calibration_dir / bundled_calibration_name(args.model_set)
    return CalibrationRequest(
        photos=args.auto if auto else args.photos,
        out=out,
        auto=auto,
        model_set=args.model_set,
        split=args.split,
        edits_per_photo=args.edits_per_photo,
        max_photos=args.max_photos,
        seed=args.seed,
        workdir=args.workdir,
        models_dir=folder.models_dir,
    )


def _with_copies_note(progress: ProgressCallback) -> ProgressCallback:
    """``progress``, with a plain line for the stage that makes the edited copies."""
    from ndid_desktop.engine.evaluation.calibration_run import MAKING_COPIES
    from ndid_desktop.engine.progress import ProgressEvent

    def show(event: ProgressEvent) -> None:
        if event.stage == MAKING_COPIES:
            print(f"making edited copies of {event.total} photos...", file=sys.stderr)
        else:
            progress(event)

    return show


def _calibrated(run: CalibrationRun) -> str:
    c = run.calibration
    return (
        f"fitted on {run.pairs} candidate pairs ({run.positives} same picture, {run.gated} "
        f"in the gate band) in {run.seconds:.0f} s; threshold "
        f"{c.threshold:.3f}, gate {c.gate[0]:.3f}..{c.gate[1]:.3f};"
        f" on its own pairs: precision {run.train_precision:.4f}, recall {run.train_recall:.4f}"
        f"\nwrote {run.path}" + _direction_note(run)
    )


def _direction_note(run: CalibrationRun) -> str:
    d = run.direction
    if d is None:
        return "\nthe keeper's direction model is unchanged: this model set measures no overlap"
    return (
        f"\nkeeper's direction model: fitted on {d.metrics['pairs']} (original, copy) pairs, "
        f"{d.metrics['train_accuracy']:.1%} right on them\nwrote {run.direction_path}"
    )


def run_score(args: argparse.Namespace) -> int:
    from ndid_desktop.cli.progress import TerminalProgress
    from ndid_desktop.engine.evaluation.group_scores import format_score
    from ndid_desktop.engine.evaluation.public_sets import LayoutError, labelled_folder
    from ndid_desktop.engine.evaluation.summary import score_dataset

    try:
        labelled = labelled_folder(args.dataset, args.layout)
    except LayoutError as exc:
        print(f"ndid: {exc}", file=sys.stderr)
        return 2
    progress = TerminalProgress()
    try:
        result = score_dataset(labelled.root, _eval_config(args), progress, labelled.rows)
    finally:
        progress.close()
    s = result.stats
    text = format_score(result.score) + (
        f"\n\nscan: {s.images_used} images, {s.candidate_pairs} candidate pairs, "
        f"{s.gated_pairs} gated to the keypoint check ({result.gated_share:.1%}),"
        f" {result.skipped} skipped, {result.seconds:.0f} s"
    )
    if labelled.layout != "manifest":
        text = f"{labelled.layout} layout, {len(labelled.rows)} files in {labelled.root}\n" + text
    if labelled.note:
        text += f"\n\nnote: {labelled.note}"
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


def _eval_config(args: argparse.Namespace) -> ScanConfig:
    from ndid_desktop.workspace import DataFolder, ScanOptions, evaluation_config

    options = ScanOptions(
        model_set=args.model_set, threshold=args.threshold, calibration=args.calibration
    )
    return evaluation_config(DataFolder.at(args.data_dir), options)


def run_seeds(args: argparse.Namespace) -> int:
    import json

    from ndid_desktop.cli.progress import TerminalProgress
    from ndid_desktop.engine.evaluation.dataset import TooFewPhotosError
    from ndid_desktop.engine.evaluation.seed_stability import (
        SeedFolderInUseError,
        SeedRequest,
        format_stability,
        run_seeds,
        stability_json,
    )

    if args.seeds < 1:
        print("ndid: --seeds must be at least 1", file=sys.stderr)
        return 2
    if not args.photos.is_dir():
        print(f"ndid: folder not found: {args.photos}", file=sys.stderr)
        return 2
    request = SeedRequest(
        photos=args.photos,
        out=args.out,
        seeds=tuple(range(args.first_seed, args.first_seed + args.seeds)),
        split=args.split,
        max_photos=args.max_photos,
        edits_per_photo=args.edits_per_photo,
        distractors=args.distractors,
        tier=args.tier,
    )
    progress = TerminalProgress()

    def note(seed: int, step: str) -> None:
        print(f"seed {seed}: {step} the dataset...", file=sys.stderr)

    try:
        result = run_seeds(request, _eval_config(args), progress, note)
    except TooFewPhotosError as exc:
        print(f"ndid: only {exc.found} photos; fewer distractors please", file=sys.stderr)
        return 2
    except SeedFolderInUseError as exc:
        print(f"ndid: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    text = format_stability(result)
    (args.out / "seeds.json").write_text(json.dumps(stability_json(result), indent=2) + "\n",
                                         encoding="utf-8")  # fmt: skip
    (args.out / "seeds.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0
