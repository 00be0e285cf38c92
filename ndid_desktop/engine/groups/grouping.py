"""Stage 6: groups from accepted pairs, without chaining unrelated pictures together.

Plain union-find would let A~B and B~C put A and C in one group although A and C do not match
(a burst of similar shots, a series of crops). Here every member must itself match the group's
keeper: components are only where to look, and each group is a keeper plus the files that match
it above the threshold. Files left over form their own groups the same way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ndid_desktop.engine.groups.derivation import Candidate, DirectionModel, GeometryFn
from ndid_desktop.engine.groups.keeper import choose_keeper, keeper_choice


@dataclass(frozen=True)
class RawGroup:
    keeper: int
    reason: str
    members: tuple[int, ...]  # without the keeper, best match first
    overlapping: frozenset[int] = frozenset()  # members the keeper does not hold: kept too
    # Members that joined through another member, not the keeper: (file, the member it matches)
    joined: tuple[tuple[int, int], ...] = ()


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
    model: DirectionModel,
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
            group = _next_group(
                candidates, remaining, neighbours, probability, threshold, geometry, model
            )
            if group.members:
                groups.append(group)
            remaining -= {group.keeper, *group.members}
    return _merge_fragments(groups, candidates, neighbours, probability, geometry, model)


# A fragment (a group without the original, or a file left alone) joins the group its files
# match at least this many times and far more often than any other group: measured on the
# held-apart dev photos, fragments of the same picture link to their group 1-24 times, those
# of look-alike pictures 1-4 times, and then as often to a second group.
MIN_LINKS = 2
DOMINANT = 3
MERGE_PASSES = 3
# ... and only when the group is this many times its size: two whole groups of look-alike
# pictures, each with its copies, link to each other as often as a fragment to its own group.
FRAGMENT_SHARE = 3


@dataclass
class _Fragment:
    keeper: int
    files: list[int]  # the keeper first
    via: dict[int, int]  # joined file -> the file it matches inside this group


def _merge_fragments(
    groups: list[RawGroup],
    candidates: Sequence[Candidate],
    neighbours: dict[int, set[int]],
    probability: Callable[[int, int], float],
    geometry: GeometryFn,
    model: DirectionModel,
) -> list[RawGroup]:
    """Each copy of a picture in one group with its original: a fragment whose files match one
    group's members (not its keeper, or they would be members) and hardly any other group's
    joins it. The guard against chaining stays: a fragment between two groups, or linked once,
    stays apart, and a joined file is kept ("overlapping") unless its overlap with the keeper
    was measured and the keeper holds it."""
    frags = {n: _Fragment(g.keeper, [g.keeper, *g.members], {}) for n, g in enumerate(groups)}
    home = {i: n for n, f in frags.items() for i in f.files}
    loners = sorted({j for i in home for j in neighbours[i]} - set(home))
    for k, i in enumerate(loners, start=1):
        frags[-k] = _Fragment(i, [i], {})
        home[i] = -k
    for _ in range(MERGE_PASSES):
        moved = False
        for n in sorted(frags, key=lambda n: len(frags[n].files)):
            target = _home_of(frags[n], n, frags, home, neighbours, candidates)
            if target is None:
                continue
            _move(frags.pop(n), frags[target], target, home, neighbours, probability)
            moved = True
        if not moved:
            break
    by_keeper = {f.keeper: f for f in frags.values()}
    return [
        _with_joined(g, by_keeper[g.keeper], candidates, geometry, model)
        for g in groups
        if g.keeper in by_keeper
    ]


def _home_of(
    fragment: _Fragment,
    n: int,
    frags: dict[int, _Fragment],
    home: dict[int, int],
    neighbours: dict[int, set[int]],
    candidates: Sequence[Candidate],
) -> int | None:
    if any(candidates[i].entry.reference for i in fragment.files):
        return None  # a reference file stays a keeper
    links = Counter(
        home[j] for i in fragment.files for j in neighbours[i] if home.get(j, n) != n
    ).most_common(2)
    if not links:
        return None
    target, count = links[0]
    second = links[1][1] if len(links) > 1 else 0
    if count < MIN_LINKS or count < DOMINANT * second or target < 0:
        return None
    return target if len(frags[target].files) >= FRAGMENT_SHARE * len(fragment.files) else None


def _move(
    fragment: _Fragment,
    into: _Fragment,
    target: int,
    home: dict[int, int],
    neighbours: dict[int, set[int]],
    probability: Callable[[int, int], float],
) -> None:
    inside = set(into.files)
    for i in fragment.files:
        direct = [j for j in neighbours[i] if j in inside]
        # Described against the member it matches, else against its old keeper (or what it
        # had joined through), which it was grouped by.
        if direct:
            into.via[i] = max(direct, key=lambda j: probability(i, j))
        elif i in fragment.via or i != fragment.keeper:
            into.via[i] = fragment.via.get(i, fragment.keeper)
        else:  # the old keeper itself: through the best of its own members
            own = [j for j in fragment.files if j != i]
            into.via[i] = max(own, key=lambda j: probability(i, j))
    into.files += fragment.files
    for i in fragment.files:
        home[i] = target


def _with_joined(
    group: RawGroup,
    fragment: _Fragment,
    candidates: Sequence[Candidate],
    geometry: GeometryFn,
    model: DirectionModel,
) -> RawGroup:
    if not fragment.via:
        return group
    keeper = candidates[group.keeper]
    files = [i for i in fragment.files if i in fragment.via]
    everyone = [keeper, *(candidates[m] for m in (*group.members, *files))]
    choice = keeper_choice(keeper, everyone, geometry, model)
    # Held only when measured: a file that did not match the keeper itself stays unless the
    # keypoint check showed the keeper holds it.
    unmeasured = {i for i in files if geometry(group.keeper, i) is None}
    return RawGroup(
        group.keeper,
        choice.reason,
        (*group.members, *files),
        choice.overlapping | unmeasured,
        tuple((i, fragment.via[i]) for i in files),
    )


def _next_group(
    candidates: Sequence[Candidate],
    remaining: set[int],
    neighbours: dict[int, set[int]],
    probability: Callable[[int, int], float],
    threshold: float,
    geometry: GeometryFn,
    model: DirectionModel,
) -> RawGroup:
    # The hub (the file with the most matches left) finds the group: an original matches each
    # of its copies, while two copies of it may not match each other. The keeper is then
    # chosen by the keeper rule, and only files that match the keeper itself stay.
    hub = min(
        remaining,
        key=lambda i: (-len(neighbours[i] & remaining), -candidates[i].info.pixels, i),
    )

    def matches(keeper: int, pool: set[int]) -> list[int]:
        found = [m for m in pool if m != keeper and probability(keeper, m) >= threshold]
        return sorted(found, key=lambda m: (-probability(keeper, m), m))

    star = matches(hub, neighbours[hub] & remaining)
    if not star:
        return RawGroup(hub, "", ())  # nothing matches it: it leaves the pool alone
    chosen = choose_keeper([candidates[i] for i in (hub, *star)], geometry, model)
    keeper = chosen.index
    # Only the hub's star: the keeper's other matches are left to _merge_fragments, whose guard
    # is stronger than one accepted pair (a look-alike picture's copies, accepted against the
    # keeper one by one, would otherwise all join it).
    members = star if keeper == hub else matches(keeper, {hub, *star})
    # A second reference file is never a duplicate to clean: it forms its own group later.
    members = [m for m in members if not candidates[m].entry.reference]
    # The reason and the overlap are said of the members the group ends with.
    final = keeper_choice(chosen, [chosen, *(candidates[m] for m in members)], geometry, model)
    return RawGroup(keeper, final.reason, tuple(members), final.overlapping)
