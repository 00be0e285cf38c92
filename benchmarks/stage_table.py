"""The per-stage table every scan benchmark prints: where the seconds went, and how fast each
stage went through its own items (files, images, pairs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageRow:
    stage: str
    seconds: float
    items: int | None  # None: the stage has no countable items
    what: str  # the unit of items, and the stage's other counts


def stage_rows(stats: Any, total_s: float | None = None) -> list[StageRow]:
    """Rows for the stages of ``stats`` (a ScanStats, or its fields as a dict, e.g. read back
    from JSON), in the order they ran; with ``total_s``, a row for the time spent outside the
    timed stages (model loading, the gate, the scan record) and a total row."""
    s: Mapping[str, Any] = stats if isinstance(stats, Mapping) else dataclasses.asdict(stats)
    seconds: Mapping[str, float] = s["seconds"]
    rows = [StageRow(name, took, *_items(name, s)) for name, took in seconds.items()]
    if total_s is not None:
        rows.append(StageRow("(outside stages)", max(0.0, total_s - sum(seconds.values())),
                             None, "model set, gate, scan record"))  # fmt: skip
        rows.append(StageRow("total", total_s, s["files_found"], "files"))
    return rows


def _items(stage: str, s: Mapping[str, Any]) -> tuple[int | None, str]:
    if stage == "discover":
        return s["files_found"], "files"
    if stage == "features":
        return s["images_used"], f"images ({s['decoded']} decoded, {s['from_cache']} cached)"
    if stage == "candidates":
        return s["images_used"], f"images -> {s['candidate_pairs']} candidate pairs"
    if stage == "decide":
        return s["candidate_pairs"], (
            f"pairs ({s['gated_pairs']} gated, {s['verified_pairs']} keypoint-checked, "
            f"{s['duplicate_pairs']} accepted)"
        )
    if stage == "verify":
        return s["verified_pairs"], "pairs keypoint-checked"
    if stage == "group":
        return s["duplicate_pairs"], f"accepted pairs -> {s['groups']} groups"
    return None, ""  # a stage this table does not know yet: its time, without a rate


def format_stage_table(stats: Any, total_s: float | None = None) -> str:
    """A Markdown table: readable in a terminal, pasteable into an issue."""
    lines = ["| stage | seconds | items | items/s | what |", "|---|---:|---:|---:|---|"]
    for row in stage_rows(stats, total_s):
        items = "" if row.items is None else str(row.items)
        # Stage times are kept to the millisecond: a rate from a few of them would be noise.
        rate = f"{row.items / row.seconds:.1f}" if row.items and row.seconds >= 0.01 else ""
        lines.append(f"| {row.stage} | {row.seconds:.2f} | {items} | {rate} | {row.what} |")
    return "\n".join(lines)
