"""Identical files, collapsed before pairing: one representative per set of byte-identical
files (same content fingerprint) or pixel-identical ones (same decoded pixels, e.g. a copy with
its EXIF stripped). Only the representative is paired and scored; the others join its group.

The representative is the likeliest original among them: identical files tie on everything the
picture says, so a reference file first, then one that kept its EXIF (a pixel-identical copy
usually lost it), then the oldest, then the shortest path (a backup sits deeper)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.groups.derivation import Candidate

BYTES, PIXELS = "identical file", "identical pixels"


def identical_kind(
    fingerprints: tuple[str | None, str | None], pixel_digests: tuple[str | None, str | None]
) -> str | None:
    """The collapse rule for one pair: the same bytes, else the same pixels, else None."""
    if fingerprints[0] and fingerprints[0] == fingerprints[1]:
        return BYTES
    if pixel_digests[0] and pixel_digests[0] == pixel_digests[1]:
        return PIXELS
    return None


@dataclass(frozen=True)
class IdenticalCopy:
    index: int
    representative: int
    kind: str  # BYTES or PIXELS


@dataclass(frozen=True)
class Collapsed:
    representatives: NDArray[np.int64]  # ascending indices of the pictures that get paired
    copies: tuple[IdenticalCopy, ...]

    def copies_of(self) -> dict[int, list[IdenticalCopy]]:
        found: dict[int, list[IdenticalCopy]] = defaultdict(list)
        for copy in self.copies:
            found[copy.representative].append(copy)
        return found


def collapse_identical(
    candidates: Sequence[Candidate], fingerprints: Sequence[str], pixel_digests: Sequence[str]
) -> Collapsed:
    """``fingerprints[i]`` and ``pixel_digests[i]`` describe candidates[i]; "" means unknown
    and never matches anything. Same bytes or same pixels, transitively, make one set."""
    sets = _identical_sets(len(candidates), (fingerprints, pixel_digests))
    copies: list[IdenticalCopy] = []
    for members in sets:
        keep = min(members, key=lambda i: first_of_identical(candidates[i]))
        for i in members:
            if i != keep:
                same_bytes = bool(fingerprints[i]) and fingerprints[i] == fingerprints[keep]
                copies.append(IdenticalCopy(i, keep, BYTES if same_bytes else PIXELS))
    copied = {c.index for c in copies}
    reps = np.array([i for i in range(len(candidates)) if i not in copied], dtype=np.int64)
    return Collapsed(reps, tuple(sorted(copies, key=lambda c: c.index)))


def first_of_identical(c: Candidate) -> tuple[object, ...]:
    return (
        not c.entry.reference,
        not c.info.has_exif,
        c.entry.mtime_ns,
        len(c.entry.path),
        c.entry.path,
    )


def _identical_sets(n: int, keyings: Sequence[Sequence[str]]) -> list[list[int]]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for keys in keyings:
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key:
                j = first.setdefault(key, i)
                parent[find(i)] = find(j)
    found: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        found[find(i)].append(i)
    return [m for m in found.values() if len(m) > 1]


def keep_apart(collapsed: Collapsed, apart: Callable[[int, int], bool]) -> Collapsed:
    """Undoes collapses the user overruled ("not duplicates"): such a copy is paired and
    scored like any other file, and the verdict then scores the pair 0."""
    overruled = {c.index for c in collapsed.copies if apart(c.index, c.representative)}
    if not overruled:
        return collapsed
    reps = np.union1d(collapsed.representatives, np.array(sorted(overruled), dtype=np.int64))
    kept = tuple(c for c in collapsed.copies if c.index not in overruled)
    return Collapsed(reps.astype(np.int64), kept)
