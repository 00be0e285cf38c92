"""The model store: resolution order, offline behaviour, and downloads from a local server
(good, corrupt, interrupted and resumed)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ndid_desktop.engine.features.model_store import (
    ModelDownloadError,
    ModelFile,
    ModelMissingError,
    ModelStore,
    download,
)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD with Range support; /cut stops half-way on the first request."""

    served_cut = 0

    def do_GET(self) -> None:
        data = b"garbage!" * 1000 if self.path == "/corrupt" else PAYLOAD
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/cut" and _Handler.served_cut == 0:
            _Handler.served_cut += 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.served_cut = 0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _spec(url: str, **kw: object) -> ModelFile:
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    return ModelFile(model="toy", filename="toy.bin", url=url, size=len(PAYLOAD),
                     sha256_prefix=digest[:8], **kw)  # type: ignore[arg-type]  # fmt: skip


def test_good_download_reports_progress_and_lands_atomically(server: str, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    path = download(_spec(f"{server}/ok"), tmp_path / "toy.bin", lambda a, b: seen.append((a, b)))
    assert path.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert not (tmp_path / "toy.bin.part").exists()


def test_interrupted_download_resumes(server: str, tmp_path: Path) -> None:
    path = download(_spec(f"{server}/cut"), tmp_path / "toy.bin")
    assert path.read_bytes() == PAYLOAD


def test_corrupt_download_is_deleted_and_reported(server: str, tmp_path: Path) -> None:
    with pytest.raises(ModelDownloadError, match="expected"):
        download(_spec(f"{server}/corrupt"), tmp_path / "toy.bin", attempts=2)
    assert not list(tmp_path.iterdir())


def test_offline_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    # A closed local port: refused at once, as an offline machine's DNS failure is.
    with pytest.raises(ModelDownloadError, match="could not download"):
        download(_spec("http://127.0.0.1:9/none"), tmp_path / "toy.bin", attempts=1)


def test_resolution_order_user_then_bundled_then_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    spec = _spec("http://127.0.0.1:9/none", torch_hub=True)
    store = ModelStore(user_dir=tmp_path / "user", bundled_dir=tmp_path / "bundled")
    hub = tmp_path / "torch" / "hub" / "checkpoints" / "toy.bin"
    for folder in (hub.parent, tmp_path / "bundled", tmp_path / "user"):
        folder.mkdir(parents=True, exist_ok=True)
    hub.write_bytes(b"hub")
    assert store.locate(spec).source == "framework cache"
    (tmp_path / "bundled" / "toy.bin").write_bytes(b"bundled")
    assert store.locate(spec).source == "bundled with the app"
    (tmp_path / "user" / "toy.bin").write_bytes(b"user")
    assert store.locate(spec).path == tmp_path / "user" / "toy.bin"


def test_missing_model_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    store = ModelStore(user_dir=tmp_path / "user", allow_download=False)
    with pytest.raises(ModelMissingError) as info:
        store.require(_spec("http://127.0.0.1:9/none", torch_hub=True))
    text = str(info.value)
    assert str(tmp_path / "user" / "toy.bin") in text
    assert "checkpoints" in text and "ndid models fetch toy" in text


def test_store_downloads_into_the_user_folder_when_allowed(server: str, tmp_path: Path) -> None:
    store = ModelStore(user_dir=tmp_path / "user", allow_download=True, use_framework_caches=False)
    assert store.require(_spec(f"{server}/ok")).parent == tmp_path / "user"
