"""Query an index: which indexed files are the same picture as each query image, with the
probability and the reason, decided by the scan's own stages.

Candidates come as a scan finds them (the embedding's top-k above the cosine floor, the pHash
radius in all eight orientations, and identical bytes or pixels); the pairs (query, candidate)
then go through the engine's cheap stage, second-look selection, keypoint check (from the
index's stored local features) and staged decision, unchanged. What a scan does not do here:
keypoint votes (crop and screenshot candidates proposed by shared ORB descriptors) and the
thorough set's gate encoder; a band pair without its gate cosine is decided "unverified", the
staged decision's one rule for a missing second look.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.cluster.models import IndexModels
from ndid_desktop.cluster.rows import FeatureRows, concat
from ndid_desktop.cluster.store import IndexStore
from ndid_desktop.engine.executors import ExecutorFactory, in_process
from ndid_desktop.engine.features.cache import CachedImage, FeatureCache
from ndid_desktop.engine.features.extract import FeatureSet
from ndid_desktop.engine.features.hashes import ORIENTATIONS
from ndid_desktop.engine.groups.explain import pair_reason
from ndid_desktop.engine.groups.identical import identical_kind
from ndid_desktop.engine.match.cheap import cheap_scores
from ndid_desktop.engine.match.decisions import Decisions, decide_pairs, scored_rows
from ndid_desktop.engine.match.second_look import Looker
from ndid_desktop.engine.match.selection import select_second_look
from ndid_desktop.engine.progress import CancelToken, null_progress


@dataclass(frozen=True)
class Match:
    path: str  # the indexed file
    probability: float
    stage: str  # "identical file", "identical pixels", or the staged decision's stage
    reason: str
    signals: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class QueryResult:
    query: str
    matches: tuple[Match, ...]  # accepted, likeliest first
    candidates: int  # indexed files the query's pairs were scored against
    error: str | None = None  # the query file could not be used
    related: tuple[Match, ...] = ()  # given a second look but not accepted (with --related)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "query": self.query,
            "matches": [m.to_json() for m in self.matches],
            "candidates": self.candidates,
        }
        if self.error is not None:
            data["error"] = self.error
        if self.related:
            data["related"] = [m.to_json() for m in self.related]
        return data


def candidates(
    store: IndexStore, queries: FeatureRows, k: int, min_cosine: float, radius: int
) -> list[set[int]]:
    """Index rows proposed for each query: as match/candidates.py proposes pairs in a scan."""
    found: list[set[int]] = [set() for _ in range(len(queries))]
    index_rows = store.rows
    if store.ann_index is not None and queries.embeddings is not None and len(index_rows):
        sims, ids = store.ann_index.search(
            np.ascontiguousarray(queries.embeddings), min(k, len(index_rows))
        )
        for q in range(len(queries)):
            found[q].update(
                int(i) for i, s in zip(ids[q], sims[q], strict=True) if i >= 0 and s >= min_cosine
            )
    if len(index_rows):
        for q, rows in enumerate(_hash_neighbours(store, queries.hashes, radius)):
            found[q].update(rows)
    for q in range(len(queries)):
        for table, key in (
            (store.by_fingerprint, queries.fingerprints[q]),
            (store.by_digest, queries.pixel_digests[q]),
        ):
            if key and key in table:
                found[q].add(table[key])
    return found


def _hash_neighbours(store: IndexStore, hashes: NDArray[np.uint8], radius: int) -> list[set[int]]:
    binary = store.hash_index()
    rows: list[set[int]] = [set() for _ in range(len(hashes))]
    for o in range(len(ORIENTATIONS)):
        # faiss keeps results strictly below the radius it is given (as candidates.py does).
        lims, _, ids = binary.range_search(np.ascontiguousarray(hashes[:, 0, o]), radius + 1)
        for q in range(len(hashes)):
            rows[q].update(int(i) for i in ids[lims[q] : lims[q + 1]])
    return rows


def query_rows(
    store: IndexStore,
    queries: FeatureRows,
    models: IndexModels,
    k: int | None = None,
    related: bool = False,
    executor: ExecutorFactory = in_process,
) -> list[QueryResult]:
    """Each query's matches among the indexed files."""
    store.check_models(models)
    config = models.config
    proposed = candidates(
        store, queries, k or config.knn_k, config.knn_min_cosine, config.hash_radius
    )
    picked = sorted(set().union(*proposed)) if proposed else []
    nq = len(queries)
    column = {row: nq + j for j, row in enumerate(picked)}
    both = concat([queries, _with_local(store, picked)], models.dim)
    pairs = np.array(
        [(q, column[r]) for q in range(nq) for r in sorted(proposed[q])], dtype=np.int64
    ).reshape(-1, 2)
    decisions = _decide(both, pairs, models, executor)
    results = []
    for q in range(nq):
        matches, others = _matches(q, sorted(proposed[q]), column, both, decisions, models)
        results.append(
            QueryResult(
                queries.entries[q].path,
                matches,
                len(proposed[q]),
                related=others if related else (),
            )
        )
    return results


def _with_local(store: IndexStore, picked: Sequence[int]) -> FeatureRows:
    part = store.rows.take(picked)
    if store.manifest.extractor:
        local = store.local_features(picked)
        part = FeatureRows(
            part.entries, part.infos, part.hashes, part.embeddings, part.fingerprints,
            part.pixel_digests, tuple(local.get(r, b"") for r in picked),
        )  # fmt: skip
    return part


def _decide(
    both: FeatureRows, pairs: NDArray[np.int64], models: IndexModels, executor: ExecutorFactory
) -> Decisions:
    """The scan's stages after candidates, on these pairs (a < b: queries come first)."""
    features = FeatureSet(
        both.entries, both.infos, both.hashes, both.embeddings, (), 0, 0,
        fingerprints=both.fingerprints, pixel_digests=both.pixel_digests,
    )  # fmt: skip
    decision, cancel = models.decision, CancelToken()
    scores = cheap_scores(features, pairs, decision, null_progress, cancel)
    selection = select_second_look(scores, decision, models.config.max_checks_per_image)
    band = {
        (int(scores.pairs[r][0]), int(scores.pairs[r][1])): scores.signals[r].orientation
        for r in selection.rows.tolist()
    }
    with FeatureCache(None) as cache:  # the stored local features, where the check reads them
        _fill(cache, both, models)
        looker = Looker(
            both.entries, cache, models.verifier, None, 1, executor, null_progress, cancel
        )
        looked = looker(band, sorted(band))
    return decide_pairs(scored_rows(scores), looked.look, decision, lambda a, b: False)


def _fill(cache: FeatureCache, rows: FeatureRows, models: IndexModels) -> None:
    images = [
        (e, CachedImage(i, h, None, f, d))
        for e, i, h, f, d in zip(rows.entries, rows.infos, rows.hashes, rows.fingerprints,
                                 rows.pixel_digests, strict=True)
    ]  # fmt: skip
    local = [(e.path, b) for e, b in zip(rows.entries, rows.local, strict=True) if b]
    cache.store(images, (), "", local, models.extractor_key)


def _matches(
    q: int, rows: Sequence[int], column: dict[int, int], both: FeatureRows, decisions: Decisions,
    models: IndexModels,
) -> tuple[tuple[Match, ...], tuple[Match, ...]]:  # fmt: skip
    accepted: list[Match] = []
    others: list[Match] = []
    threshold = models.decision.threshold
    for row in rows:
        c = column[row]
        path = both.entries[c].path
        same = identical_kind(
            (both.fingerprints[q], both.fingerprints[c]),
            (both.pixel_digests[q], both.pixel_digests[c]),
        )
        if same is not None:
            name = os.path.basename(both.entries[q].path)
            accepted.append(Match(path, 1.0, same, f"{same} to {name}", {"identical": same}))
            continue
        pair = decisions.get(q, c)
        signals = decisions.signals_from(c, q)
        if pair is None or signals is None:
            continue
        p = pair.decision.probability
        reason = pair_reason(signals, p, both.infos[c], both.infos[q], pair.decision.gated)
        evidence = {**signals.as_dict(), "gated": pair.decision.gated}
        match = Match(path, round(p, 4), pair.decision.stage, reason, evidence)
        (accepted if p >= threshold else others).append(match)
    order = lambda m: (-m.probability, m.path)  # noqa: E731
    return tuple(sorted(accepted, key=order)), tuple(sorted(others, key=order))
