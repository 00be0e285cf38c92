"""The query service: for platforms that check every upload against what they hold.

    GET  /health           {"status": "ok", "rows": N, "model_set": ...}
    POST /query  (file)    the upload's matches in the index, with probabilities and reasons
    POST /add    (file)    index the upload (kept under INDEX/uploads/, named by its content)

Uploads are bounded: a request without a Content-Length, or with one over the limit, is refused
(411, 413) before its body is read, and a file part over the limit is refused (413) however the
request was sized. A file that is not a usable image gets 422 with the decoder's reason.
Queries run concurrently; an add waits for them and holds queries off while it writes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from ndid_desktop.cluster import jobs
from ndid_desktop.cluster.store import IndexStore
from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.executors import in_process
from ndid_desktop.engine.types import FileEntry

MAX_UPLOAD_BYTES = 32 * 1024 * 1024  # a 12-MP JPEG is ~5 MB, a 48-MP HEIC ~15 MB
MULTIPART_SLACK = 64 * 1024  # the form's boundaries and headers around the file
UPLOADS = "uploads"
ALLOWED_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
)


@dataclass
class _Guard:
    """Many readers (queries) or one writer (add)."""

    readers: int = 0
    lock: threading.Condition = field(default_factory=threading.Condition)

    def read(self) -> _Reading:
        return _Reading(self)

    def write(self) -> _Writing:
        return _Writing(self)


class _Reading:
    def __init__(self, guard: _Guard) -> None:
        self.guard = guard

    def __enter__(self) -> None:
        with self.guard.lock:
            self.guard.readers += 1

    def __exit__(self, *exc: object) -> None:
        with self.guard.lock:
            self.guard.readers -= 1
            self.guard.lock.notify_all()


class _Writing:
    def __init__(self, guard: _Guard) -> None:
        self.guard = guard

    def __enter__(self) -> None:
        self.guard.lock.acquire()
        self.guard.lock.wait_for(lambda: self.guard.readers == 0)

    def __exit__(self, *exc: object) -> None:
        self.guard.lock.release()


def create_app(
    store: IndexStore, config: ScanConfig, max_upload_bytes: int = MAX_UPLOAD_BYTES
) -> FastAPI:
    app = FastAPI(title="NDID query service", version=store.manifest.ndid_version)
    guard = _Guard()
    querier = jobs.Querier(store, config)

    @app.middleware("http")
    async def bounded(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                return _error(411, "send the upload with a Content-Length header")
            if int(length) > max_upload_bytes + MULTIPART_SLACK:
                return _error(413, f"the upload is over {max_upload_bytes} bytes")
        return await call_next(request)

    @app.get("/health")
    def health() -> dict[str, Any]:
        with guard.read():
            return {"status": "ok", "rows": len(store.rows), "model_set": store.manifest.model_set}

    @app.post("/query")
    async def query(image: UploadFile = File(...)) -> dict[str, Any]:  # noqa: B008
        data = await _bounded_read(image, max_upload_bytes)
        _suffix(image)
        with tempfile.TemporaryDirectory(prefix="ndid-query-") as folder:
            # The upload's own base name, so that reasons name it ("identical file to x.jpg").
            path = Path(folder) / (Path(image.filename or "").name or f"upload{_suffix(image)}")
            path.write_bytes(data)
            with guard.read():
                result = querier([str(path)])[0]
        if result.error is not None:
            raise HTTPException(422, f"not a usable image: {result.error}")
        answer = result.to_json()
        answer["query"] = image.filename or ""
        return answer

    @app.post("/add")
    async def add(image: UploadFile = File(...)) -> dict[str, Any]:  # noqa: B008
        data = await _bounded_read(image, max_upload_bytes)
        target = _upload_path(store.folder, data, _suffix(image))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + ".part")
            part.write_bytes(data)
            os.replace(part, target)
        with guard.write():
            st = target.stat()
            entry = FileEntry(str(target), str(target.parent), False, st.st_size, st.st_mtime_ns)
            added = jobs.add_entries(store, [entry], config, jobs.Where(executor=in_process))
        problem = next((s.error for s in added.skipped if s.path == str(target)), None)
        if problem is not None:
            target.unlink(missing_ok=True)
            raise HTTPException(422, f"not a usable image: {problem}")
        return {"path": str(target), "added": added.added, "rows": len(store.rows)}

    return app


async def _bounded_read(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"the image is over {limit} bytes")
    if not data:
        raise HTTPException(422, "the upload is empty")
    return data


def _suffix(upload: UploadFile) -> str:
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise HTTPException(415, f"unsupported file type {suffix or '(none)'!r}")
    return suffix


def _upload_path(folder: Path, data: bytes, suffix: str) -> Path:
    # Named by content: the same upload added twice is one file, indexed once.
    return folder / UPLOADS / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"


def _error(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)
