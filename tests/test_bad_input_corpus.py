"""A library full of everything a disk can hold, scanned with good photos: the scan exits 0,
every bad file is listed under `skipped` with its reason, and the good duplicates are still
found."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from ndid_desktop.cli.main import main
from ndid_desktop.engine import pipeline

from .conftest import dev_photos


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def flat_png(path: Path, width: int, height: int, bit_depth: int = 16) -> None:
    """A flat greyscale PNG of any size, written without ever holding its pixels: a small file
    that decodes to a huge buffer (13300x13300 16-bit: 373 KB on disk, 354 MB decoded)."""
    row = b"\0" * (1 + width * bit_depth // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_bytes(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def build_corpus(lib: Path) -> dict[str, Path]:
    """Good photos with a copy each, and one of every kind of bad file; returns the bad ones."""
    lib.mkdir()
    for photo in dev_photos(4, offset=20):
        image = Image.open(photo).convert("RGB")
        image.save(lib / photo.name, quality=92)
        image.resize((image.width // 2, image.height // 2)).save(lib / f"small-{photo.name}")
    good = Image.open(lib / sorted(os.listdir(lib))[0])
    data = _jpeg_bytes(good)
    bad = {
        "empty": lib / "empty.jpg",
        "truncated": lib / "truncated.jpg",
        "garbage": lib / "garbage.jpg",
        "text": lib / "notes.png",
        "bomb": lib / "bomb.png",
        "16-bit giant": lib / "scan-16bit.png",
        "dangling link": lib / "dangling.jpg",
        "vanishing": lib / "vanishing.jpg",
    }
    bad["empty"].write_bytes(b"")
    bad["truncated"].write_bytes(data[: len(data) // 3])
    bad["garbage"].write_bytes(os.urandom(5000))
    bad["text"].write_text("this is not a picture\n")
    flat_png(bad["bomb"], 60000, 60000, bit_depth=8)
    flat_png(bad["16-bit giant"], 13300, 13300)
    os.symlink(lib / "nowhere.jpg", bad["dangling link"])
    bad["vanishing"].write_bytes(data)
    # Odd but fine: these must be read, not skipped.
    Image.new("P", (1, 1)).save(lib / "spacer.gif")
    Image.new("P", (1, 1)).save(lib / "spacer-copy.gif")
    Image.new("RGB", (20000, 10), (200, 30, 30)).save(lib / "strip.png")
    Image.new("RGB", (10, 20000), (30, 200, 30)).save(lib / "tall-strip.png")
    for name in ("-dash.jpg", "new\nline.jpg", "  spaces  .jpg", "é" * 60 + ".jpg", "😀.jpg"):
        (lib / name).write_bytes(data)
    (lib / os.fsdecode(b"caf\xe9-latin1.jpg")).write_bytes(data)
    (lib / "unreadable.jpg").write_bytes(data)
    os.chmod(lib / "unreadable.jpg", 0)
    os.symlink(lib, lib / "loop")  # a folder that contains itself
    os.mkfifo(lib / "pipe.jpg")  # opening it would block: it must never be opened
    (lib / "folder.jpg").mkdir()
    good.save(lib / "folder.jpg" / "inside.jpg")
    return bad


def _vanish_after_discovery(path: Path) -> Callable[..., object]:
    real = pipeline.discover

    def discover(*args: object, **kwargs: object) -> object:
        found = real(*args, **kwargs)  # type: ignore[arg-type]
        path.unlink()
        return found

    return discover


def test_a_scan_survives_every_kind_of_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lib, data = tmp_path / "lib", tmp_path / "data"
    bad = build_corpus(lib)
    monkeypatch.setattr(pipeline, "discover", _vanish_after_discovery(bad["vanishing"]))
    report_path = tmp_path / "report.json"
    code = main(["--data-dir", str(data), "scan", str(lib), "--json", str(report_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    report = json.loads(report_path.read_text())
    skipped = {s["path"]: s["error"] for s in report["skipped"]}
    for kind, path in bad.items():
        assert str(path) in skipped, f"{kind} file not reported as skipped"
        assert skipped[str(path)], kind
    assert "empty file" in skipped[str(bad["empty"])]
    assert "truncated" in skipped[str(bad["truncated"])]
    assert "too large" in skipped[str(bad["16-bit giant"])]
    assert "too large" in skipped[str(bad["bomb"])]
    grouped = {m["path"] for g in report["groups"] for m in g["members"]}
    for photo in dev_photos(4, offset=20):
        assert {str(lib / photo.name), str(lib / f"small-{photo.name}")} <= grouped
    assert str(lib / "pipe.jpg") not in grouped  # and the scan did not hang on opening it
    assert "not a regular file" in skipped[str(lib / "pipe.jpg")]
    odd = lib / os.fsdecode(b"caf\xe9-latin1.jpg")
    assert str(odd) in grouped  # a name that is not UTF-8 is still a photo
    for fine in ("spacer.gif", "strip.png", "tall-strip.png"):
        assert str(lib / fine) not in skipped, skipped.get(str(lib / fine))
