"""Where the files of a collection come from: local folders (the scan's own discovery) or any
pyarrow/fsspec filesystem URI (``s3://bucket/photos``, ``gs://...``, ``file:///...``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.types import FileEntry, Skipped


def is_uri(source: str) -> bool:
    return "://" in source


def list_files(sources: Sequence[str], config: ScanConfig) -> tuple[list[FileEntry], list[Skipped]]:
    """Every image file under ``sources``, local folders walked as a scan walks them."""
    local = [Root(Path(s)) for s in sources if not is_uri(s)]
    entries: list[FileEntry] = []
    skipped: list[Skipped] = []
    if local:
        found = discover(local, config)
        entries += found.files
        skipped += found.skipped
    for uri in (s for s in sources if is_uri(s)):
        entries += _list_uri(uri, config)
    return entries, skipped


def _list_uri(uri: str, config: ScanConfig) -> list[FileEntry]:
    from pyarrow import fs

    filesystem, base = fs.FileSystem.from_uri(uri)
    scheme = uri.split("://", 1)[0]
    infos = filesystem.get_file_info(fs.FileSelector(base, recursive=True))
    found = []
    for info in infos:
        if info.type != fs.FileType.File or Path(info.path).suffix.lower() not in config.extensions:
            continue
        mtime = info.mtime_ns if info.mtime_ns is not None else 0
        path = f"{scheme}://{info.path}" if scheme != "file" else f"file://{info.path}"
        found.append(FileEntry(path, uri, False, int(info.size or 0), int(mtime)))
    return sorted(found, key=lambda e: e.path)


@contextmanager
def local_copies(paths: Sequence[str]) -> Iterator[list[str]]:
    """Local paths for ``paths``: local ones as they are, URIs copied into a temporary folder
    for the time of the block (the decoder and the fingerprint read local files)."""
    if not any(is_uri(p) for p in paths):
        yield list(paths)
        return
    from pyarrow import fs

    with tempfile.TemporaryDirectory(prefix="ndid-fetch-") as folder:
        local: list[str] = []
        for i, path in enumerate(paths):
            if not is_uri(path):
                local.append(path)
                continue
            filesystem, inner = fs.FileSystem.from_uri(path)
            target = os.path.join(folder, f"{i}{Path(inner).suffix}")
            try:
                with filesystem.open_input_stream(inner) as src, open(target, "wb") as dst:
                    dst.write(src.read())
            except OSError:
                pass  # left missing: extract reports the file as unreadable, like a vanished one
            local.append(target)
        yield local
