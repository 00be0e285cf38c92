"""`ndid`: the headless command line over the engine. Everything the GUI does, this can do."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ndid_desktop import __version__
from ndid_desktop.engine.config import MODEL_SETS, Root
from ndid_desktop.engine.progress import CancelToken
from ndid_desktop.paths import data_dir
from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130

DESCRIPTION = """\
NDID finds the files in your photo folders that are really the same picture — resized,
recompressed, converted, cropped, recoloured, rotated or flipped copies — groups them and says
which file is the original. It never changes or deletes a photo by itself.

examples:
  ndid scan ~/Pictures --json report.json        find duplicates, write a report
  ndid scan ~/Pictures --reference ~/Originals   never propose files in ~/Originals
  ndid compare a.jpg b.jpg                       explain why two files match (or not)
"""


def _add_scan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--models",
        "--model-set",
        dest="model_set",
        choices=MODEL_SETS,
        default="standard",
        help="'standard': hashes + EfficientNet-Lite0 + keypoint check (default, works "
        "offline); 'fast': perceptual hashes only; 'thorough': ResNet-50, with CLIP for "
        "ambiguous pairs (needs their weights: see 'ndid models')",
    )
    p.add_argument(
        "--download",
        action="store_true",
        help="download missing model weights (otherwise NDID never goes online)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="decision threshold on the match probability (default: the "
        "calibration's, chosen for 99.5%% precision)",
    )
    p.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="a calibration file (default: your own from 'ndid calibrate --auto', else the "
        "bundled one)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ndid", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"ndid {__version__}")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where NDID keeps its cache (default: your user data folder)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    scan = sub.add_parser(
        "scan",
        help="find groups of duplicate pictures under folders",
        description="Scan folders and report groups of files that are the "
        "same picture, with the file to keep in each group.",
    )
    scan.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="folders to scan")
    scan.add_argument(
        "--reference",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="a folder of originals: its files are never proposed for deletion "
        "and always kept (repeatable)",
    )
    scan.add_argument(
        "--exclude",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="a subfolder to leave out (repeatable)",
    )
    scan.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    scan.add_argument("--csv", type=Path, metavar="FILE", help="write the groups as CSV")
    scan.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    scan.add_argument("--include-hidden", action="store_true", help="also scan hidden folders")
    scan.add_argument("--workers", type=int, default=0, help="decode processes (default: cores)")
    _add_scan_options(scan)

    compare = sub.add_parser("compare", help="compare two files and explain the decision")
    compare.add_argument("a", type=Path)
    compare.add_argument("b", type=Path)
    compare.add_argument("--json", action="store_true", help="print JSON instead of prose")
    _add_scan_options(compare)

    from ndid_desktop.cli.actions_cmd import add_action_parsers
    from ndid_desktop.cli.calibrate_cmd import add_calibrate_parser, add_eval_parser
    from ndid_desktop.cli.models_cmd import add_models_parser

    add_calibrate_parser(sub)
    add_eval_parser(sub)
    add_models_parser(sub)
    add_action_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from ndid_desktop.engine.errors import EncoderUnavailableError

    try:
        return int(args.handler(args)) if hasattr(args, "handler") else _dispatch(args)
    except KeyboardInterrupt:
        print("\ncancelled; what was read so far is cached for next time", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # `ndid models | head`: the reader has all it wanted
        # Python flushes stdout at exit and would report the same broken pipe: point it at
        # /dev/null first (the recipe in the signal module's documentation).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except EncoderUnavailableError as exc:  # a model's file or libraries are missing
        print(f"ndid: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, sqlite3.OperationalError) as exc:
        message = _storage_failure(exc, args)
        if message is None:
            raise
        print(f"ndid: {message}; what was done so far is kept", file=sys.stderr)
        return EXIT_ERROR


# A disk that refuses writes is the user's to fix, not a bug: one line, no traceback.
_STORAGE_ERRNOS = {
    errno.ENOSPC: "no space left on the disk while writing {where}",
    errno.EDQUOT: "the disk quota is exhausted while writing {where}",
    errno.EROFS: "the disk is read-only: cannot write {where}",
    errno.EACCES: "permission denied: {where}",
}


def _storage_failure(
    exc: OSError | sqlite3.OperationalError, args: argparse.Namespace
) -> str | None:
    """The one-line explanation of a write the disk refused, or None for any other error."""
    data = getattr(args, "data_dir", None) or data_dir()
    if isinstance(exc, sqlite3.OperationalError):
        from ndid_desktop.engine.features.cache import is_disk_full

        if not is_disk_full(exc):
            return None
        return _STORAGE_ERRNOS[errno.ENOSPC].format(where=f"a database in {data}")
    template = _STORAGE_ERRNOS.get(exc.errno or 0)
    if template is None:
        return None
    where = os.fsdecode(exc.filename) if exc.filename is not None else f"to {data}"
    return template.format(where=where)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "scan":
        return run_scan(args)
    if args.command == "compare":
        return run_compare(args)
    raise AssertionError(f"unhandled command {args.command}")


def _options(args: argparse.Namespace) -> ScanOptions:
    """The options scan and compare share (_add_scan_options); a compare uses no cache."""
    return ScanOptions(
        model_set=args.model_set,
        threshold=args.threshold,
        calibration=args.calibration,
        allow_download=args.download,
        use_cache=False,
    )


def run_scan(args: argparse.Namespace) -> int:
    from ndid_desktop.cli.progress import TerminalProgress
    from ndid_desktop.engine.files.discover import RootNotFoundError
    from ndid_desktop.engine.match.decision import CalibrationError
    from ndid_desktop.engine.pipeline import scan
    from ndid_desktop.engine.progress import ScanCancelled
    from ndid_desktop.engine.report import write_csv, write_json

    options = replace(
        _options(args),
        use_cache=not args.no_cache,
        workers=args.workers,
        skip_hidden=not args.include_hidden,
    )
    config = scan_config(DataFolder.at(args.data_dir), options)
    # Absolute from here on: a report must name its files so that no later current folder
    # changes which files it means (links are kept as written; trash resolves them itself).
    excluded = tuple(_absolute(p) for p in args.exclude)
    roots = [Root(_absolute(p), excluded=excluded) for p in args.paths]
    roots += [Root(_absolute(p), reference=True, excluded=excluded) for p in args.reference]
    progress = TerminalProgress()
    try:
        report = scan(roots, config, progress, CancelToken())
    except RootNotFoundError as exc:
        print(f"ndid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CalibrationError as exc:
        print(f"ndid: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ScanCancelled:
        return EXIT_CANCELLED
    finally:
        progress.close()
    if args.json:
        write_json(report, args.json)
    if args.csv:
        write_csv(report, args.csv)
    print(_summary(report, bool(args.json or args.csv)))
    return EXIT_OK


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _summary(report: object, quiet: bool) -> str:
    from ndid_desktop.engine.types import ScanReport

    assert isinstance(report, ScanReport)
    s = report.stats
    dupes = sum(len(g.duplicates) for g in report.groups)
    saved = sum(m.size for g in report.groups for m in g.duplicates)
    lines = [
        f"{s.images_used} pictures read ({s.decoded} decoded, {s.from_cache} from cache), "
        f"{s.skipped} skipped; {s.candidate_pairs} candidate pairs, {s.gated_pairs} checked by "
        f"keypoints; {len(report.groups)} groups, {dupes} duplicates ({saved / 1e6:.1f} MB)"
    ]
    lines += [f"note: {w}" for w in s.warnings]
    if not quiet:
        for g in report.groups:
            lines.append(f"\nkeep  {g.keep}\n      {g.reason}")
            for m in g.duplicates:
                lines.append(f"  dup {m.path}\n      {m.reason}")
        for sk in report.skipped:
            lines.append(f"skipped {sk.path}: {sk.error}")
    return "\n".join(lines)


def run_compare(args: argparse.Namespace) -> int:
    from ndid_desktop.engine.compare import compare
    from ndid_desktop.engine.files.decode import DecodeError
    from ndid_desktop.engine.match.decision import CalibrationError

    try:
        config = scan_config(DataFolder.at(args.data_dir), _options(args))
        result = compare(str(args.a), str(args.b), config)
    except (DecodeError, CalibrationError) as exc:
        print(f"ndid: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        from dataclasses import asdict

        data = {**asdict(result), "original": result.original}
        print(json.dumps(data, indent=2, ensure_ascii=True))
        return EXIT_OK
    print(_explain(result))
    return EXIT_OK


def _explain(c: object) -> str:
    from ndid_desktop.engine.compare import Comparison
    from ndid_desktop.engine.features.hashes import ORIENTATIONS

    assert isinstance(c, Comparison)
    s = c.signals
    verdict = "SAME PICTURE" if c.duplicate else "different pictures"
    lines = [
        f"{verdict}: probability {c.probability:.3f} (threshold {c.threshold:.3f})",
        f"  A: {c.path_a}  {c.info_a.width}x{c.info_a.height} {c.info_a.format}",
        f"  B: {c.path_b}  {c.info_b.width}x{c.info_b.height} {c.info_b.format}",
        "",
        "signals:",
        f"  orientation of B          {ORIENTATIONS[s.orientation][0]}",
        f"  pHash / dHash / wHash     {s.phash} / {s.dhash} / {s.whash} bits of 64 apart",
    ]
    if s.cosine is not None:
        lines.append(f"  embedding cosine          {s.cosine:.4f}")
    lines += [
        f"  aspect / area log-ratio   {s.aspect_log_ratio:.3f} / {s.area_log_ratio:.3f}",
        f"  keypoints in agreement    {s.inliers} (ratio {s.inlier_ratio:.2f})",
        f"  B covers {s.coverage_ab:.0%} of A; A covers {s.coverage_ba:.0%} of B",
        "",
        f"decision: cheap signals gave {c.cheap_probability:.3f}; "
        + (
            "ambiguous, so the keypoint check decided"
            if c.gated
            else "clear enough that a scan would not run the keypoint check"
        ),
        "what moved the decision (share of the log-odds):",
    ]
    for name, value in sorted(c.contributions.items(), key=lambda kv: -abs(kv[1])):
        lines.append(f"  {name:18s} {value:+.2f}")
    if c.edits:
        lines.append("how B differs from A: " + ", ".join(c.edits))
    if c.duplicate:
        who = c.original or "neither (nothing tells them apart)"
        p = c.a_is_original if c.original != "B" else 1.0 - c.a_is_original
        lines.append(f"the original: {who} (probability {p:.2f}); {c.original_reason}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
