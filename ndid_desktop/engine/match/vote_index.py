"""The keypoint-vote index, kept in the feature cache from one scan to the next.

Each picture's query descriptors (QUERIED, a stride through its upright ORB keypoints) are looked
up in one inverted file (faiss IndexBinaryIVF) of every picture's indexed descriptors (INDEXED,
another stride); what keypoint_votes counts is, per query, its NEIGHBOURS nearest indexed
descriptors and the pictures they belong to.

Training, filling and querying that index was most of what a re-scan cost (15 of 18 s on 2,500
pictures), so the feature cache keeps the index, each picture's neighbours and the inverted
lists each of its queries probed, under the settings below and the verifier's features key, each
picture under its identity (path, size, mtime, fingerprint). A scan then:

- with the same pictures, reads the neighbours and builds and queries nothing;
- with pictures added or removed, keeps the trained quantizer: takes the gone pictures'
  descriptors out and puts the new ones' in; queries the new pictures against the whole index
  and, again, those with a gone picture's descriptor within MAX_DISTANCE among their neighbours
  (one farther cannot change a vote: it is left as a hole); and looks every other picture's
  queries up among the new descriptors only, in the lists it probed before (search_preassigned),
  merging what it finds with the neighbours it had. That is what a full build on the same
  quantizer finds, but for the order of equal distances. A fresh build differs from it only by
  where its own k-means puts the lists (the IVF approximation: a query sees the descriptors in
  the PROBES lists nearest it);
- builds afresh when the pictures holding descriptors are more than GROWTH times, or fewer than
  1/GROWTH of, those the index was trained on, so that lists stay near LIST_SIZE.

Measured on 685 files (benchmarks/bench_scale.py --sizes 600 --max-mp 2, this loaded 2-core
machine): the candidates stage of a re-scan 15.6 s -> 0.5 s, of a re-scan after adding 20 files
10.5 s -> 1.5 s. Adding 20 to 665 pictures gave exactly the votes of a full build on the kept
quantizer (264 pairs); a fresh build shares 238 of its 261 pairs with them, as two fresh builds
from different training samples share 244. The state costs ~18 KB a picture in the cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.features.cache import (
    FeatureCache,
    VoteRow,
    VoteWrite,
    entry_identity,
)
from ndid_desktop.engine.features.local import DESCRIPTOR_BYTES, LocalFeatures
from ndid_desktop.engine.types import FileEntry

INDEXED = 128  # descriptors per picture in the index (a stride through all its keypoints)
QUERIED = 400  # descriptors per picture looked up (a stride through all its keypoints)
NEIGHBOURS = 3  # nearest indexed descriptors kept per query
LIST_SIZE = 256  # indexed descriptors per inverted list, on average: the coarse search of
# each query costs one comparison per list, the list scan LIST_SIZE per probe
TRAINING = 40  # descriptors per list the inverted file's k-means trains on (a sample)
PROBES = 8  # inverted lists searched per query
MAX_DISTANCE = 56  # Hamming bits (of 256) for a match to vote (keypoint_votes): a gone picture's
# descriptor farther than this from a query can be dropped from its neighbours without a search
GROWTH = 2  # build afresh beyond this factor of the trained size, either way
LAYOUT = 1  # of the cached rows: bump when their bytes change
SETTINGS = (
    f"I{INDEXED} Q{QUERIED} N{NEIGHBOURS} L{LIST_SIZE} T{TRAINING} P{PROBES} D{MAX_DISTANCE}"
    f" v{LAYOUT}"
)
# Below this many descriptors a faiss call runs on one thread: starting OpenMP's threads costs
# more than the work, and on a loaded machine the second thread stalled 8,000 queries for 4.7 s
# (0.02 s on one). A scan's whole query batch (400 a picture) keeps them all.
ONE_THREAD = 50_000
_BITS = DESCRIPTOR_BYTES * 8
_FAR = np.iinfo(np.uint16).max  # the distance stored for "no neighbour"
_Index = Any  # a faiss IndexBinaryIVF: faiss is imported when first needed, so untyped here


@dataclass(frozen=True)
class Neighbours:
    """For each query descriptor of one picture, its NEIGHBOURS nearest indexed descriptors,
    nearest first: the picture (or member) each belongs to, -1 for none, and the distance."""

    owners: NDArray[np.int64]  # (queries, NEIGHBOURS)
    distances: NDArray[np.int64]  # (queries, NEIGHBOURS) Hamming bits

    def to_bytes(self) -> bytes:
        return self.owners.astype("<i4").tobytes() + self.distances.astype("<u2").tobytes()

    @staticmethod
    def from_bytes(data: bytes) -> Neighbours:
        rows = len(data) // (6 * NEIGHBOURS)
        owners = np.frombuffer(data, "<i4", rows * NEIGHBOURS).reshape(rows, NEIGHBOURS)
        distances = np.frombuffer(data, "<u2", rows * NEIGHBOURS, offset=4 * rows * NEIGHBOURS)
        return Neighbours(
            owners.astype(np.int64), distances.reshape(rows, NEIGHBOURS).astype(np.int64)
        )


def settings_key(features_key: str) -> str:
    """What the cached state is kept under: everything its bytes depend on."""
    return f"{features_key} {SETTINGS}"


def sample(descriptors: NDArray[np.uint8], count: int) -> NDArray[np.uint8]:
    """``count`` descriptors at a regular stride (all of them when there are fewer)."""
    step = max(1, len(descriptors) // count)
    return descriptors[::step][:count]


def nearest(
    entries: Sequence[FileEntry],
    fingerprints: Sequence[str],
    pictures: Sequence[int],
    cache: FeatureCache,
    features_key: str,
) -> dict[int, Neighbours]:
    """The neighbours of each of ``pictures`` (indices into ``entries``) that has local features
    with descriptors, their owners as picture indices; taken from the cache where it can be."""
    wanted = {
        i: entry_identity(entries[i], fingerprints[i] if i < len(fingerprints) else "")
        for i in pictures
    }
    run = _Run(entries, cache, features_key, wanted)
    found = run.members()
    picture_of = {m: run.picture_of[identity] for m, (identity, _) in run.live.items()}
    return {picture_of[m]: _as_pictures(n, picture_of) for m, n in found.items()}


def _as_pictures(found: Neighbours, picture_of: dict[int, int]) -> Neighbours:
    if not picture_of:
        return Neighbours(np.full_like(found.owners, -1), found.distances)
    members = np.array(sorted(picture_of), dtype=np.int64)
    pictures = np.array([picture_of[m] for m in members.tolist()], dtype=np.int64)
    at = np.clip(np.searchsorted(members, found.owners), 0, len(members) - 1)
    known = (found.owners >= 0) & (members[at] == found.owners)
    return Neighbours(np.where(known, pictures[at], -1), found.distances)


class _Run:
    """One reconciliation of the cached state with a scan's pictures. Members are numbered
    upwards and never reused, so rows of two states can never be taken for each other."""

    def __init__(
        self,
        entries: Sequence[FileEntry],
        cache: FeatureCache,
        features_key: str,
        wanted: dict[int, bytes],
    ) -> None:
        self.entries, self.cache, self.key = entries, cache, features_key
        self.settings = settings_key(features_key)
        self.state = cache.lookup_vote_state(self.settings)
        self.identity_of = wanted
        self.picture_of = {identity: i for i, identity in wanted.items()}
        stored = self.state.members if self.state is not None else {}
        self.old = {
            m: Neighbours.from_bytes(n) for m, (i, n) in stored.items() if i in self.picture_of
        }
        self.gone = {m for m, (i, _) in stored.items() if i not in self.picture_of}
        # A member was indexed when it has neighbours (every indexed picture is queried).
        self.gone_indexed = {m for m in self.gone if len(stored[m][1])}
        self.next = self.state.next_member if self.state is not None else 0
        self.live = {m: stored[m] for m in self.old}
        known = {identity for identity, _ in stored.values()}
        self.new = [i for i, identity in wanted.items() if identity not in known]

    def members(self) -> dict[int, Neighbours]:
        """The neighbours of every live member with descriptors, by member."""
        loaded = _load(self.entries, self.new, self.cache, self.key)
        new = {self._number(i): d for i, d in loaded.items()}
        indexed = {m: d for m, d in new.items() if len(d)}
        if not indexed and not self.gone_indexed:
            self._store({m: _empty() for m in new}, {}, None)
            return {m: n for m, n in self.old.items() if len(n.owners)}
        held = len(self._indexed_old()) + len(indexed)
        trained = self.state.trained if self.state is not None else 0
        cached = self.cache.lookup_vote_index(self.settings, self._indexed_old())
        if (
            cached is None
            or not trained / GROWTH <= held <= trained * GROWTH
            or not all(cached[1].get(m) for m in self._indexed_old())
        ):
            return self._rebuild()
        return self._update(cached, new, indexed)

    def _number(self, picture: int) -> int:
        member = self.next
        self.next += 1
        self.live[member] = (self.identity_of[picture], b"")
        return member

    def _indexed_old(self) -> list[int]:
        return [m for m, n in self.old.items() if len(n.owners)]

    def _rebuild(self) -> dict[int, Neighbours]:
        """Every picture's descriptors, a fresh index, every picture queried."""
        pictures = [self.picture_of[identity] for identity, _ in self.live.values()]
        descriptors = _load(self.entries, pictures, self.cache, self.key)
        self.live = {}
        members = {self._number(i): d for i, d in descriptors.items()}
        indexed = {m: d for m, d in members.items() if len(d)}
        found = {m: _empty() for m in members}
        if len(indexed) < 2:  # nothing to vote for; the state remembers who has no votes
            self._store(found, {}, b"", trained=len(indexed))
            return {}
        index = build_index(indexed)
        queried = _query(index, {m: sample(d, QUERIED) for m, d in indexed.items()})
        found.update({m: n for m, (n, _) in queried.items()})
        probes = _probe_bytes(index, queried)
        self._store(found, probes, _serialise(index), trained=len(indexed))
        return {m: found[m] for m in indexed}

    def _update(
        self,
        cached: tuple[bytes, dict[int, bytes]],
        new: dict[int, NDArray[np.uint8]],
        indexed: dict[int, NDArray[np.uint8]],
    ) -> dict[int, Neighbours]:
        """The trained index with the gone pictures out and the new ones in (module doc)."""
        index = _deserialise(cached[0])
        if self.gone_indexed:
            index.remove_ids(_ids_of(self.gone_indexed))
        _add(index, indexed)
        old = self._indexed_old()
        again, patched = self._forget(old)
        others = [m for m in old if m not in again] if indexed else []
        loaded = self._descriptors([*again, *others])
        if len(loaded) < len(again) + len(others):  # local features gone from the cache
            return self._rebuild()
        probes_of = _probes(index, {m: cached[1][m] for m in [*again, *others]})
        queried = _query(index, {m: sample(d, QUERIED) for m, d in indexed.items()})
        queried.update(_query(index, {m: sample(loaded[m], QUERIED) for m in again}, probes_of))
        changed = {m: n for m, (n, _) in queried.items()}
        probes = _probe_bytes(index, queried)
        kept = {m: self.old[m] for m in patched}
        if indexed:
            kept.update(_merged_with_new(index, indexed, others, loaded, self.old, probes_of))
        changed.update(kept)
        probes.update({m: cached[1][m] for m in kept})
        rows = {**{m: _empty() for m in new if m not in indexed}, **changed}
        self._store(rows, probes, _serialise(index))
        found = {**{m: self.old[m] for m in old}, **changed}
        return {m: found[m] for m in [*old, *indexed]}

    def _forget(self, old: Sequence[int]) -> tuple[set[int], set[int]]:
        """The old members to query again (a gone picture was one of their neighbours within
        MAX_DISTANCE: the next one must be found) and those whose gone neighbours were all
        farther (then no vote can change: they become holes, "none" at that distance)."""
        gone = np.array(sorted(self.gone_indexed), dtype=np.int64)
        again: set[int] = set()
        patched: set[int] = set()
        for m in old:
            found = self.old[m]
            hit = np.isin(found.owners, gone)
            if (hit & (found.distances <= MAX_DISTANCE)).any():
                again.add(m)
            elif hit.any():
                self.old[m] = Neighbours(np.where(hit, -1, found.owners), found.distances)
                patched.add(m)
        return again, patched

    def _descriptors(self, members: Sequence[int]) -> dict[int, NDArray[np.uint8]]:
        pictures = {self.picture_of[self.live[m][0]]: m for m in members}
        loaded = _load(self.entries, list(pictures), self.cache, self.key)
        return {pictures[i]: d for i, d in loaded.items()}

    def _store(
        self,
        rows: dict[int, Neighbours],
        probes: dict[int, bytes],
        index: bytes | None,
        trained: int | None = None,
    ) -> None:
        """Write ``rows`` and the new live set; ``trained`` is given by (only) a rebuild."""
        if not rows and not self.gone and trained is None:
            return
        write = VoteWrite(
            trained=trained if trained is not None else (self.state.trained if self.state else 0),
            next_member=self.next,
            live=tuple(sorted(self.live)),
            rows=tuple(
                VoteRow(m, self.live[m][0], n.to_bytes(), probes.get(m, b""))
                for m, n in rows.items()
            ),
            index=index,
            rebuilt=trained is not None,
            base=self.state.next_member if self.state is not None else None,
        )
        self.cache.store_vote_state(self.settings, write)


def _empty() -> Neighbours:
    return Neighbours(np.zeros((0, NEIGHBOURS), np.int64), np.zeros((0, NEIGHBOURS), np.int64))


def _load(
    entries: Sequence[FileEntry], pictures: Sequence[int], cache: FeatureCache, key: str
) -> dict[int, NDArray[np.uint8]]:
    """The upright descriptors of the pictures with cached local features (maybe none)."""
    if not pictures:
        return {}
    found = cache.lookup_local([entries[i] for i in pictures], key)
    return {
        i: LocalFeatures.from_bytes(found[entries[i].path]).upright.descriptors
        for i in pictures
        if entries[i].path in found
    }


def build_index(descriptors: dict[int, NDArray[np.uint8]]) -> _Index:
    """A trained inverted file holding each member's indexed sample (ids from _ids_of)."""
    import faiss

    data = np.concatenate([sample(d, INDEXED) for d in descriptors.values()])
    lists = max(1, len(data) // LIST_SIZE)
    quantizer = faiss.IndexBinaryFlat(_BITS)
    index = faiss.IndexBinaryIVF(quantizer, _BITS, lists)
    rng = np.random.default_rng(0)  # the same sample every run: the same candidates
    chosen = rng.choice(len(data), size=min(len(data), TRAINING * lists), replace=False)
    index.train(np.ascontiguousarray(data[np.sort(chosen)]))
    _add(index, descriptors)
    index.nprobe = min(PROBES, lists)
    return index


def _add(index: _Index, descriptors: dict[int, NDArray[np.uint8]]) -> None:
    if not descriptors:
        return
    samples = [sample(d, INDEXED) for d in descriptors.values()]
    data = np.ascontiguousarray(np.concatenate(samples))
    ids = np.concatenate(
        [
            m * INDEXED + np.arange(len(s), dtype=np.int64)
            for m, s in zip(descriptors, samples, strict=True)
        ]
    )
    with _threads_for(len(data)):
        index.add_with_ids(data, ids)


def _ids_of(members: Iterable[int]) -> NDArray[np.int64]:
    return np.concatenate([m * INDEXED + np.arange(INDEXED, dtype=np.int64) for m in members])


def _query(
    index: _Index,
    queries: dict[int, NDArray[np.uint8]],
    probes_of: dict[int, NDArray[np.int64]] | None = None,
) -> dict[int, tuple[Neighbours, NDArray[np.int64]]]:
    """Each member's queries against ``index`` in one search (one call: faiss's threads cost
    more to start than 400 queries take), in the lists ``probes_of`` says or the nearest."""
    if not queries:
        return {}
    data = np.ascontiguousarray(np.concatenate(list(queries.values())))
    with _threads_for(len(data)):
        if probes_of is None:
            _, probes = index.quantizer.search(data, index.nprobe)
        else:
            probes = np.concatenate([probes_of[m] for m in queries])
        distances, ids = index.search_preassigned(data, NEIGHBOURS, probes, None)
    owners = np.where(ids >= 0, ids // INDEXED, -1)
    bounds = np.cumsum([0, *(len(q) for q in queries.values())]).tolist()
    return {
        m: (
            Neighbours(owners[a:b], np.minimum(distances[a:b], _FAR).astype(np.int64)),
            probes[a:b].astype(np.int64),
        )
        for m, a, b in zip(queries, bounds, bounds[1:], strict=False)
    }


@contextmanager
def _threads_for(items: int) -> Iterator[None]:
    """faiss on one OpenMP thread for fewer than ONE_THREAD items; the calling thread's setting
    is put back afterwards (as verify._two_nearest does)."""
    import faiss

    threads = faiss.omp_get_max_threads()
    if items < ONE_THREAD:
        faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def _merged_with_new(
    index: _Index,
    indexed: dict[int, NDArray[np.uint8]],
    others: Sequence[int],
    loaded: dict[int, NDArray[np.uint8]],
    old: dict[int, Neighbours],
    probes_of: dict[int, NDArray[np.int64]],
) -> dict[int, Neighbours]:
    """The old members' neighbours among the new descriptors (the lists they probed before)
    merged into those they had; only the members whose neighbours changed."""
    import faiss

    small = faiss.IndexBinaryIVF(index.quantizer, _BITS, index.nlist)
    small.nprobe = index.nprobe
    _add(small, indexed)
    found = _query(small, {m: sample(loaded[m], QUERIED) for m in others}, probes_of)
    changed: dict[int, Neighbours] = {}
    for m, (near, _) in found.items():
        merged = _merge(old[m], near)
        if not np.array_equal(merged.owners, old[m].owners):
            changed[m] = merged
    return changed


def _merge(a: Neighbours, b: Neighbours) -> Neighbours:
    """The NEIGHBOURS nearest of both, ``a``'s first where distances are equal (a hole keeps
    its place: what it stands for was at least that far)."""
    owners = np.concatenate([a.owners, b.owners], axis=1)
    distances = np.concatenate([a.distances, b.distances], axis=1)
    order = np.argsort(distances, axis=1, kind="stable")
    order = order[:, :NEIGHBOURS]
    return Neighbours(
        np.take_along_axis(owners, order, axis=1), np.take_along_axis(distances, order, axis=1)
    )


def _probe_dtype(lists: int) -> str:
    return "<u2" if lists <= 1 << 16 else "<i4"


def _probe_bytes(
    index: _Index, queried: dict[int, tuple[Neighbours, NDArray[np.int64]]]
) -> dict[int, bytes]:
    width = _probe_dtype(index.nlist)
    return {m: probes.astype(width).tobytes() for m, (_, probes) in queried.items()}


def _deserialise(data: bytes) -> _Index:
    import faiss

    index: _Index = faiss.deserialize_index_binary(np.frombuffer(data, np.uint8))
    index.nprobe = min(PROBES, index.nlist)
    return index


def _probes(index: _Index, stored: dict[int, bytes]) -> dict[int, NDArray[np.int64]]:
    """The lists each member's queries probed, as _probe_bytes stored them."""
    width = _probe_dtype(index.nlist)
    return {
        m: np.frombuffer(data, width).reshape(-1, index.nprobe).astype(np.int64)
        for m, data in stored.items()
    }


def _serialise(index: _Index) -> bytes:
    import faiss

    return bytes(faiss.serialize_index_binary(index))
