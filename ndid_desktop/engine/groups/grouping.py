"""Stage 6: groups from accepted pairs, without chaining unrelated pictures together.

Plain union-find would let A~B and B~C put A and C in one group although A and C do not match
(a burst of similar shots, a series of crops). Here every member must itself match the group's
keeper: components are only where to look, and each group is a keeper plus the files that match
it above the threshold. Files left over form their own groups the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ndid_desktop.engine.groups.keeper import (
    Candidate,
    GeometryFn,
    choose_keeper,
    keeper_reason,
    static_key,
)


@dataclass(frozen=True)
class RawGroup:
    keeper: int
    reason: str
    members: tuple[int, ...]  # without the keeper, best match first


def components(n: int, edges: Sequence[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    touched = {i for edge in edges for i in edge}
    for i in sorted(touched):
        groups[find(i)].append(i)
    return [g for g in groups.values() if len(g) > 1]


def build_groups(
    candidates: Sequence[Candidate],
    edges: Sequence[tuple[int, int]],
    probability: Callable[[int, int], float],
    threshold: float,
    geometry: GeometryFn,
) -> list[RawGroup]:
    """Groups where each member matches the keeper with ``probability(keeper, m) >= threshold``.

    ``edges`` are the accepted pairs (indices into ``candidates``); pairs outside them are scored
    only between a keeper and the members of its own star, never all pairs of a component.
    """
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    groups: list[RawGroup] = []
    for component in components(len(candidates), edges):
        remaining = set(component)
        while len(remaining) > 1:
            group = _next_group(candidates, remaining, neighbours, probability, threshold, geometry)
            if group.members:
                groups.append(group)
            remaining -= {group.keeper, *group.members}
    return groups


def _next_group(
    candidates: Sequence[Candidate],
    remaining: set[int],
    neighbours: dict[int, set[int]],
    probability: Callable[[int, int], float],
    threshold: float,
    geometry: GeometryFn,
) -> RawGroup:
    # The hub (the file with the most matches left) finds the group: an original matches each
    # of its copies, while two copies of it may not match each other. The keeper is then
    # chosen by the keeper rule, and only files that match the keeper itself stay.
    hub = min(
        remaining,
        key=lambda i: (-len(neighbours[i] & remaining), static_key(candidates[i])),
    )

    def matches(keeper: int, pool: set[int]) -> list[int]:
        found = [m for m in pool if m != keeper and probability(keeper, m) >= threshold]
        return sorted(found, key=lambda m: (-probability(keeper, m), m))

    star = matches(hub, neighbours[hub] & remaining)
    if not star:
        return RawGroup(hub, "", ())  # nothing matches it: it leaves the pool alone
    keeper_candidate, _ = choose_keeper([candidates[i] for i in (hub, *star)], geometry)
    keeper = keeper_candidate.index
    members = star if keeper == hub else matches(keeper, {hub, *star})
    # A second reference file is never a duplicate to clean: it forms its own group later.
    members = [m for m in members if not candidates[m].entry.reference]
    group = [keeper_candidate, *(candidates[m] for m in members)]
    return RawGroup(keeper, keeper_reason(keeper_candidate, group, geometry), tuple(members))
