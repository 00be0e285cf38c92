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


COMPARE_DESCRIPTION = """\
Compare two picture files the way a scan would: every signal measured between them,
the probability that they are the same picture and the decision, what moved it, how
the copy differs from the original and which file is the original. Unlike a scan,
compare always runs the keypoint check (in the model sets that have one), to show
every signal; the probability is still the one a scan would report. Nothing is
cached or changed."""


def _add_scan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--models",
        "--model-set",
        dest="model_set",
        choices=MODEL_SETS,
        default="standard",
        help="'standard': hashes + EfficientNet-Lite0 + keypoint check (default, works "
        "offline); 'fast': perceptual hashes only; 'thorough': ResNet-50, with CLIP for "
        "ambiguous pairs; 'copydetect': Meta's SSCD copy-detection embedding + keypoint "
        "check ('thorough' and 'copydetect' need their weights: see 'ndid models')",
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
        metavar="P",
        help="decision threshold on the match probability (default: the "
        "calibration's, chosen for 99.5%% precision)",
    )
    p.add_argument(
        "--calibration",
        type=Path,
        default=None,
        metavar="FILE",
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

    compare = sub.add_parser(
        "compare",
        help="compare two files and explain the decision",
        description=COMPARE_DESCRIPTION,
        epilog="examples:\n"
        "  ndid compare photo.jpg photo-small.jpg      why they match (or not)\n"
        "  ndid compare --json a.jpg b.png             every number, for scripts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("a", type=Path, metavar="A", help="the first picture file")
    compare.add_argument("b", type=Path, metavar="B", help="the second picture file")
    compare.add_argument(
        "--json", action="store_true", help="print every field as JSON instead of prose"
    )
    _add_scan_options(compare)

    from ndid_desktop.cli.actions_cmd import add_action_parsers
    from ndid_desktop.cli.calibrate_cmd import add_calibrate_parser, add_eval_parser
    from ndid_desktop.cli.index_cmd import add_index_parsers
    from ndid_desktop.cli.models_cmd import add_models_parser
    from ndid_desktop.cli.serve_cmd import add_serve_parser

    add_calibrate_parser(sub)
    add_eval_parser(sub)
    add_models_parser(sub)
    add_action_parsers(sub)
    add_index_parsers(sub)
    add_serve_parser(sub)
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

        data = {
            **asdict(result),
            "original": result.original,
            "shares": result.shares,
            "reasons_against": [] if result.duplicate else result.reasons_against,
        }
        print(json.dumps(data, indent=2, ensure_ascii=True))
        return EXIT_OK
    print(_explain(result))
    return EXIT_OK


def _explain(c: object) -> str:
    """`ndid compare` in prose: the verdict, which file is the original and how the copy
    differs, then every signal read from A to B, and what moved the decision."""
    from ndid_desktop.engine.compare import Comparison

    assert isinstance(c, Comparison)
    verdict = "SAME PICTURE" if c.duplicate else "NOT THE SAME PICTURE"
    lines = [
        f"{verdict}: probability {c.probability:.3f} (threshold {c.threshold:.3f})",
        f"  A: {c.path_a}  {_picture(c.info_a)}",
        f"  B: {c.path_b}  {_picture(c.info_b)}",
    ]
    if c.duplicate:
        lines += _original_lines(c)
    else:
        reasons = c.reasons_against
        short = f"the signals together fall short of the threshold ({c.probability:.3f})"
        lines.append("not the same picture: " + ("; ".join(reasons) if reasons else short))
        if c.partial:
            lines.append("  (a shared region only: neither picture shows most of the other)")
        if c.edits:  # the geometry ties them together all the same
            other = "B" if c.copy_side == "A" else "A"
            lines.append(f"if {c.copy_side} is a copy of {other}, it is: " + ", ".join(c.edits))
    lines += ["", "signals (B measured against A):", *_signal_lines(c), ""]
    lines += _decision_lines(c)
    return "\n".join(lines)


def _picture(info: object) -> str:
    from ndid_desktop.engine.types import ImageInfo

    assert isinstance(info, ImageInfo)
    text = f"{info.width}x{info.height} {info.format}"
    return text + (f", quality {info.jpeg_quality}" if info.jpeg_quality is not None else "")


def _original_lines(c: object) -> list[str]:
    from ndid_desktop.engine.compare import TOO_CLOSE, Comparison
    from ndid_desktop.engine.groups.identical import BYTES, PIXELS

    assert isinstance(c, Comparison)
    keeper = "A" if c.a_is_original >= 0.5 else "B"
    p = max(c.a_is_original, 1.0 - c.a_is_original)
    why = c.original_reason.removeprefix("kept: ")
    if p < 0.5 + TOO_CLOSE:
        line = f"which is the original: too close to call; a scan would keep {keeper} — {why}"
    else:
        line = f"{keeper} is the original (probability {p:.2f}): {why}"
    other = "B" if c.copy_side == "A" else "A"
    if c.stage in (BYTES, PIXELS):
        return [line, f"{c.copy_side} differs from {other}: not at all ({c.stage})"]
    edits = ", ".join(c.edits) if c.edits else "no edit that the signals can name"
    return [line, f"{c.copy_side} differs from {other}: {edits}"]


def _signal_lines(c: object) -> list[str]:
    import math

    from ndid_desktop.engine.compare import Comparison
    from ndid_desktop.engine.features.hashes import QUARTER_TURNS
    from ndid_desktop.engine.groups.explain import TURNS, evidence_of

    assert isinstance(c, Comparison)
    s, a, b = c.signals, c.info_a, c.info_b
    ev = evidence_of(s, c.duplicate)
    if not ev.aligned and not ev.geometry:
        # Not even the closest orientation is named: for unrelated pictures it means nothing.
        turn = f"none lines them up (the hashes stay {s.phash} of 64 bits apart at best)"
    else:
        turn = f"B is A {TURNS[s.orientation]}" if s.orientation else "B lines up with A as it is"
    pixels = b.pixels / max(a.pixels, 1)
    if a.pixels == b.pixels:
        size = f"the same number of pixels ({a.width}x{a.height})"
    else:
        size = f"B is {math.sqrt(pixels):.0%} of A's size ({pixels:.0%} of its pixels)"
    aspect_b = 1.0 / b.aspect if s.orientation in QUARTER_TURNS else b.aspect
    shape = (
        f"the same aspect ratio ({a.aspect:.2f})"
        if s.aspect_log_ratio < 0.005
        else f"aspect ratio {a.aspect:.2f} for A, {aspect_b:.2f} for B"
        + (" once turned" if s.orientation in QUARTER_TURNS else "")
    )
    lines = [
        f"  orientation               {turn}",
        f"  size                      {size}",
        f"  shape                     {shape}",
        f"  pHash / dHash / wHash     {s.phash} / {s.dhash} / {s.whash} of 64 bits differ "
        "(0: identical, about 32: unrelated)",
    ]
    if s.cosine is not None:
        lines.append(f"  embedding cosine          {s.cosine:.4f} (1: the same content)")
    if s.gate_cosine is not None:
        lines.append(f"  CLIP cosine               {s.gate_cosine:.4f}")
    if s.inliers is None:
        lines.append(f"  keypoints in agreement    not checked ('{c.model_set}' has no check)")
        return lines
    lines.append(
        f"  keypoints in agreement    {s.inliers} ({s.inlier_ratio or 0.0:.0%} of the matches)"
    )
    if ev.geometry:
        lines.append(
            f"  overlap                   B shows {s.coverage_ab or 0.0:.0%} of A; "
            f"A shows {s.coverage_ba or 0.0:.0%} of B"
        )
    else:
        lines.append("  overlap                   none found (no clean geometry)")
    return lines


def _decision_lines(c: object) -> list[str]:
    from ndid_desktop.engine.compare import Comparison
    from ndid_desktop.engine.groups.explain import FEATURE_LABELS
    from ndid_desktop.engine.match.decision import CHEAP, UNVERIFIED, USER, VERIFIED

    assert isinstance(c, Comparison)
    cheap = f"decision: the cheap signals gave {c.cheap_probability:.3f}"
    how = {
        CHEAP: f"{cheap}, clear enough that a scan would not run the keypoint check",
        VERIFIED: f"{cheap}, in the band a scan checks, so the keypoint check decided",
        UNVERIFIED: f"{cheap}, in the band a scan checks, but the check could not be had, "
        "so they decided",
        USER: "decision: you marked these two as different pictures",
    }
    if c.stage not in how:  # identical file / identical pixels: never scored
        return [f"decision: {c.stage}; a scan groups them as copies without scoring them"]
    lines = [how[c.stage]]
    if c.partial:
        lines.append("  capped at 0.49: neither picture shows most of the other")
    if c.stage == USER:
        return lines
    lines.append(
        "what moved it (each signal's push on the log-odds, against an average calibration "
        "pair, and its share of all the pushes):"
    )
    shares = c.shares
    for name, value in sorted(c.contributions.items(), key=lambda kv: -abs(kv[1])):
        label = FEATURE_LABELS.get(name, name)
        toward = "same" if value >= 0.005 else "different" if value <= -0.005 else "neither"
        lines.append(f"  {label:26s}{value:+7.2f} {abs(shares[name]):4d}%  toward {toward}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
