"""Acting on photos: the scan record, the trash plan, checks at the moment of moving, the
write-ahead journal, restoring.

Nothing here runs without the user's confirmation upstream (the CLI asks, the GUI shows a
dialog). Whatever a caller or a report asks, a file is moved only if, at that moment, its group's
keeper exists, is a real file inside the scanned folders, is unchanged since the scan and is not
being moved itself; only files the scan recorded, inside the folders it scanned, outside its
reference folders, and unchanged since, ever move. One action runs at a time per data folder.
"""

from ndid_desktop.engine.actions.execution import (
    Outcome,
    TrashFunction,
    default_locator,
    default_trash,
    execute,
)
from ndid_desktop.engine.actions.journal import Journal, JournalEntry, JournalReading, TrashLocator
from ndid_desktop.engine.actions.lock import ActionBusyError, ActionLockError
from ndid_desktop.engine.actions.plan import (
    GroupChoice,
    PlannedFile,
    PlanRejected,
    Refusal,
    TrashPlan,
    plan_trash,
)
from ndid_desktop.engine.actions.restore import find_in_trash, restore
from ndid_desktop.engine.actions.review import GroupReview, Review
from ndid_desktop.engine.actions.scan_record import (
    RecordedFile,
    RecordError,
    ScanRecord,
    load_record,
    record_scan,
)

__all__ = [
    "ActionBusyError",
    "ActionLockError",
    "GroupChoice",
    "GroupReview",
    "Journal",
    "JournalEntry",
    "JournalReading",
    "Outcome",
    "PlanRejected",
    "PlannedFile",
    "RecordError",
    "RecordedFile",
    "Refusal",
    "Review",
    "ScanRecord",
    "TrashFunction",
    "TrashLocator",
    "TrashPlan",
    "default_locator",
    "default_trash",
    "execute",
    "find_in_trash",
    "load_record",
    "plan_trash",
    "record_scan",
    "restore",
]
