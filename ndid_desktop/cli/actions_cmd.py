"""`ndid trash`, `ndid history`, `ndid restore`: what the GUI does to photos, from the CLI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..paths import data_dir


def add_action_parsers(sub: Any) -> None:
    p = sub.add_parser("trash", help="send the duplicates of a scan report to the trash",
                       description="Moves every file that is not the keeper of its group to "
                       "the system trash, after showing how many files and how much space, "
                       "and asking. Files in reference folders, outside the scanned folders, "
                       "or changed since the scan are never touched.")  # fmt: skip
    p.add_argument("report", type=Path, help="a report from 'ndid scan --json'")
    p.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    p.add_argument("--dry-run", action="store_true", help="only show what would happen")
    p.set_defaults(handler=run_trash)
    h = sub.add_parser("history", help="list what NDID has moved to the trash")
    h.set_defaults(handler=run_history)
    r = sub.add_parser("restore", help="put a trashed file back (freedesktop trash)")
    r.add_argument("path", help="the file's original path, as 'ndid history' shows it")
    r.set_defaults(handler=run_restore)


def _journal(args: argparse.Namespace) -> Any:
    from ..engine.actions import Journal

    return Journal(data_dir(args.data_dir) / "journal.jsonl")


def run_trash(args: argparse.Namespace) -> int:
    from ..engine.actions import FileState, GroupChoice, execute, plan_deletion
    from ..engine.report import from_json

    report = from_json(json.loads(args.report.read_text(encoding="utf-8")))
    choices = [
        GroupChoice(
            tuple(FileState(m.path, m.size, m.mtime_ns, m.reference) for m in g.members),
            frozenset({g.keep}),
        )
        for g in report.groups
    ]
    plan = plan_deletion(choices, report.stats.roots)
    for refusal in plan.refused:
        print(f"kept   {refusal.path}: {refusal.reason}", file=sys.stderr)
    print(f"{len(plan.trash)} files, {plan.bytes / 1e6:.1f} MB to move to the trash")
    if not plan.trash or args.dry_run:
        for state in plan.trash:
            print(f"would trash {state.path}")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            print("ndid: not asking without a terminal; add --yes to confirm", file=sys.stderr)
            return 2
        if input("Move them to the trash? [y/N] ").strip().lower() not in {"y", "yes"}:
            print("nothing moved")
            return 0
    outcomes = execute(plan, _journal(args))
    for o in outcomes:
        print(f"{o.status:8s} {o.path}" + (f" ({o.message})" if o.message else ""))
    return 0 if all(o.status != "error" for o in outcomes) else 1


def run_history(args: argparse.Namespace) -> int:
    import time

    for e in _journal(args).entries():
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(e.get("time", 0))))
        print(f"{when}  {e.get('action')}  {e.get('status', '')}  {e.get('path')}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from ..engine.actions import restore

    message = restore(args.path)
    print(message)
    _journal(args).append({"action": "restore", "path": args.path, "message": message})
    return 0 if message.startswith("restored") else 1
