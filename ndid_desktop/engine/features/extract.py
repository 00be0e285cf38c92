"""Stage 3: features for every file — from the cache when it is current, else decoded.

Work goes to one process per core in chunks of one batch: each worker decodes its chunk and runs
the encoder (ONNX Runtime, one thread) on it, so decoding and inference overlap across cores
with no torch in any process. This process only collects results and writes each batch to the
cache as it arrives, so a cancelled or crashed scan keeps what it finished. Without ONNX Runtime
(or with an encoder handed in, as tests do), workers return model inputs and this process runs
the encoder. With a pair verifier, the workers also extract each picture's local features from
the picture they decoded, so that keypoint checks later read them from the cache and never
decode again.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import xxhash
from numpy.typing import NDArray

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.errors import EncoderUnavailableError
from ndid_desktop.engine.executors import ExecutorFactory, process_pool
from ndid_desktop.engine.features.cache import CachedImage, FeatureCache
from ndid_desktop.engine.features.encoders import (
    Encoder,
    EncoderSpec,
    build_encoder,
    export_encoder,
    find_onnx,
    missing_libraries,
    model_input,
    onnx_path,
)
from ndid_desktop.engine.features.hashes import compute_hashes
from ndid_desktop.engine.features.local import LocalFeatureExtractor
from ndid_desktop.engine.features.model_store import ModelStore
from ndid_desktop.engine.features.runtimes import OrtEncoder, has_onnxruntime
from ndid_desktop.engine.files.decode import Decoded, DecodeError, decode
from ndid_desktop.engine.files.fingerprint import PREFIX, fingerprint_file
from ndid_desktop.engine.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from ndid_desktop.engine.types import FileEntry, ImageInfo, Skipped
from ndid_desktop.engine.worker_lifetime import die_with_parent

# Below this many files to decode, spawning worker processes costs more than it saves.
MIN_FILES_FOR_WORKERS = 24
POLL_SECONDS = 0.5  # how often the cancel token is looked at while chunks are decoded


@dataclass(frozen=True)
class Extracted:
    """What a worker sends back for one file."""

    info: ImageInfo | None
    hashes: NDArray[np.uint8] | None
    pixels: NDArray[np.uint8] | None  # model input, when this process must run the encoder
    error: str | None = None
    lasting: bool = True
    vector: NDArray[np.float32] | None = None  # the embedding, when the worker ran the encoder
    fingerprint: str | None = None  # of the bytes just decoded (fingerprint.py)
    pixel_digest: str | None = None  # of the decoded picture (pixel_digest)
    # The verifier's local features of the decoded picture (b"" if their extraction raised)
    local: bytes | None = None


def extract(
    path: str,
    spec: EncoderSpec | None,
    max_decode_bytes: int,
    local: LocalFeatureExtractor | None = None,
) -> Extracted:
    """Decode one file and compute everything the cache stores. Runs in a worker process."""
    try:
        decoded = decode(path, max_decode_bytes=max_decode_bytes)
    except DecodeError as exc:
        return Extracted(None, None, None, error=str(exc), lasting=exc.lasting)
    except Exception as exc:  # a codec bug must cost one file, never the scan
        return Extracted(None, None, None, error=f"cannot decode: {exc!r}")
    try:
        # Read again right after decoding, while the file is still in the page cache.
        fingerprint = fingerprint_file(path)
    except OSError as exc:
        return Extracted(None, None, None, error=f"cannot read: {exc.strerror}", lasting=False)
    pixels = model_input(decoded.image, spec) if spec is not None else None
    return Extracted(
        decoded.info,
        compute_hashes(decoded.image),
        pixels,
        fingerprint=fingerprint,
        pixel_digest=pixel_digest(decoded),
        local=_local_features(decoded, local) if local is not None else None,
    )


def pixel_digest(decoded: Decoded) -> str:
    """A digest of the decoded picture: equal for files whose pixels decode identically (a
    copy with its metadata stripped or rewritten), whatever their bytes. The full size is in
    it too, since the picture is decoded reduced."""
    image, info = decoded.image, decoded.info
    digest = xxhash.xxh3_128(
        f"{image.mode} {image.width}x{image.height} of {info.width}x{info.height}\0".encode()
    )
    digest.update(image.tobytes())
    return PREFIX + digest.hexdigest()


def _local_features(decoded: Decoded, local: LocalFeatureExtractor) -> bytes:
    try:
        return local.local_features(decoded.image)
    except Exception:  # the file stays usable; its keypoint checks report the failure
        return b""


@cache
def _worker_encoder(spec: EncoderSpec, onnx_file: Path) -> Encoder:
    # One ONNX Runtime session per worker process, built on its first chunk and reused.
    return OrtEncoder(spec, onnx_file)


def extract_chunk(
    paths: Sequence[str],
    spec: EncoderSpec | None,
    onnx_file: Path | None,
    max_decode_bytes: int,
    local: LocalFeatureExtractor | None = None,
) -> list[Extracted]:
    """Extract a chunk of files; with ``onnx_file``, also embed them here as one batch."""
    results = [extract(path, spec, max_decode_bytes, local) for path in paths]
    if spec is None or onnx_file is None:
        return results
    ready = [i for i, r in enumerate(results) if r.pixels is not None]
    if not ready:
        return results
    batch = np.stack([r.pixels for r in results if r.pixels is not None])
    vectors = _worker_encoder(spec, onnx_file).embed(batch)
    for i, vector in zip(ready, vectors, strict=True):
        results[i] = replace(results[i], pixels=None, vector=vector)
    return results


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
    encoder: Encoder | None = None  # the encoder built in this process, if one was needed
    runtime: str = ""  # how the embeddings were computed in this run
    # The content fingerprint of each entry as read for its features ("" if unknown): what
    # deleting a file later checks that it is still the file that was scanned.
    fingerprints: tuple[str, ...] = ()
    # The digest of each entry's decoded pixels ("" if unknown): equal for pixel-identical
    # files. (Local features stay in the cache: tens of KB a picture, read a chunk at a time.)
    pixel_digests: tuple[str, ...] = ()


class _Collector:
    """Gathers results, embeds them in batches and writes each batch to the cache."""

    def __init__(
        self,
        cache: FeatureCache,
        spec: EncoderSpec | None,
        batch_size: int,
        encoder: Encoder | None,
        models_dir: Path | None,
        store: ModelStore,
        extractor: str,
    ) -> None:
        self.extractor = extractor
        self.models_dir = models_dir
        self.store = store
        self.runtime = encoder.runtime if encoder is not None else ""
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
        vectors: list[tuple[str, NDArray[np.float32]]] = [
            (e.path, r.vector) for e, r in batch if r.vector is not None
        ]
        unembedded = [(e, r.pixels) for e, r in batch if r.vector is None and r.pixels is not None]
        if self.spec is not None and unembedded:
            if self.encoder is None:
                self.encoder = build_encoder(self.spec, self.models_dir, self.store)
                self.runtime = self.encoder.runtime
            embedded = self.encoder.embed(np.stack([pixels for _, pixels in unembedded]))
            vectors += [(e.path, v) for (e, _), v in zip(unembedded, embedded, strict=True)]
        images = [
            (e, CachedImage(r.info, r.hashes, None, r.fingerprint, r.pixel_digest))
            for e, r in batch
        ]
        local = [(e.path, r.local) for e, r in batch if r.local is not None]
        encoder = self.spec.cache_key if self.spec else ""
        self.cache.store(images, vectors, encoder, local, self.extractor)
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
    store: ModelStore | None = None,
    verifier: LocalFeatureExtractor | None = None,
    executor: ExecutorFactory = process_pool,
) -> FeatureSet:
    """Features for ``entries``; decodes only what the cache lacks. ``encoder`` may be given
    (tests, long-lived GUI sessions); otherwise it is built on the first batch that needs it.
    With ``verifier``, each picture's local features are extracted and cached too (not
    returned: verification reads them from the cache). ``executor`` runs the decode workers."""
    cancel = cancel or CancelToken()
    cached = _with_fingerprints(cache.lookup_images(entries), entries, cache)
    usable = [p for p, c in cached.items() if c.error is None]
    vectors = cache.lookup_embeddings(usable, spec.cache_key) if spec is not None else {}
    extractor = verifier.features_key if verifier is not None else ""
    with_local = cache.paths_with_local(usable, extractor) if verifier is not None else set()
    incomplete = _incomplete(cached, vectors, with_local, spec, verifier is not None)
    todo = [e for e in entries if e.path not in cached or e.path in incomplete]
    store = store or ModelStore(user_dir=config.models_dir)
    collector = _Collector(
        cache, spec, config.batch_size, encoder, config.models_dir, store, extractor
    )
    onnx_file = None
    if spec is not None and encoder is None and todo:
        onnx_file = prepare_onnx(spec, config.models_dir, store)
        if onnx_file is not None:
            collector.runtime = OrtEncoder.runtime + " in each decode worker"
    collector.images.update(cached)
    collector.vectors.update(vectors)
    total = len(entries)
    done = total - len(todo)
    progress(ProgressEvent("features", done, total, f"{done} from cache"))
    try:
        extraction = _run_extraction(todo, config, spec, onnx_file, cancel, verifier, executor)
        for entry, result in extraction:
            collector.add(entry, result)
            done += 1
            if done % 4 == 0 or done == total:
                progress(ProgressEvent("features", done, total))
    finally:
        collector.flush()  # a cancelled scan keeps what it decoded
    found = _assemble(entries, collector, spec, decoded=len(todo), from_cache=total - len(todo))
    return replace(found, encoder=collector.encoder, runtime=collector.runtime)


def _with_fingerprints(
    cached: dict[str, CachedImage], entries: Sequence[FileEntry], cache: FeatureCache
) -> dict[str, CachedImage]:
    """Cached rows from before the cache recorded fingerprints get one from a plain read of
    the file (a few ms, against a decode and an embedding); a file that cannot be read any
    more is dropped from ``cached``, so it is extracted again and reported like any other."""
    missing = [e for e in entries if e.path in cached and _lacks_fingerprint(cached[e.path])]
    if not missing:
        return cached
    completed = dict(cached)
    found: list[tuple[FileEntry, str]] = []
    for entry in missing:
        try:
            fingerprint = fingerprint_file(entry.path)
        except OSError:
            del completed[entry.path]
            continue
        completed[entry.path] = replace(cached[entry.path], fingerprint=fingerprint)
        found.append((entry, fingerprint))
    cache.store_fingerprints(found)
    return completed


def _lacks_fingerprint(image: CachedImage) -> bool:
    return image.error is None and image.fingerprint is None


def _incomplete(
    cached: dict[str, CachedImage],
    vectors: dict[str, NDArray[np.float32]],
    with_local: set[str],
    spec: EncoderSpec | None,
    local: bool,
) -> set[str]:
    """Cached pictures that lack something this scan needs which only their pixels give: they
    are extracted again. Rows from before the cache had pixel digests and local features
    (schema 6) are extracted again once for them, as is every picture when a scan first uses
    a verifier whose local features are not cached yet."""
    return {
        path
        for path, image in cached.items()
        if image.error is None
        and (
            (spec is not None and path not in vectors)
            or image.pixel_digest is None
            or (local and path not in with_local)
        )
    }


def _run_extraction(
    todo: Sequence[FileEntry],
    config: ScanConfig,
    spec: EncoderSpec | None,
    onnx_file: Path | None,
    cancel: CancelToken,
    verifier: LocalFeatureExtractor | None,
    executor: ExecutorFactory,
) -> Iterator[tuple[FileEntry, Extracted]]:
    if len(todo) < MIN_FILES_FOR_WORKERS:
        for entry in todo:
            cancel.raise_if_cancelled()
            # In-process: the collector embeds, so no second session is built here.
            yield entry, extract(entry.path, spec, config.max_decode_bytes, verifier)
        return
    yield from _PoolRun(todo, config, spec, onnx_file, cancel, verifier, executor).results()


class _PoolRun:
    """Runs chunks in worker processes with a bounded number of chunks in flight.

    A worker that dies (a codec crashing on a hostile file) breaks the whole pool, and every
    chunk in flight fails with it: their files are retried one by one in a fresh pool, each
    with nothing else in flight, and a file that breaks it again then is skipped.
    """

    def __init__(
        self,
        todo: Sequence[FileEntry],
        config: ScanConfig,
        spec: EncoderSpec | None,
        onnx_file: Path | None,
        cancel: CancelToken,
        verifier: LocalFeatureExtractor | None,
        executor: ExecutorFactory,
    ) -> None:
        self.verifier = verifier
        self.executor = executor
        size = config.batch_size
        self.queue: deque[list[FileEntry]] = deque(
            list(todo[i : i + size]) for i in range(0, len(todo), size)
        )
        self.suspects: deque[FileEntry] = deque()  # in flight when a pool broke
        self.config = config
        self.spec = spec
        self.onnx_file = onnx_file
        self.cancel = cancel
        self.workers = config.workers or os.cpu_count() or 1
        self.window = self.workers * 2

    def _submit(self, pool: cf.Executor, chunk: list[FileEntry]) -> cf.Future[Any]:
        paths = [e.path for e in chunk]
        return pool.submit(
            extract_chunk,
            paths,
            self.spec,
            self.onnx_file,
            self.config.max_decode_bytes,
            self.verifier,
        )

    def _fill(self, pool: cf.Executor, running: dict[cf.Future[Any], _InFlight]) -> None:
        """Hands chunks over up to the window; a suspect only alone, so that a pool it breaks
        names it."""
        while True:
            self.cancel.raise_if_cancelled()  # an in-process executor runs each on submit
            if self.suspects:
                if running:
                    return
                flight = _InFlight([self.suspects.popleft()], alone=True)
            elif self.queue and len(running) < self.window:
                flight = _InFlight(self.queue.popleft(), alone=False)
            else:
                return
            running[self._submit(pool, flight.chunk)] = flight

    def results(self) -> Iterator[tuple[FileEntry, Extracted]]:
        pool = self.executor(self.workers)
        running: dict[cf.Future[Any], _InFlight] = {}
        try:
            while self.queue or self.suspects or running:
                self._fill(pool, running)
                # With a timeout, so that a cancel is seen while the workers decode.
                finished, _ = cf.wait(running, timeout=POLL_SECONDS, return_when=cf.FIRST_COMPLETED)
                broken = False
                for future in finished:
                    flight = running.pop(future)
                    try:
                        yield from zip(flight.chunk, future.result(), strict=True)
                    except cf.BrokenExecutor:
                        broken = True
                        if flight.alone:
                            yield (
                                flight.chunk[0],
                                Extracted(
                                    None, None, None, error="the image decoder crashed on it"
                                ),
                            )
                        else:
                            self.suspects.extend(flight.chunk)
                if broken:
                    for flight in running.values():  # lost with the pool, whoever broke it
                        self.suspects.extend(flight.chunk)
                    running.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self.executor(self.workers)
                self.cancel.raise_if_cancelled()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class _InFlight:
    chunk: list[FileEntry]
    alone: bool  # a suspect, sent with nothing else in flight


def prepare_onnx(
    spec: EncoderSpec, models_dir: Path | None, store: ModelStore | None = None
) -> Path | None:
    """The encoder's ONNX file: the one NDID ships (resources/models) when there is one, so no
    export runs and torch is never imported; else exported in a child process on first use
    (needs the 'thorough' extra), so that this process never loads torch. None when ONNX
    Runtime or a models folder is not available."""
    if not has_onnxruntime() or spec.runtimes[0] != "onnx":
        return None
    store = store or ModelStore(user_dir=models_dir)
    ready = find_onnx(spec, models_dir, store.bundled_dir)
    if ready is not None or models_dir is None:
        return ready
    problem = missing_libraries(spec, export=True)
    if problem is not None:
        raise EncoderUnavailableError(
            f"no ONNX file for {spec.name}: the one NDID ships is missing (reinstall "
            f"ndid-desktop), and exporting one here needs {problem}"
        )
    target = onnx_path(spec, models_dir)
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=die_with_parent
    ) as pool:
        pool.submit(export_encoder, spec, target, store).result()
    return target


def _assemble(
    entries: Sequence[FileEntry],
    collector: _Collector,
    spec: EncoderSpec | None,
    decoded: int,
    from_cache: int,
) -> FeatureSet:
    usable: list[FileEntry] = []
    infos: list[ImageInfo] = []
    fingerprints: list[str] = []
    digests: list[str] = []
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
        fingerprints.append(image.fingerprint or "")
        digests.append(image.pixel_digest or "")
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
        fingerprints=tuple(fingerprints),
        pixel_digests=tuple(digests),
    )
