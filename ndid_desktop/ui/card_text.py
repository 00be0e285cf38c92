"""The words on a group's header and cards, from the review state: who is kept, whether by the
scan's suggestion or the user's choice, and what the engine said about each file. The engine's
own reasons are shown as they come; only the user's choices are put into words here."""

from __future__ import annotations

import os

from PySide6.QtCore import QCoreApplication

from ndid_desktop.engine.actions.review import GroupReview
from ndid_desktop.engine.types import Member


def _tr(text: str) -> str:
    return QCoreApplication.translate("card_text", text)


def is_identical(member: Member) -> bool:
    """Same bytes or same pixels as another member (the engine marks these copies)."""
    return bool(member.signals.get("identical"))


def nothing_to_trash(state: GroupReview) -> bool:
    """Every file is kept: the others only overlap the keeper (neither holds the other), are
    references or were kept out by the user."""
    return state.savings == 0


def card_status(state: GroupReview, member: Member) -> str:
    """The last line of a card: kept or not, by whose choice, and how it matches."""
    suggested = member.path == state.group.keep
    if member.path == state.keep:
        return _tr("original (suggested)") if suggested else _tr("kept: your choice")
    if suggested:
        if member.path in state.kept_out:
            return _tr("suggested original, kept too")
        return _tr("suggested original, goes")
    if member.overlapping and member.path in state.kept_out:
        return _tr("overlapping, both kept")
    if is_identical(member):
        return member.reason  # the engine's words: "identical file to …" / "identical pixels …"
    edits = member.signals.get("edits") or []
    if edits:  # the engine's words for how it differs: "smaller: 50%, PNG conversion of the JPEG"
        return _tr("{p:.0%} · {edits}").format(edits=", ".join(edits), p=member.probability)
    return _tr("match {p:.0%}").format(p=member.probability)


def group_reason(state: GroupReview) -> str:
    """Why this file is kept: the engine's reason for its suggestion, or the user's choice."""
    if state.keep == state.group.keep:
        return state.group.reason
    return _tr("you keep {chosen} (your choice); the scan suggested {suggested}").format(
        chosen=os.path.basename(state.keep), suggested=os.path.basename(state.group.keep)
    )
