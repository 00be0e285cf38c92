"""Whole scans of growing libraries: time, memory, re-scan and accuracy per library size.

    python benchmarks/bench_scale.py --sizes 2500,10000,40000 --work bench-data/scale

For each size it builds (or reuses) a library of that many distinct pictures with ~15% edited
copies (benchmarks/make_library.py; the library settings are its options), then runs a whole scan
with an empty data folder and a re-scan of the unchanged library, each in a fresh process with
the data folder (cache, scan records, models) inside --work, configured as `ndid scan` is. Per
scan it prints: seconds, seconds per file, peak RSS of the scan process and of its largest worker
(getrusage), the peak memory of the whole process tree (the sum of the PSS of the scan and its
workers, sampled from /proc every 0.25 s, so a short spike can be missed), the longest time the
progress display was left without news, the pairwise precision and recall of the groups against
the library's manifest (and how many wrongly grouped files share a region of a development photo
with their keeper, which the generator allows, against those that share nothing), and the
per-stage table. A summary of all sizes comes last.

Mind the disk: 2-12 MP JPEGs are ~0.7-4 MB each (make_library checks the free space first).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from make_library import add_settings_arguments, build_library, settings_from
from stage_table import format_stage_table

MIB = 1024 * 1024
SAMPLE_INTERVAL_S = 0.25


# ---- the scan, in its own process ----


class EventClock:
    """A progress callback that remembers the longest wait between two events (what the user
    stares at without news), then passes the event on to the display."""

    def __init__(self, forward: Callable[[Any], None]) -> None:
        self.forward = forward
        self.start = self.last = time.perf_counter()
        self.last_event = "the start of the scan"
        self.longest = (0.0, self.last_event)

    def __call__(self, event: Any) -> None:
        self._gap(f"{event.stage} {event.done}/{event.total or '?'} {event.message}".strip())
        self.forward(event)

    def _gap(self, label: str) -> None:
        now = time.perf_counter()
        if now - self.last > self.longest[0]:
            self.longest = (now - self.last, self.last_event)
        self.last, self.last_event = now, label

    def finish(self) -> dict[str, object]:
        self._gap("the end of the scan")
        return {"seconds": round(self.longest[0], 2), "after": self.longest[1]}


class TreeMemory:
    """Samples the summed PSS (resident memory, shared pages split between their users) of this
    process and all its descendants: getrusage gives each process's own peak, not the peak of
    the whole tree at one moment."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()  # a scan shorter than one interval still gets a figure

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self._sample()

    def _sample(self) -> None:
        total = sum(_pss_kb(pid) for pid in _tree(os.getpid()))
        self.peak_kb = max(self.peak_kb, total)


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:  # the process ended while we looked, or no /proc (not Linux)
            continue
    return found


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def child(library: Path, data: Path, out: Path, model_set: str, workers: int, quiet: bool) -> int:
    """One scan, as `ndid scan` configures it; writes its figures to ``out`` as JSON."""
    imports = time.perf_counter()
    from ndid_desktop.cli.progress import TerminalProgress
    from ndid_desktop.engine.config import Root
    from ndid_desktop.engine.evaluation.attacks import read_manifest
    from ndid_desktop.engine.evaluation.group_scores import score_report
    from ndid_desktop.engine.pipeline import scan
    from ndid_desktop.engine.report import write_json
    from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

    config = scan_config(DataFolder.at(data), ScanOptions(model_set=model_set, workers=workers))
    _prepare_model(config)
    imports = time.perf_counter() - imports
    display = TerminalProgress()
    clock = EventClock((lambda e: None) if quiet else display)
    root = library.resolve()
    with TreeMemory() as tree:
        start = time.perf_counter()
        report = scan([Root(root)], config, clock)
        took = time.perf_counter() - start
    display.close()
    figures = {
        "scan_s": took,
        "setup_s": imports,
        "stats": dataclasses.asdict(report.stats),
        "rss_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "tree_pss_mib": tree.peak_kb / 1024,
        "silence": clock.finish(),
        "score": _score(score_report(report, read_manifest(library), str(root))),
        "false_pairs": false_pairs(report, library, root),
    }
    write_json(report, out.with_name(out.stem + "-report.json"))  # the groups, for a closer look
    out.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


def _prepare_model(config: Any) -> None:
    """The one-time ONNX export of a model set's encoder (when no shipped file serves) is a
    first-run cost, not a scan cost: done before the clock starts."""
    from ndid_desktop.engine.features.extract import prepare_onnx
    from ndid_desktop.engine.features.model_sets import model_set

    spec = model_set(config.model_set).embedding
    if spec is not None:
        prepare_onnx(spec, config.models_dir)


def false_pairs(report: Any, library: Path, root: Path) -> dict[str, object]:
    """The grouped pairs of different pictures, split by whether the two share a region of a
    development photo (the library generator's doing, see make_library.py) or nothing at all
    (the engine's own mistake); a few of the latter with the engine's reason, to look at."""
    manifest = json.loads((library / "manifest.json").read_text(encoding="utf-8"))
    group = {os.path.normpath(root / f["file"]): f["group"] for f in manifest["files"]}
    regions = {g: set(r) for g, r in manifest.get("pictures", {}).items()}
    shared, unrelated = 0, 0
    examples: list[str] = []
    for g in report.groups:
        keeper = os.path.normpath(g.keep)
        for m in g.members:
            path = os.path.normpath(m.path)
            a, b = group[keeper], group[path]
            if a == b:
                continue
            if regions.get(a, set()) & regions.get(b, set()):
                shared += 1
            else:
                unrelated += 1
                if len(examples) < 3:
                    examples.append(f"{keeper} ~ {path}: {m.reason}")
    return {"share_region": shared, "unrelated": unrelated, "examples": examples}


def _score(score: Any) -> dict[str, object]:
    return {
        "precision": score.precision,
        "recall": score.recall,
        "f1": score.f1,
        "true_pairs": score.true_pairs,
        "predicted_pairs": score.predicted_pairs,
        "false_groups": score.false_groups,
        "keeper_accuracy": score.keeper_accuracy,
        "by_tier": score.by_tier,
    }


# ---- the driver ----


def run_scan(library: Path, data: Path, args: argparse.Namespace, label: str) -> dict[str, Any]:
    out = data.parent / f"{data.name}-{label}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--child", str(library), str(data), str(out),
               "--model-set", args.model_set, "--scan-workers", str(args.scan_workers)]  # fmt: skip
    if args.quiet:
        command.append("--quiet")
    start = time.perf_counter()
    subprocess.run(command, check=True)
    figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    figures["process_s"] = time.perf_counter() - start
    return figures


def describe(label: str, f: dict[str, Any], first: dict[str, Any] | None) -> str:
    files = f["stats"]["files_found"]
    lines = [
        f"{label}: {f['scan_s']:.1f} s  ({f['scan_s'] / files * 1000:.1f} ms a file, "
        f"{files / f['scan_s']:.1f} files/s; the process took {f['process_s']:.1f} s with "
        f"{f['setup_s']:.1f} s of imports and setup)"
    ]
    if first is not None:
        lines[0] += f"  = {f['scan_s'] / first['scan_s']:.1%} of the first scan"
    lines.append(
        f"  peak memory: scan process {f['rss_self_mib']:.0f} MiB RSS, largest worker "
        f"{f['rss_worker_mib']:.0f} MiB RSS, whole tree {f['tree_pss_mib']:.0f} MiB PSS (sampled)"
    )
    lines.append(f"  longest wait for progress: {f['silence']['seconds']:.1f} s, after "
                 f"'{f['silence']['after']}'")  # fmt: skip
    s = f["score"]
    tiers = ", ".join(f"{t} {got}/{n}" for t, (got, n) in sorted(s["by_tier"].items()))
    lines.append(
        f"  groups vs manifest: precision {s['precision']:.4f}, recall {s['recall']:.4f} "
        f"({s['predicted_pairs']} pairs predicted, {s['true_pairs']} true); "
        f"{s['false_groups']} false groups; keeper right {s['keeper_accuracy']:.1%}; "
        f"copies found by tier: {tiers}"
    )
    fp = f["false_pairs"]
    lines.append(
        f"  members grouped with a keeper of another picture: {fp['share_region']} share a "
        f"region of a development photo with it (the generator's doing), {fp['unrelated']} "
        "share nothing (the engine's mistakes)" + "".join(f"\n    e.g. {e}" for e in fp["examples"])
    )
    lines.append(format_stage_table(f["stats"], f["scan_s"]))
    return "\n".join(lines)


def summary(rows: list[tuple[int, dict[str, Any], dict[str, Any] | None]]) -> str:
    lines = [
        "| pictures | files | scan s | ms/file | peak RSS scan / worker / tree MiB | "
        "re-scan s | re-scan % | precision | recall |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for size, f, again in rows:
        files = f["stats"]["files_found"]
        memory = f"{f['rss_self_mib']:.0f} / {f['rss_worker_mib']:.0f} / {f['tree_pss_mib']:.0f}"
        re_s = f"{again['scan_s']:.1f}" if again else ""
        re_pct = f"{again['scan_s'] / f['scan_s']:.1%}" if again else ""
        lines.append(
            f"| {size} | {files} | {f['scan_s']:.1f} | {f['scan_s'] / files * 1000:.1f} | "
            f"{memory} | {re_s} | {re_pct} | {f['score']['precision']:.4f} | "
            f"{f['score']['recall']:.4f} |"
        )
    return "\n".join(lines)


def bench_size(size: int, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any] | None]:
    settings = settings_from(args, size)
    name = (f"lib-{size}-{settings.min_mp:g}-{settings.max_mp:g}mp-copies{settings.copy_share:g}"
            f"-seed{settings.seed}")  # fmt: skip
    library = build_library(args.work / name, settings, args.photos, args.workers)
    data = args.work / f"data-{name}-{args.model_set}"
    shutil.rmtree(data, ignore_errors=True)  # the first scan starts with an empty data folder
    data.mkdir(parents=True)
    print(f"\n== {size} pictures, model set {args.model_set}: first scan ==", flush=True)
    first = run_scan(library, data, args, "first")
    print(describe("first scan", first, None), flush=True)
    if args.no_rescan:
        return first, None
    print(f"\n== {size} pictures: re-scan of the unchanged library ==", flush=True)
    again = run_scan(library, data, args, "again")
    print(describe("re-scan", again, first), flush=True)
    return first, again


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2500,10000,40000",
                        help="library sizes (distinct pictures), comma-separated")  # fmt: skip
    parser.add_argument("--work", type=Path, default=Path("bench-data/scale"))
    parser.add_argument("--model-set", default="standard")
    parser.add_argument("--scan-workers", type=int, default=0, help="0: one per core")
    parser.add_argument("--no-rescan", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress lines from the scans")
    parser.add_argument("--child", nargs=3, type=Path, metavar=("LIBRARY", "DATA", "OUT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    add_settings_arguments(parser)
    args = parser.parse_args()
    if args.child:
        library, data, out = args.child
        return child(library, data, out, args.model_set, args.scan_workers, args.quiet)
    args.work.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(args.work)
    print(f"{os.cpu_count()} cores; {usage.free / 1e9:.1f} GB free of {usage.total / 1e9:.0f} GB "
          f"on {args.work}")  # fmt: skip
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        first, again = bench_size(size, args)
        rows.append((size, first, again))
    print("\n== summary ==")
    print(summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
