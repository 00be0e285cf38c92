"""`ndid calibrate` and `ndid eval`: fit the decision model and measure it, from the CLI."""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ndid_desktop.engine.config import MODEL_SETS
from ndid_desktop.paths import data_dir, models_dir


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
    make.add_argument("--split", choices=("train", "test", "all"), default="test")
    make.add_argument("--max-photos", type=int, default=None)
    make.add_argument(
        "--edits-per-photo",
        type=int,
        default=None,
        help="random edits per photo (default: every edit)",
    )
    make.add_argument(
        "--distractors",
        type=int,
        default=0,
        help="also add this many untouched photos from the other split",
    )
    make.add_argument("--seed", type=int, default=0)
    make.set_defaults(handler=run_make_dataset)
    score = esub.add_parser("score", help="scan a dataset and score the result")
    score.add_argument("dataset", type=Path)
    score.add_argument(
        "--models", "--model-set", dest="model_set", choices=MODEL_SETS, default="standard"
    )
    score.add_argument("--calibration", type=Path, default=None)
    score.add_argument("--threshold", type=float, default=None)
    score.add_argument("--markdown", type=Path, default=None, help="also write the summary here")
    score.set_defaults(handler=run_score)
    from ndid_desktop.cli.eval_report import add_report_parser

    add_report_parser(esub)


def _photos(folder: Path, split: str, limit: int | None) -> list[Path]:
    from ndid_desktop.engine.evaluation.attacks import split_of

    exts = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic"}
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in exts)
    if split != "all":
        photos = [p for p in photos if split_of(p.stem) == split]
    return photos[:limit] if limit else photos


def run_make_dataset(args: argparse.Namespace) -> int:
    from ndid_desktop.engine.evaluation.attacks import make_dataset

    photos = _photos(args.photos, args.split, args.max_photos)
    if args.distractors >= len(photos):
        print(f"ndid: only {len(photos)} photos; fewer distractors please", file=sys.stderr)
        return 2
    # Distractors come from the same split: they must be as unseen as the edited photos.
    split_at = len(photos) - args.distractors
    sources, others = photos[:split_at], photos[split_at:]
    rows = make_dataset(
        sources, args.out, edits_per_photo=args.edits_per_photo, distractors=others, seed=args.seed
    )
    print(f"wrote {len(rows)} files from {len(sources)} photos to {args.out}")
    return 0


def _auto_sources(folder: Path, limit: int) -> list[Path]:
    """A deterministic sample of distinct photos from a user's folder: near-identical photos
    (which a library may already hold) are dropped, or they would be labelled 'different'."""
    from ndid_desktop.engine.config import Root, ScanConfig
    from ndid_desktop.engine.features.hashes import compute_hashes, hamming
    from ndid_desktop.engine.files.decode import DecodeError, decode
    from ndid_desktop.engine.files.discover import discover

    files = discover([Root(folder)], ScanConfig()).files
    ranked = sorted(files, key=lambda f: hashlib.sha256(f.path.encode(errors="replace")).digest())
    chosen: list[Path] = []
    kept_hashes: list[Any] = []
    for entry in ranked:
        if len(chosen) >= limit:
            break
        try:
            h = compute_hashes(decode(entry.path).image)[0, 0]
        except DecodeError:
            continue
        if any(int(hamming(h, other)) <= 8 for other in kept_hashes):
            continue
        kept_hashes.append(h)
        chosen.append(Path(entry.path))
    return chosen


def _missing_for_calibrate(model_set: str) -> str | None:
    """What `ndid calibrate` lacks here: scikit-learn fits the model (scans only read its
    JSON); the thorough set's models also need torch."""
    from ndid_desktop.engine.extras import CALIBRATE, lacking
    from ndid_desktop.engine.features.encoders import missing_libraries
    from ndid_desktop.engine.features.model_sets import model_set as model_set_named

    problem = lacking(["sklearn"], CALIBRATE)
    if problem is not None:
        return f"ndid calibrate fits the model with {problem}"
    for spec in model_set_named(model_set).encoders:
        missing = missing_libraries(spec) if spec.weights_file is not None else None
        if missing is not None:
            return f"model '{spec.name}' (model set '{model_set}') needs {missing}"
    return None


def _keep_previous(path: Path) -> None:
    """Calibrations are versioned: the one being replaced is kept beside it, dated."""
    if path.is_file():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
        path.rename(path.with_name(f"{path.stem}.{stamp}{path.suffix}"))


def run_calibrate(args: argparse.Namespace) -> int:
    from ndid_desktop.cli.progress import TerminalProgress
    from ndid_desktop.engine.config import ScanConfig
    from ndid_desktop.engine.evaluation.attacks import make_dataset
    from ndid_desktop.engine.evaluation.calibrate import labelled_pairs
    from ndid_desktop.engine.features.cache import FeatureCache
    from ndid_desktop.engine.match.decision import CalibrationError, bundled_calibration_name
    from ndid_desktop.paths import calibration_dir

    if (args.auto is None) == (args.photos is None):
        print("ndid: give either --auto PHOTO_FOLDER or --photos DIR --out FILE", file=sys.stderr)
        return 2
    problem = _missing_for_calibrate(args.model_set)
    if problem is not None:  # said before minutes of making edited copies, not after
        print(f"ndid: {problem}", file=sys.stderr)
        return 1
    if args.auto is not None:
        if not args.auto.is_dir():
            print(f"ndid: folder not found: {args.auto}", file=sys.stderr)
            return 2
        args.edits_per_photo = args.edits_per_photo or 8
        sources = _auto_sources(args.auto, args.max_photos or 120)
        args.photos = args.auto
        args.split = "all"
        if args.out is None:
            args.out = calibration_dir(data_dir(args.data_dir)) / bundled_calibration_name(
                args.model_set
            )
    else:
        if args.out is None:
            print("ndid: --photos needs --out FILE", file=sys.stderr)
            return 2
        args.edits_per_photo = args.edits_per_photo or 12
        sources = _photos(args.photos, args.split, args.max_photos)
    if len(sources) < 5:
        print(f"ndid: need at least 5 distinct photos in {args.photos}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ndid-calibrate-") as tmp:
        work = args.workdir or Path(tmp)
        dataset = work / "dataset"
        started = time.perf_counter()
        if not (dataset / "manifest.json").exists():
            print(f"making edited copies of {len(sources)} photos...", file=sys.stderr)
            make_dataset(sources, dataset, edits_per_photo=args.edits_per_photo, seed=args.seed)
        from ndid_desktop.engine.evaluation.attacks import read_manifest

        rows = read_manifest(dataset)
        config = ScanConfig(model_set=args.model_set, models_dir=data_dir(args.data_dir) / "models")
        progress = TerminalProgress()
        with FeatureCache(work / "cache.sqlite") as cache:
            data = labelled_pairs(dataset, rows, config, cache, progress)
            try:
                calibration = _fit(data, args, cache, progress)
            except CalibrationError as exc:
                progress.close()
                print(f"ndid: {exc}", file=sys.stderr)
                return 1
        progress.close()
        if args.auto is not None:  # the user's own calibrations are kept, dated
            _keep_previous(args.out)
        calibration.save(args.out)
    m = calibration.metrics
    print(
        f"fitted on {m['pairs']} candidate pairs ({m['positives']} same picture, {m['gated']} "
        f"in the gate band) in {time.perf_counter() - started:.0f} s; threshold "
        f"{calibration.threshold:.3f}, gate {calibration.gate[0]:.3f}..{calibration.gate[1]:.3f};"
        f" on its own pairs: precision {m['train_precision']:.4f}, recall {m['train_recall']:.4f}"
        f"\nwrote {args.out}"
    )
    return 0


def _fit(data: Any, args: argparse.Namespace, cache: Any, progress: Any) -> Any:
    from ndid_desktop.engine.evaluation.calibrate import fit_calibration
    from ndid_desktop.engine.features.model_sets import model_set
    from ndid_desktop.engine.match.scoring import CachedVerification
    from ndid_desktop.engine.match.verify import NO_MATCH, Verifier

    chosen = model_set(args.model_set)
    source = (
        f"ndid calibrate --photos {args.photos.name} --split {args.split} "
        f"--edits-per-photo {args.edits_per_photo} --seed {args.seed}"
    )
    verify = None
    if chosen.verifier:
        cached = CachedVerification(data.features.entries, cache, Verifier())

        def verify(a: int, b: int, orientation: int) -> Any:
            return cached(a, b, orientation) or NO_MATCH

    gate = _gate_vectors(data, chosen.gate, args, cache) if chosen.gate is not None else None
    return fit_calibration(data, args.model_set, chosen.signature, source, verify, progress, gate)


def _gate_vectors(data: Any, spec: Any, args: argparse.Namespace, cache: Any) -> Any:
    """The gate encoder's vectors for candidates, embedded on first use (through the cache)."""
    from ndid_desktop.engine.config import ScanConfig
    from ndid_desktop.engine.features.extract import compute_features
    from ndid_desktop.engine.match.scoring import GateVectors

    entries = data.features.entries
    config = ScanConfig(model_set=args.model_set, models_dir=models_dir(data_dir(args.data_dir)))

    def compute(indices: Any) -> Any:
        got = compute_features([entries[i] for i in indices], config, cache, spec)
        position = {entries[i].path: i for i in indices}
        vectors: Any = got.embeddings if got.embeddings is not None else []
        return {position[e.path]: v for e, v in zip(got.entries, vectors, strict=True)}

    return GateVectors(compute)


def run_score(args: argparse.Namespace) -> int:
    from ndid_desktop.cli.progress import TerminalProgress
    from ndid_desktop.engine.config import Root, ScanConfig
    from ndid_desktop.engine.evaluation.attacks import read_manifest
    from ndid_desktop.engine.evaluation.group_scores import format_score, score_report
    from ndid_desktop.engine.pipeline import scan

    rows = read_manifest(args.dataset)
    config = ScanConfig(
        model_set=args.model_set,
        calibration_path=args.calibration,
        threshold=args.threshold,
        cache_path=args.dataset / ".ndid-cache.sqlite",
        models_dir=data_dir(args.data_dir) / "models",
    )
    progress = TerminalProgress()
    started = time.perf_counter()
    report = scan([Root(args.dataset)], config, progress)
    progress.close()
    score = score_report(report, rows, str(args.dataset))
    s = report.stats
    gated_share = s.gated_pairs / max(s.candidate_pairs, 1)
    text = format_score(score) + (
        f"\n\nscan: {s.images_used} images, {s.candidate_pairs} candidate pairs, "
        f"{s.gated_pairs} gated to the keypoint check ({gated_share:.1%}),"
        f" {len(report.skipped)} skipped, {time.perf_counter() - started:.0f} s"
    )
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0
