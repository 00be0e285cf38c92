"""The report's groups: the grouping's indices turned into members with their probability,
reason and evidence, and each representative's identical copies added back."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ndid_desktop.engine.features.extract import FeatureSet
from ndid_desktop.engine.groups.explain import describe_edit, pair_reason
from ndid_desktop.engine.groups.grouping import RawGroup
from ndid_desktop.engine.groups.identical import Collapsed, IdenticalCopy
from ndid_desktop.engine.match.decisions import Decisions
from ndid_desktop.engine.types import Group, Member


def report_groups(
    raw: Sequence[RawGroup], features: FeatureSet, decisions: Decisions, collapsed: Collapsed
) -> tuple[Group, ...]:
    copies = collapsed.copies_of()
    grouped = {i for g in raw for i in (g.keeper, *g.members)}
    groups = [_group(g, features, decisions, copies) for g in raw]
    # Identical files whose representative matched nothing else: a group of their own.
    for rep in sorted(set(copies) - grouped):
        alone = _identical_group(rep, features, copies[rep])
        if alone is not None:
            groups.append(alone)
    return tuple(sorted(groups, key=lambda g: g.keep))


def _member(
    features: FeatureSet,
    i: int,
    probability: float,
    reason: str,
    signals: dict[str, object],
    overlapping: bool = False,
) -> Member:
    entry = features.entries[i]
    return Member(
        path=entry.path,
        probability=round(probability, 4),
        reason=reason,
        reference=entry.reference,
        size=entry.size,
        info=features.infos[i],
        signals=signals,
        mtime_ns=entry.mtime_ns,
        fingerprint=features.fingerprints[i],
        overlapping=overlapping,
    )


def _group(
    raw: RawGroup,
    features: FeatureSet,
    decisions: Decisions,
    copies: dict[int, list[IdenticalCopy]],
) -> Group:
    k = raw.keeper
    members = [_member(features, k, 1.0, raw.reason, {})]
    members += _copies(features, copies.get(k, []), k, 1.0)
    via = dict(raw.joined)
    for m in raw.members:
        # A file that joined through another member is described against that member.
        other = via.get(m, k)
        pair = decisions.get(other, m)
        signals = decisions.signals_from(other, m)
        assert pair is not None and signals is not None  # grouping only joins decided pairs
        p = pair.decision.probability
        overlapping = m in raw.overlapping
        reason = pair_reason(
            signals, p, features.infos[other], features.infos[m], pair.decision.gated
        )
        if other != k:
            name = os.path.basename(features.entries[other].path)
            reason = reason.replace("same picture (", f"same picture as {name} (", 1)
        if overlapping:
            reason += "; overlapping: the keeper does not hold all of it, so both are kept"
        evidence = {**signals.as_dict(), "gated": pair.decision.gated, "stage": pair.decision.stage}
        # How it differs from the member it matched, in short phrases the cards show.
        evidence["edits"] = describe_edit(signals, features.infos[other], features.infos[m], True)
        if other != k:  # the probability and signals are against that member, not the keeper
            evidence["through"] = features.entries[other].path
        members.append(_member(features, m, p, reason, evidence, overlapping))
        members += _copies(features, copies.get(m, []), m, p)
    # A second reference file is never a duplicate to clean (see grouping).
    kept = [members[0], *(x for x in members[1:] if not x.reference)]
    return Group(keep=members[0].path, reason=raw.reason, members=tuple(kept))


def _copies(
    features: FeatureSet, copies: Sequence[IdenticalCopy], of: int, probability: float
) -> list[Member]:
    name = os.path.basename(features.entries[of].path)
    return [
        _member(features, c.index, probability, f"{c.kind} to {name}", {"identical": c.kind})
        for c in copies
    ]


def _identical_group(
    rep: int, features: FeatureSet, copies: Sequence[IdenticalCopy]
) -> Group | None:
    entry = features.entries[rep]
    reason = (
        "kept: it is in a reference folder, which is never cleaned"
        if entry.reference
        else "kept: the files are identical; the oldest (ties broken by path)"
    )
    members = [_member(features, rep, 1.0, reason, {})]
    members += [m for m in _copies(features, copies, rep, 1.0) if not m.reference]
    if len(members) < 2:
        return None
    return Group(keep=entry.path, reason=reason, members=tuple(members))
