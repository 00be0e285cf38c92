"""The keypoint-check stage: pairs in, verifications out, from cached local features only.

A pair checked before (same two files, same orientation, same verifier version) is read from
the cache; the rest go to the executor in chunks, a picture's pairs together so that its local
features travel once per chunk. This process reads each chunk's local features from the cache
as the chunk is handed over and ships the bytes with it, so any cache (a file or memory) and
any executor work, and memory holds only the chunks in flight. Results are cached as they
arrive, so a cancelled scan keeps the checks it finished. Nothing here decodes a picture.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from ndid_desktop.engine.executors import ExecutorFactory, in_process
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.match.verify import (
    CheckFailed,
    PairVerifier,
    Verification,
    VerificationFailure,
    verification_key,
)
from ndid_desktop.engine.progress import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    null_progress,
)
from ndid_desktop.engine.types import FileEntry

CHUNK_PAIRS: Final = 32  # ~0.1 s of checks: keeps the in-process path answering cancel
# Below this many checks, starting worker processes costs more than it saves.
MIN_PAIRS_FOR_WORKERS: Final = 32
CHUNKS_PER_WORKER: Final = 2  # in flight: one running, one waiting, per worker
POLL_SECONDS: Final = 0.5  # how often the cancel token is looked at while chunks run

JobKey: TypeAlias = tuple[int, int, int]  # (a, b, orientation)
ChunkResult: TypeAlias = Verification | CheckFailed


@dataclass(frozen=True)
class VerifyJob:
    a: int  # indices into the entries
    b: int
    orientation: int  # hashes.ORIENTATIONS: the transform that maps b onto a

    @property
    def key(self) -> JobKey:
        return (self.a, self.b, self.orientation)


@dataclass(frozen=True)
class VerificationOutcome:
    # (a, b, orientation) -> its check; a pair that is absent could not be had (a picture
    # without cached local features: it could not be read)
    results: Mapping[JobKey, Verification]
    failures: tuple[VerificationFailure, ...]  # checks that raised (reported, not cached)
    ran: int  # checks computed in this run; the rest came from the cache


def verify_pairs(
    jobs: Sequence[VerifyJob],
    entries: Sequence[FileEntry],
    cache: FeatureCache,
    verifier: PairVerifier,
    workers: int,
    executor: ExecutorFactory,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> VerificationOutcome:
    """Every job's verification; ``workers`` 0 means one per core. Raises ScanCancelled."""
    cancel = cancel or CancelToken()
    unique = list(dict.fromkeys(jobs))
    key = verification_key(verifier)
    cached = cache.lookup_verifications(
        [(entries[j.a], entries[j.b], j.orientation) for j in unique], key
    )
    run = _Run(entries, cache, verifier, key, progress, cancel, total=len(unique))
    run.results.update({unique[i].key: Verification.from_tuple(r) for i, r in cached.items()})
    todo = [job for i, job in enumerate(unique) if i not in cached]
    run.done = len(unique) - len(todo)
    progress(ProgressEvent("verify", run.done, run.total, "keypoint checks"))
    if todo:
        workers = workers or os.cpu_count() or 1
        small = len(todo) < MIN_PAIRS_FOR_WORKERS or workers < 2
        run.execute(_chunks(todo), in_process if small else executor, workers)
    return VerificationOutcome(dict(run.results), tuple(run.failures), run.ran)


def verify_one(
    job: VerifyJob, entries: Sequence[FileEntry], cache: FeatureCache, verifier: PairVerifier
) -> Verification | None:
    """One pair's check in this process (through the cache); None when it cannot be had."""
    outcome = verify_pairs([job], entries, cache, verifier, 1, in_process)
    return outcome.results.get(job.key)


def _chunks(jobs: Sequence[VerifyJob]) -> deque[list[VerifyJob]]:
    # Sorted, a picture's pairs lie next to each other: its features ship once a chunk.
    ordered = sorted(jobs, key=lambda j: j.key)
    return deque(ordered[i : i + CHUNK_PAIRS] for i in range(0, len(ordered), CHUNK_PAIRS))


def check_chunk(
    verifier: PairVerifier, features: Mapping[int, bytes], jobs: Sequence[JobKey]
) -> list[ChunkResult]:
    """Runs in a worker: the chunk's checks, each from the two pictures' local features."""
    out: list[ChunkResult] = []
    for a, b, orientation in jobs:
        try:
            out.append(verifier.verify(features[a], features[b], orientation))
        except Exception as exc:  # one pair's problem, reported with the scan, never its end
            out.append(CheckFailed.of(exc))
    return out


@dataclass(frozen=True)
class _Chunk:
    jobs: list[JobKey]
    alone: bool  # sent while nothing else ran: if the pool breaks now, this did it


Running: TypeAlias = dict["cf.Future[list[ChunkResult]]", _Chunk]


@dataclass
class _Run:
    """One call of verify_pairs: the chunks in flight, what came back, and the pool."""

    entries: Sequence[FileEntry]
    cache: FeatureCache
    verifier: PairVerifier
    key: str
    progress: ProgressCallback
    cancel: CancelToken
    total: int
    done: int = 0
    ran: int = 0
    results: dict[JobKey, Verification] = field(default_factory=dict)
    failures: list[VerificationFailure] = field(default_factory=list)
    # Chunks that were in flight when a worker died: each is retried alone, since any of them
    # may have killed it; one that kills a pool while alone has its pairs reported failed.
    suspects: deque[list[JobKey]] = field(default_factory=deque)

    def execute(
        self, queue: deque[list[VerifyJob]], executor: ExecutorFactory, workers: int
    ) -> None:
        factory = executor
        pool = factory(workers)
        window = workers * CHUNKS_PER_WORKER
        running: Running = {}
        try:
            while queue or self.suspects or running:
                self.cancel.raise_if_cancelled()
                try:
                    handed = self._hand_over(pool, queue, running, window)
                except _Refused:  # no processes to be had: the rest runs in this process
                    self._abandon(running)
                    pool.shutdown(wait=False, cancel_futures=True)
                    factory = in_process
                    pool = factory(workers)
                    continue
                if handed:  # an in-process executor has run it already: record it at once
                    finished = {f for f in running if f.done()}
                else:  # a timeout, so that a cancel is seen while chunks run
                    finished, _ = cf.wait(running, POLL_SECONDS, cf.FIRST_COMPLETED)
                if self._collect(finished, running):
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = factory(workers)
        finally:
            for future in running:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def _hand_over(
        self, pool: cf.Executor, queue: deque[list[VerifyJob]], running: Running, window: int
    ) -> bool:
        """Hands the next chunk over if there is room (a suspect only when nothing else
        runs); False when there was none."""
        if self.suspects:
            if running:
                return False
            keys, alone = self.suspects.popleft(), True
        elif queue and len(running) < window:
            keys, alone = [job.key for job in queue.popleft()], False
        else:
            return False
        jobs, features = self._load(keys)
        if not jobs:
            return True
        try:
            future = pool.submit(check_chunk, self.verifier, features, jobs)
        except Exception as exc:  # broken, shut down, or out of processes
            self.suspects.appendleft(jobs)
            raise _Refused from exc
        running[future] = _Chunk(jobs, alone)
        return True

    def _load(self, jobs: list[JobKey]) -> tuple[list[JobKey], dict[int, bytes]]:
        """The jobs whose pictures both have local features, and those features; the other
        jobs are left out of the results (their files could not be read) and counted done."""
        pictures = sorted({i for a, b, _ in jobs for i in (a, b)})
        found = self.cache.lookup_local(
            [self.entries[i] for i in pictures], self.verifier.features_key
        )
        features = {
            i: found[self.entries[i].path] for i in pictures if self.entries[i].path in found
        }
        kept = [job for job in jobs if job[0] in features and job[1] in features]
        self._advance(len(jobs) - len(kept))
        return kept, features

    def _collect(self, finished: set[cf.Future[list[ChunkResult]]], running: Running) -> bool:
        """Records finished chunks; True when the pool broke and must be replaced."""
        broken = False
        for future in finished:
            chunk = running.pop(future)
            try:
                results = future.result()
            except cf.BrokenExecutor as exc:  # a worker died (a crash in OpenCV, out of memory)
                broken = True
                if chunk.alone:
                    self._record(chunk.jobs, [CheckFailed.of(exc)] * len(chunk.jobs))
                else:
                    self.suspects.append(chunk.jobs)
            except Exception as exc:  # the chunk as a whole failed (it did not pickle, ...)
                self._record(chunk.jobs, [CheckFailed.of(exc)] * len(chunk.jobs))
            else:
                self._record(chunk.jobs, results)
        if broken:
            self._abandon(running)
        return broken

    def _abandon(self, running: Running) -> None:
        """The chunks in flight are lost with their pool; nothing is known against them."""
        for future, chunk in running.items():
            future.cancel()
            self.suspects.append(chunk.jobs)
        running.clear()

    def _record(self, jobs: Sequence[JobKey], results: Sequence[ChunkResult]) -> None:
        fresh: list[tuple[FileEntry, FileEntry, int, tuple[float, ...]]] = []
        for (a, b, o), result in zip(jobs, results, strict=True):
            if isinstance(result, CheckFailed):
                # Not cached: a later version, or a repaired file, gets another try.
                ea, eb = self.entries[a], self.entries[b]
                self.failures.append(VerificationFailure(ea.path, eb.path, result.reason))
            else:
                self.results[(a, b, o)] = result
                fresh.append((self.entries[a], self.entries[b], o, result.as_tuple()))
        self.cache.store_verifications(fresh, self.key)
        self.ran += len(fresh)
        self._advance(len(jobs))

    def _advance(self, count: int) -> None:
        if count:
            self.done += count
            self.progress(ProgressEvent("verify", self.done, self.total, "keypoint checks"))


class _Refused(Exception):
    """The executor took no more work."""
