"""The review: what the user decided about each group of a scan, before anything moves.

Which file each group keeps (the user's choice, or the scan's suggestion: "keep by rule"),
groups split by hand, groups marked "not duplicates", files and groups kept out of the trash,
and from all that the choices the trash plan takes (``plan.GroupChoice``). Plain values, no Qt:
the GUI's list model is a thin adapter over a :class:`Review`, and ``ndid trash`` builds its
choices through one too, so both hand the plan the same thing for the same decisions.

Every operation returns a new Review (the old one is left as it was): an adapter replaces its
review and tells its views which rows changed. Nothing here can widen what the scan found: the
plan checks every choice against the scan's own record, whatever a review says.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import Literal

from ndid_desktop.engine.actions.plan import GroupChoice
from ndid_desktop.engine.types import Group, ImageInfo, Member, ScanReport

KeeperRule = Literal["resolution", "oldest", "folder"]
SortKey = Literal["savings", "probability", "folder"]

SPLIT_REASON = "kept: chosen when the group was split by hand"


@dataclass(frozen=True)
class GroupReview:
    """One group as the user has reviewed it so far."""

    group: Group  # as the scan (or a split) proposed it: members, the keeper by rule, why
    keep: str  # the file the user keeps; the group's suggestion until they choose another
    selected: bool = True  # takes part in "trash the others"
    excluded: frozenset[str] = frozenset()  # members the user keeps out of the trash
    protected: frozenset[str] = frozenset()  # members the user marked as reference

    @property
    def members(self) -> tuple[Member, ...]:
        return self.group.members

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(m.path for m in self.group.members)

    @property
    def savings(self) -> int:
        """Bytes freed by trashing the files this group would let go."""
        return sum(m.size for m in self.members if self._would_go(m))

    @property
    def weakest(self) -> float:
        """The least sure match of the group (against the scan's keeper, whatever is kept)."""
        return min((m.probability for m in self.members if m.path != self.group.keep), default=1.0)

    def choice(self) -> GroupChoice:
        # An excluded file is left out of the choice, as a report with that member deleted
        # would: the plan then neither moves it nor lists it as refused. The keeper always
        # stays in, or the plan could not tell which file must remain.
        kept_out = self.kept_out
        members = tuple(p for p in self.paths if p not in kept_out or p == self.keep)
        overlapping = frozenset(
            m.path for m in self.members if m.overlapping and m.path != self.keep
        ) & frozenset(members)
        return GroupChoice(members, self.keep, self.protected, overlapping)

    @property
    def kept_out(self) -> frozenset[str]:
        """Members that stay whatever is trashed: the user's exclusions and, when the user
        keeps a file the suggested keeper only overlaps, the suggested keeper too (it holds
        picture the chosen one lacks)."""
        chosen = next((m for m in self.members if m.path == self.keep), None)
        if chosen is not None and chosen.overlapping:
            return self.excluded | {self.group.keep}
        return self.excluded

    def parts(self, moved: Collection[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The paths that stay in the group and those a split moves out, in member order."""
        staying = tuple(p for p in self.paths if p not in moved)
        moving = tuple(p for p in self.paths if p in moved)
        return staying, moving

    def _would_go(self, m: Member) -> bool:
        return not (
            m.path == self.keep
            or m.reference
            or m.path in self.kept_out
            or m.path in self.protected
        )


@dataclass(frozen=True)
class Review:
    """The review of a whole scan: one GroupReview per group still on the list, in list order.

    Groups are addressed by their position (``index``) in ``groups``, as a list view shows them.
    """

    groups: tuple[GroupReview, ...] = ()

    @classmethod
    def from_report(cls, report: ScanReport) -> Review:
        return cls.from_groups(report.groups)

    @classmethod
    def from_groups(cls, groups: Iterable[Group]) -> Review:
        """Every group selected, each keeping the scan's suggestion; files the keeper does
        not hold (overlapping) start out kept out of the trash."""
        return cls(tuple(GroupReview(g, g.keep, excluded=_overlapping(g)) for g in groups))

    @classmethod
    def from_choices(cls, choices: Iterable[GroupChoice]) -> Review:
        """A review made elsewhere: the groups of a report file the user edited, each keeping
        what the report says. Only paths and reference marks are known of such files (the plan
        reads everything else from the scan record), so their members carry no picture
        details; ``trash_choices`` gives the choices back exactly as they came, unchecked: a
        keeper that is no member is the plan's to refuse, with its reason."""
        return cls(tuple(_from_choice(c) for c in choices))

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> GroupReview:
        return self.groups[index]

    # --- what the plan takes
    def trash_choices(self) -> list[GroupChoice]:
        """The trash selection: one choice per selected group."""
        return [g.choice() for g in self.groups if g.selected]

    # --- keepers
    def choose_keeper(self, index: int, path: str) -> Review:
        group = self.groups[index]
        if path not in group.paths:
            raise ValueError(f"{path} is not a member of this group")
        return self._with(index, replace(group, keep=path))

    def next_keeper(self, index: int) -> Review:
        """The member after the current keeper (wrapping round) becomes the keeper."""
        paths = self.groups[index].paths
        current = paths.index(self.groups[index].keep)
        return self.choose_keeper(index, paths[(current + 1) % len(paths)])

    def keep_by_rule(self, index: int) -> Review:
        """Back to the scan's suggestion for one group."""
        group = self.groups[index]
        return self._with(index, replace(group, keep=group.group.keep))

    def keep_suggested(self) -> Review:
        """Back to the scan's suggestion for every group."""
        return Review(tuple(replace(g, keep=g.group.keep) for g in self.groups))

    def apply_rule(self, rule: KeeperRule, folder: str = "") -> Review:
        """Choose every group's keeper by ``rule``: the highest resolution, the oldest file, or
        the first file under ``folder``. A reference file always stays the keeper."""
        return Review(tuple(replace(g, keep=_by_rule(g, rule, folder)) for g in self.groups))

    # --- what goes to the trash
    def select(self, index: int, selected: bool = True) -> Review:
        """Include the group in the trash selection (``selected=False`` excludes it)."""
        return self._with(index, replace(self.groups[index], selected=selected))

    def exclude_group(self, index: int) -> Review:
        return self.select(index, False)

    def include_group(self, index: int) -> Review:
        return self.select(index, True)

    def exclude_file(self, index: int, path: str) -> Review:
        """Keep one member out of the trash; the rest of its group may still go."""
        group = self.groups[index]
        if path not in group.paths:
            raise ValueError(f"{path} is not a member of this group")
        return self._with(index, replace(group, excluded=group.excluded | {path}))

    def include_file(self, index: int, path: str) -> Review:
        group = self.groups[index]
        return self._with(index, replace(group, excluded=group.excluded - {path}))

    # --- wrong groups
    def split(self, index: int, moved: Collection[str]) -> Review:
        """Move the ``moved`` members of a group into a group of their own, both parts in its
        place; a part left with a single file is no group any more. Remembering that the
        parts are different pictures (``verdicts``) is the caller's: ``GroupReview.parts``."""
        group = self.groups[index]
        staying, moving = group.parts(moved)
        parts = [_split_part(group, set(part)) for part in (staying, moving) if len(part) > 1]
        return Review((*self.groups[:index], *parts, *self.groups[index + 1 :]))

    def not_duplicates(self, indexes: Iterable[int]) -> Review:
        """The groups at ``indexes`` are no duplicates: off the list (the caller remembers the
        verdict, so that later scans do not group them again)."""
        return self.remove(indexes)

    def remove(self, indexes: Iterable[int]) -> Review:
        gone = set(indexes)
        return Review(tuple(g for i, g in enumerate(self.groups) if i not in gone))

    def emptied_by(self, trashed: Collection[str]) -> list[int]:
        """The selected groups with nothing left to decide once ``trashed`` went: every member
        is kept, protected, or gone."""
        return [i for i, g in enumerate(self.groups) if g.selected and _settled(g, trashed)]

    # --- listing
    def rows_with(self, path: str) -> list[int]:
        return [i for i, g in enumerate(self.groups) if path in g.paths]

    def sorted_by(self, key: SortKey) -> Review:
        """'savings' (largest first), 'probability' (least sure first) or 'folder' (of the
        keeper); ties keep their order."""
        if key == "savings":
            ordered = sorted(self.groups, key=lambda g: -g.savings)
        elif key == "probability":
            ordered = sorted(self.groups, key=lambda g: g.weakest)
        else:
            ordered = sorted(self.groups, key=lambda g: os.path.dirname(g.keep))
        return Review(tuple(ordered))

    def _with(self, index: int, group: GroupReview) -> Review:
        return Review((*self.groups[:index], group, *self.groups[index + 1 :]))


def _overlapping(group: Group) -> frozenset[str]:
    return frozenset(m.path for m in group.members if m.overlapping and m.path != group.keep)


def _by_rule(group: GroupReview, rule: KeeperRule, folder: str) -> str:
    members = group.members
    references = [m for m in members if m.reference]
    if references:
        return references[0].path
    if rule == "resolution":
        return max(members, key=lambda m: (m.info.pixels, m.size)).path
    if rule == "oldest":
        return min(members, key=lambda m: (m.mtime_ns, m.path)).path
    prefix = folder.rstrip(os.sep) + os.sep
    inside = [m for m in members if m.path.startswith(prefix)]
    return inside[0].path if inside else group.keep


def _split_part(group: GroupReview, paths: set[str]) -> GroupReview:
    """A group made by hand: the reference file, else the highest resolution, is kept; what
    the user excluded or protected in the old group stays so in its part."""
    members = [m for m in group.members if m.path in paths]
    keeper = max(members, key=lambda m: (m.reference, m.info.pixels, m.size))
    ordered = (keeper, *[m for m in members if m is not keeper])
    return GroupReview(
        Group(keeper.path, SPLIT_REASON, ordered),
        keeper.path,
        excluded=group.excluded & paths,
        protected=group.protected & paths,
    )


def _settled(group: GroupReview, trashed: Collection[str]) -> bool:
    return all(
        m.path == group.keep or m.path in trashed or m.reference or m.path in group.protected
        for m in group.members
    )


# A report's choice names files by path only; nothing of the picture is known here.
_UNKNOWN_PICTURE = ImageInfo(width=0, height=0, format="")


def _from_choice(choice: GroupChoice) -> GroupReview:
    members = tuple(
        Member(
            path=p,
            probability=1.0,
            reason="",
            reference=False,
            size=0,
            info=_UNKNOWN_PICTURE,
            overlapping=p in choice.overlapping,
        )
        for p in choice.members
    )
    return GroupReview(
        Group(choice.keep, "kept as the report says", members),
        choice.keep,
        protected=choice.reference,
    )
