"""`ndid trash`, `ndid history`, `ndid restore`: what the GUI does to photos, from the CLI."""

from __future__ import annotations

import argparse
import sys
import time
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
        request = trash_request(read_report(args.report), records)
        # The edited report is the user's review, made in a text editor instead of the window;
        # its choices go to the plan the way the window's do.
        review = Review.from_choices(request.choices)
        plan = plan_trash(review.trash_choices(), request.record, request.roots)
    except (ReportError, RecordError, PlanRejected) as exc:
        say(f"ndid: {exc}", sys.stderr)
        return EXIT_USAGE
    for refusal in plan.refused:
        say(f"kept   {refusal.path}: {refusal.reason}", sys.stderr)
    print(f"{len(plan.trash)} files, {plan.bytes / 1e6:.1f} MB to move to the trash")
    if not plan.trash or args.dry_run:
        for planned in plan.trash:
            say(f"would trash {planned.file.path} (keeping {planned.keeper.path})")
        return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            print("ndid: not asking without a terminal; add --yes to confirm", file=sys.stderr)
            return EXIT_USAGE
        if input("Move them to the trash? [y/N] ").strip().lower() not in {"y", "yes"}:
            print("nothing moved")
            return EXIT_OK
    return _execute(plan, args)


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
        print("nothing has been moved to the trash yet")
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
