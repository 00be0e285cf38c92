"""Stage 3: features for every file — from the cache when it is current, else decoded.

Decoding runs in worker processes (one per core, no torch in them) while this process runs the
encoder on full batches: decode and inference overlap, and each batch is cached as it completes.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .cache import CachedImage, FeatureCache
from .config import ScanConfig
from .decode import DecodeError, decode
from .encoders import Encoder, EncoderSpec, build_encoder, model_input
from .hashes import compute_hashes
from .progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from .types import FileEntry, ImageInfo, Skipped

# Below this many files to decode, spawning worker processes costs more than it saves.
MIN_FILES_FOR_WORKERS = 24


@dataclass(frozen=True)
class Extracted:
    """What a worker sends back for one file."""

    info: ImageInfo | None
    hashes: NDArray[np.uint8] | None
    pixels: NDArray[np.uint8] | None  # model input, when an encoder needs it
    error: str | None = None
    lasting: bool = True


def extract(path: str, spec: EncoderSpec | None, max_pixels: int) -> Extracted:
    """Decode one file and compute everything the cache stores. Runs in a worker process."""
    try:
        decoded = decode(path, max_pixels=max_pixels)
    except DecodeError as exc:
        return Extracted(None, None, None, error=str(exc), lasting=exc.lasting)
    except Exception as exc:  # a codec bug must cost one file, never the scan
        return Extracted(None, None, None, error=f"cannot decode: {exc!r}")
    pixels = model_input(decoded.image, spec) if spec is not None else None
    return Extracted(decoded.info, compute_hashes(decoded.image), pixels)


@dataclass(frozen=True)
class FeatureSet:
    """Features of the usable files, row i describing entries[i]."""

    entries: tuple[FileEntry, ...]
    infos: tuple[ImageInfo, ...]
    hashes: NDArray[np.uint8]  # (N, 3, 8, 8)
    embeddings: NDArray[np.float32] | None  # (N, dim), unit rows
    skipped: tuple[Skipped, ...]
    decoded: int
    from_cache: int


class _Collector:
    """Gathers results, embeds them in batches and writes each batch to the cache."""

    def __init__(
        self,
        cache: FeatureCache,
        spec: EncoderSpec | None,
        batch_size: int,
        encoder: Encoder | None,
        models_dir: Path | None,
    ) -> None:
        self.models_dir = models_dir
        self.cache = cache
        self.spec = spec
        self.batch_size = batch_size
        self.encoder = encoder
        self.images: dict[str, CachedImage] = {}
        self.vectors: dict[str, NDArray[np.float32]] = {}
        self.skipped: list[Skipped] = []
        self._pending: list[tuple[FileEntry, Extracted]] = []

    def add(self, entry: FileEntry, result: Extracted) -> None:
        if result.error is not None:
            self.skipped.append(Skipped(entry.path, result.error))
            if result.lasting:
                self.cache.store([(entry, CachedImage(None, None, result.error))])
            return
        self._pending.append((entry, result))
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        vectors: list[tuple[str, NDArray[np.float32]]] = []
        if self.spec is not None:
            if self.encoder is None:
                self.encoder = build_encoder(self.spec, self.models_dir)
            stacked = np.stack([r.pixels for _, r in batch if r.pixels is not None])
            embedded = self.encoder.embed(stacked)
            vectors = [(e.path, v) for (e, _), v in zip(batch, embedded, strict=True)]
        images = [(e, CachedImage(r.info, r.hashes, None)) for e, r in batch]
        self.cache.store(images, vectors, self.spec.cache_key if self.spec else "")
        for entry, image in images:
            self.images[entry.path] = image
        self.vectors.update(vectors)


def compute_features(
    entries: Sequence[FileEntry],
    config: ScanConfig,
    cache: FeatureCache,
    spec: EncoderSpec | None,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    encoder: Encoder | None = None,
) -> FeatureSet:
    """Features for ``entries``; decodes only what the cache lacks. ``encoder`` may be given
    (tests, long-lived GUI sessions); otherwise it is built on the first batch that needs it."""
    cancel = cancel or CancelToken()
    cached = cache.lookup_images(entries)
    vectors = (
        cache.lookup_embeddings([p for p, c in cached.items() if c.error is None], spec.cache_key)
        if spec is not None
        else {}
    )
    todo = [
        e
        for e in entries
        if e.path not in cached
        or (spec is not None and cached[e.path].error is None and e.path not in vectors)
    ]
    collector = _Collector(cache, spec, config.batch_size, encoder, config.models_dir)
    collector.images.update(cached)
    collector.vectors.update(vectors)
    total = len(entries)
    done = total - len(todo)
    progress(ProgressEvent("features", done, total, f"{done} from cache"))
    try:
        for entry, result in _run_extraction(todo, config, spec, cancel):
            collector.add(entry, result)
            done += 1
            if done % 4 == 0 or done == total:
                progress(ProgressEvent("features", done, total))
    finally:
        collector.flush()  # a cancelled scan keeps what it decoded
    return _assemble(entries, collector, spec, decoded=len(todo), from_cache=total - len(todo))


def _run_extraction(
    todo: Sequence[FileEntry], config: ScanConfig, spec: EncoderSpec | None, cancel: CancelToken
) -> Iterator[tuple[FileEntry, Extracted]]:
    if len(todo) < MIN_FILES_FOR_WORKERS:
        for entry in todo:
            cancel.raise_if_cancelled()
            yield entry, extract(entry.path, spec, config.max_pixels)
        return
    yield from _PoolRun(todo, config, spec, cancel).results()


class _PoolRun:
    """Decodes in worker processes with a bounded window of files in flight.

    A worker that dies (a codec crashing on a hostile file) breaks the whole pool: the files in
    flight are retried once in a fresh pool, and a file that breaks it twice is skipped.
    """

    def __init__(
        self,
        todo: Sequence[FileEntry],
        config: ScanConfig,
        spec: EncoderSpec | None,
        cancel: CancelToken,
    ) -> None:
        self.queue = deque(todo)
        self.config = config
        self.spec = spec
        self.cancel = cancel
        self.workers = config.workers or os.cpu_count() or 1
        self.window = self.workers * 4
        self.crashes: dict[str, int] = {}

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        # spawn, not fork: the parent may hold torch's thread pools, which do not survive a fork.
        context = multiprocessing.get_context("spawn")
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

    def results(self) -> Iterator[tuple[FileEntry, Extracted]]:
        pool = self._new_pool()
        running: dict[cf.Future[Extracted], FileEntry] = {}
        try:
            while self.queue or running:
                while self.queue and len(running) < self.window:
                    entry = self.queue.popleft()
                    future = pool.submit(extract, entry.path, self.spec, self.config.max_pixels)
                    running[future] = entry
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                broken = False
                for future in finished:
                    entry = running.pop(future)
                    try:
                        yield entry, future.result()
                    except BrokenProcessPool:
                        broken = True
                        yield from self._requeue(entry)
                if broken:
                    for entry in running.values():
                        yield from self._requeue(entry)
                    running.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._new_pool()
                self.cancel.raise_if_cancelled()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _requeue(self, entry: FileEntry) -> Iterator[tuple[FileEntry, Extracted]]:
        count = self.crashes.get(entry.path, 0) + 1
        self.crashes[entry.path] = count
        if count >= 2:
            yield entry, Extracted(None, None, None, error="the image decoder crashed on this file")
        else:
            self.queue.appendleft(entry)


def _assemble(
    entries: Sequence[FileEntry],
    collector: _Collector,
    spec: EncoderSpec | None,
    decoded: int,
    from_cache: int,
) -> FeatureSet:
    usable: list[FileEntry] = []
    infos: list[ImageInfo] = []
    hashes: list[NDArray[np.uint8]] = []
    vectors: list[NDArray[np.float32]] = []
    skipped = list(collector.skipped)
    fresh_errors = {s.path for s in skipped}
    for entry in entries:
        image = collector.images.get(entry.path)
        if image is None or image.info is None or image.hashes is None:
            if image is not None and image.error and entry.path not in fresh_errors:
                skipped.append(Skipped(entry.path, image.error))
            continue
        if spec is not None and entry.path not in collector.vectors:
            continue
        usable.append(entry)
        infos.append(image.info)
        hashes.append(image.hashes)
        if spec is not None:
            vectors.append(collector.vectors[entry.path])
    dim = spec.dim if spec is not None else 0
    return FeatureSet(
        entries=tuple(usable),
        infos=tuple(infos),
        hashes=np.stack(hashes) if hashes else np.zeros((0, 3, 8, 8), dtype=np.uint8),
        embeddings=(np.stack(vectors) if vectors else np.zeros((0, dim), np.float32))
        if spec is not None
        else None,
        skipped=tuple(skipped),
        decoded=decoded,
        from_cache=from_cache,
    )
