"""`ndid trash`, `ndid history`, `ndid restore`: what the GUI does to photos, from the CLI."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ndid_desktop.paths import user_action_lock
from ndid_desktop.workspace import DataFolder

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def add_action_parsers(sub: Any) -> None:
    p = sub.add_parser("trash", help="send the duplicates of a scan report to the trash",
                       description="Moves every file that is not the keeper of its group to "
                       "the system trash, after showing how many files and how much space, "
                       "and asking. The report may be edited to do less (drop groups or "
                       "files, choose another keeper among a group's files), never more: "
                       "folders, reference flags, sizes and fingerprints come from the scan's "
                       "own record. A file moves only if, at that moment, its keeper is there, "
                       "a real file, inside the scanned folders and unchanged.")  # fmt: skip
    p.add_argument("report", type=Path, help="a report from 'ndid scan --json'")
    p.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    p.add_argument("--dry-run", action="store_true", help="only show what would happen")
    p.set_defaults(handler=run_trash)
    h = sub.add_parser("history", help="list what NDID has moved to the trash")
    h.set_defaults(handler=run_history)
    r = sub.add_parser("restore", help="put a trashed file back (freedesktop trash)")
    r.add_argument("path", help="the file's original path, as 'ndid history' shows it")
    r.set_defaults(handler=run_restore)


def say(text: str, stream: TextIO | None = None) -> None:
    """Print a line whose paths may not be valid UTF-8: their bytes go out as they are, so a
    path copied from the output names the same file again."""
    stream = stream or sys.stdout
    raw = getattr(stream, "buffer", None)
    if raw is None:
        print(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), file=stream)
        return
    stream.flush()
    raw.write(text.encode(stream.encoding or "utf-8", "surrogateescape") + b"\n")
    raw.flush()


def _journal(args: argparse.Namespace) -> Any:
    from ndid_desktop.engine.actions import Journal

    return Journal(DataFolder.at(args.data_dir).journal, (user_action_lock(),))


def run_trash(args: argparse.Namespace) -> int:
    from ndid_desktop.engine.actions import PlanRejected, RecordError, Review, plan_trash
    from ndid_desktop.engine.actions.report_request import ReportError, read_report, trash_request

    try:
        records = DataFolder.at(args.data_dir).scan_records
        report = read_report(args.report)
        request = trash_request(report, records)
        # The edited report is the user's review, made in a text editor instead of the window;
        # its choices go to the plan the way the window's do.
        review = Review.from_choices(request.choices)
        plan = plan_trash(review.trash_choices(), request.record, request.roots)
    except (ReportError, RecordError, PlanRejected) as exc:
        say(f"ndid: {exc}", sys.stderr)
        return EXIT_USAGE
    asking = not args.dry_run and not args.yes and sys.stdin.isatty()
    if args.dry_run or asking:
        # The whole picture before anything moves: per group, what stays next to what goes.
        for line in plan_lines(request.choices, plan):
            say(line)
    else:
        for refusal in plan.refused:
            say(f"kept   {refusal.path}: {refusal.reason}", sys.stderr)
    would = "would move" if args.dry_run else "to move"
    print(f"{len(plan.trash)} files, {plan.bytes / 1e6:.1f} MB {would} to the trash")
    if not plan.trash or args.dry_run:
        if args.dry_run:
            print("dry run: nothing moved")
        return EXIT_OK
    if not args.yes:
        if not asking:
            print("ndid: not asking without a terminal; add --yes to confirm", file=sys.stderr)
            return EXIT_USAGE
        if input("Move them to the trash? [y/N] ").strip().lower() not in {"y", "yes"}:
            print("nothing moved")
            return EXIT_OK
    return _execute(plan, args)


def plan_lines(choices: Sequence[Any], plan: Any) -> list[str]:
    """Per group of the report: the file kept, then each other file with what happens to it
    (goes to the trash, or stays and why: a reference, an overlap, another group's keeper, a
    file changed since the scan...)."""
    goes = {p.file.path: p for p in plan.trash}
    goes_real = {p.file.real: p for p in plan.trash}
    stays = {r.path: r.reason for r in plan.refused}
    lines: list[str] = []
    listed: set[str] = set()
    for number, choice in enumerate(choices, start=1):
        lines.append(f"group {number}")
        lines.append(f"  keep  {choice.keep}")
        for path in choice.members:
            if path == choice.keep:
                continue
            planned = goes.get(path) or goes_real.get(os.path.realpath(path))
            if path in stays:
                lines.append(f"  stays {path}: {stays[path]}")
            elif planned is None:
                lines.append(f"  stays {path}: not part of the plan")
            elif planned.file.real in listed:
                lines.append(f"  goes  {path} (listed in an earlier group)")
            else:
                listed.add(planned.file.real)
                lines.append(f"  goes  {path}")
    return lines


def _execute(plan: Any, args: argparse.Namespace) -> int:
    from ndid_desktop.engine.actions import ActionLockError, execute

    try:
        outcomes = execute(plan, _journal(args))
    except ActionLockError as exc:
        print(f"ndid: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for o in outcomes:
        say(f"{o.status:8s} {o.path}" + (f" ({o.message})" if o.message else ""))
    moved = sum(o.status == "trashed" for o in outcomes)
    print(f"{moved} of {len(outcomes)} files moved to the trash; 'ndid history' lists them")
    return EXIT_OK if all(o.status != "error" for o in outcomes) else EXIT_ERROR


def run_history(args: argparse.Namespace) -> int:
    from ndid_desktop.engine.actions import ActionLockError, default_locator

    journal = _journal(args)
    try:
        with journal.exclusive(wait=0):
            journal.reconcile(default_locator())
    except (ActionLockError, OSError):
        pass  # an action runs (its open entries are its own), or the folder is read-only
    reading = journal.read()
    if reading.problem:
        say(f"ndid: {reading.problem}", sys.stderr)
        return EXIT_ERROR
    if reading.damaged:
        print(f"warning: {reading.damaged} damaged lines of {journal.path} were skipped",
              file=sys.stderr)  # fmt: skip
    if not reading.entries:
        print("nothing trashed yet")
    for e in reading.entries:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.time))
        say(
            f"{when}  {e.action:8s} {e.status:10s} {e.path}"
            + (f"  ({e.message})" if e.message else "")
        )
    return EXIT_OK


def run_restore(args: argparse.Namespace) -> int:
    from ndid_desktop.engine.actions import restore

    message = restore(args.path)
    say(message)
    status = "restored" if message.startswith("restored") else "not restored"
    try:
        _journal(args).append({"action": "restore", "path": args.path, "status": status,
                               "message": message})  # fmt: skip
    except OSError as exc:
        print(f"ndid: the journal cannot be written ({exc.strerror or exc})", file=sys.stderr)
    return EXIT_OK if status == "restored" else EXIT_ERROR
