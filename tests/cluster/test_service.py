"""`ndid serve`'s app on a real uvicorn server on localhost, through a real HTTP client."""

from __future__ import annotations

import io
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from ndid_desktop.cluster import jobs
from ndid_desktop.cluster.service import create_app
from ndid_desktop.engine.evaluation.attacks import ManifestRow
from ndid_desktop.engine.executors import in_process
from tests.cluster.conftest import config_in

LIMIT = 2 * 1024 * 1024


@pytest.fixture
def server(tmp_path: Path, photo_set: tuple[Path, list[ManifestRow]]) -> Iterator[tuple[str, Path]]:
    import uvicorn

    root, rows = photo_set
    group = sorted({r.group for r in rows if r.role == "original"})[1]
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(root / group / "original.jpg", lib / "original.jpg")
    config = config_in(tmp_path / "data", use_cache=False)
    store = jobs.build(tmp_path / "index", [str(lib)], config, jobs.Where(executor=in_process))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(store, config, max_upload_bytes=LIMIT)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", root / group
    finally:
        server.should_exit = True
        thread.join(10)


def _upload(path: Path, name: str | None = None) -> dict[str, tuple[str, bytes, str]]:
    return {"image": (name or path.name, path.read_bytes(), "application/octet-stream")}


def test_health_query_and_add(server: tuple[str, Path]) -> None:
    url, group = server
    with httpx.Client(base_url=url, timeout=60) as client:
        health = client.get("/health").json()
        assert health == {"status": "ok", "rows": 1, "model_set": "standard"}
        copy = client.post("/query", files=_upload(group / "resize-50.jpg")).json()
        assert copy["query"] == "resize-50.jpg"
        assert [Path(m["path"]).name for m in copy["matches"]] == ["original.jpg"]
        assert copy["matches"][0]["probability"] >= 0.9 and copy["matches"][0]["reason"]
        # Not indexed yet: the flip matches only the original; once added, itself too.
        flip = group / "flip.jpg"
        before = client.post("/query", files=_upload(flip)).json()["matches"]
        added = client.post("/add", files=_upload(flip)).json()
        assert added["added"] == 1 and added["rows"] == 2
        again = client.post("/add", files=_upload(flip)).json()
        assert again["added"] == 0 and again["rows"] == 2  # the same upload is indexed once
        after = client.post("/query", files=_upload(flip)).json()["matches"]
        assert [m["stage"] for m in after if m["path"] == added["path"]] == ["identical file"]
        assert [m["reason"] for m in after if m["path"] == added["path"]] == [
            "identical file to flip.jpg"
        ]
        assert len(after) == len(before) + 1
        assert client.get("/health").json()["rows"] == 2


def test_bad_uploads_get_clear_4xx(server: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = server
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"this is not a picture")
    big = tmp_path / "big.png"
    noise = Image.effect_noise((1400, 1400), 100).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    big.write_bytes(buffer.getvalue())
    assert big.stat().st_size > LIMIT
    with httpx.Client(base_url=url, timeout=60) as client:
        bad = client.post("/query", files=_upload(junk))
        assert bad.status_code == 422 and "not a usable image" in bad.json()["detail"]
        assert client.post("/add", files=_upload(junk)).status_code == 422
        too_big = client.post("/query", files=_upload(big))
        assert too_big.status_code == 413 and "over" in too_big.json()["detail"]
        kind = client.post("/query", files=_upload(junk, "notes.txt"))
        assert kind.status_code == 415
        assert client.post("/query").status_code == 422  # no file part at all

        def chunks() -> Iterator[bytes]:
            yield b"--x\r\n"

        unsized = client.post(
            "/query", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
        )
        assert unsized.status_code == 411
    assert client.is_closed
