"""What grouping will ask before it runs, so that it only reads decisions.

Grouping puts a file in a group only if it matches the group's keeper, and the keeper rule
compares how the members overlap. Both look at pairs inside one connected component of
accepted pairs, and some of those were never candidates (two copies of one original, each
found only through it), or were accepted by the cheap stage without the keypoint check that
measures overlap. This stage lists them: the missing pairs go through the cheap stage and the
second look like any other; the accepted ones without geometry get the keypoint check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ndid_desktop.engine.groups.grouping import components
from ndid_desktop.engine.match.decisions import Decisions

# A component this large is a chain of look-alikes (a burst, a series) more than one picture:
# only its best-connected files are paired with the rest, not every pair in it.
FULL_COMPONENT = 64
HUBS = 4


@dataclass(frozen=True)
class Completion:
    new_pairs: tuple[tuple[int, int], ...]  # never scored: cheap stage, then second look if in band
    needs_geometry: tuple[tuple[int, int], ...]  # accepted without overlap measured


def complete_for_grouping(n: int, decisions: Decisions, scored: set[tuple[int, int]]) -> Completion:
    """``scored`` holds every pair the cheap stage already scored (kept in ``decisions`` or
    not), so that a pair rejected once is not scored again."""
    accepted = decisions.accepted()
    new_pairs: set[tuple[int, int]] = set()
    for component in components(n, accepted):
        for pair in _pairs_within(component, accepted):
            if pair not in scored:
                new_pairs.add(pair)
    needs_geometry = [
        (a, b) for a, b in accepted if decisions.pairs[(a, b)].signals.coverage_ab is None
    ]
    return Completion(tuple(sorted(new_pairs)), tuple(needs_geometry))


def _pairs_within(
    component: Sequence[int], accepted: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    members = sorted(component)
    if len(members) <= FULL_COMPONENT:
        return [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]
    inside = set(members)
    degree = Counter(i for pair in accepted for i in pair if i in inside)
    hubs = [i for i, _ in degree.most_common(HUBS)]
    return sorted({(min(h, m), max(h, m)) for h in hubs for m in members if m != h})
