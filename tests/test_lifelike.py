"""The lifelike library: camera originals with EXIF, dates and orientation, the copies a disk
collects of them with later file times, one manifest the scorer reads, the same for a seed,
and `ndid eval make-dataset --lifelike`."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from ndid_desktop.engine.evaluation.attacks import ManifestRow, read_manifest
from ndid_desktop.engine.evaluation.lifelike import (
    LIFELIKE_EDITS,
    ORIENTATION_TURNED,
    choose_edits,
    make_lifelike_library,
    plan_shot,
)
from ndid_desktop.engine.files.decode import decode, register_plugins

from .conftest import textured

SIZES = ((320, 240), (240, 360), (400, 300), (300, 300))


def _sources(folder: Path, count: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"photo{i}.png"
        textured(100 + i, SIZES[i % len(SIZES)]).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ManifestRow]]:
    root = tmp_path_factory.mktemp("lifelike")
    sources = _sources(root / "sources")
    out = root / "library"
    # Seed 5 turns some originals (Orientation 6) and makes some HEIC: checked below.
    rows = make_lifelike_library(sources[:3], out, distractors=sources[3:], seed=5)
    return out, rows


def _originals(rows: list[ManifestRow]) -> dict[str, ManifestRow]:
    return {r.group: r for r in rows if r.role in ("original", "distractor")}


def _orientation(path: Path) -> int:
    with Image.open(path) as img:
        return int(img.getexif().get(ExifTags.Base.Orientation, 1))


def test_manifest_labels_every_file_in_the_library(
    library: tuple[Path, list[ManifestRow]],
) -> None:
    out, rows = library
    assert read_manifest(out) == rows
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert files - {"manifest.json"} == {r.file for r in rows}
    assert len({r.file.lower() for r in rows}) == len(rows)
    assert [r.role for r in rows].count("original") == 3
    assert [r.role for r in rows].count("distractor") == 1
    copies: dict[str, list[ManifestRow]] = defaultdict(list)
    for r in rows:
        if r.role == "copy":
            copies[r.group].append(r)
    assert set(copies) == {"photo0", "photo1", "photo2"}
    for group in copies.values():
        assert 4 <= len(group) <= 7 and "backup" in {r.edit for r in group}
        assert all(r.tier in ("easy", "medium", "hard") for r in group)


def test_originals_are_camera_files_with_exif(library: tuple[Path, list[ManifestRow]]) -> None:
    out, rows = library
    for row in _originals(rows).values():
        info = decode(str(out / row.file)).info
        assert info.camera is not None and info.has_exif
        if row.file.startswith("Scans/"):  # a scanned print: a TIFF master, no capture date
            assert Path(row.file).name.startswith("scan_") and info.format == "TIFF"
            assert info.software == "EPSON Scan" and info.taken_at is None
            continue
        assert row.file.startswith("DCIM/") and Path(row.file).name.startswith("IMG_")
        assert Path(row.file).suffix in (".JPG", ".HEIC")
        assert info.taken_at is not None and "2018" <= info.taken_at[:4] <= "2024"
        assert info.software is not None  # the camera's firmware


def test_turned_originals_decode_upright_at_the_source_size(tmp_path: Path) -> None:
    register_plugins()
    sources = _sources(tmp_path / "sources", 2)
    out = tmp_path / "library"
    turned = 0
    # Seeds until both kinds of turned original (JPEG and HEIC) have been seen.
    for seed in range(40):
        rows = make_lifelike_library(sources, out / str(seed), seed=seed)
        for source, row in zip(sources, [r for r in rows if r.role == "original"], strict=True):
            path = out / str(seed) / row.file
            with Image.open(source) as img:
                size = img.size
            with Image.open(path) as stored:
                # A HEIC's Orientation becomes the HEIF `irot` transform (pillow-heif): libheif
                # turns the pixels on open and the EXIF then reads 1. JPEGs keep the tag.
                original = stored.info.get("original_orientation", _orientation(path))
            if original != ORIENTATION_TURNED:
                continue
            turned |= 1 if path.suffix == ".JPG" else 2
            if path.suffix == ".JPG":
                with Image.open(path) as stored:
                    assert stored.size == (size[1], size[0])  # stored turned
            decoded = decode(str(path), min_side=10_000)
            assert (decoded.info.width, decoded.info.height) == size
            assert decoded.image.size == size
            with Image.open(source) as img:
                diff = np.abs(
                    np.asarray(decoded.image, np.int16) - np.asarray(img.convert("RGB"), np.int16)
                )
            assert diff.mean() < 12  # upright: a turned picture would differ everywhere
        if turned == 3:
            break
    assert turned == 3


def test_backups_copy_the_bytes_and_copies_come_later(
    library: tuple[Path, list[ManifestRow]],
) -> None:
    out, rows = library
    originals = _originals(rows)
    seen = set()
    for row in rows:
        if row.role != "copy":
            continue
        original = out / originals[row.group].file
        copy = out / row.file
        assert copy.stat().st_mtime >= original.stat().st_mtime
        if row.edit in ("backup", "backup-preserved"):
            seen.add(row.edit)
            assert copy.read_bytes() == original.read_bytes()
            assert copy.name == original.name
        if row.edit == "backup":
            assert copy.stat().st_mtime > original.stat().st_mtime
        if row.edit == "backup-preserved":
            assert copy.stat().st_mtime == original.stat().st_mtime
    assert "backup" in seen


def test_every_edit_is_made_and_messenger_copies_lose_the_exif(tmp_path: Path) -> None:
    sources = _sources(tmp_path / "sources", 4)
    made: set[str] = set()
    wanted = {e.name for e in LIFELIKE_EDITS}
    for seed in range(40):  # until every edit was made (jpeg-from-heic needs a HEIC original)
        if made >= wanted:
            break
        out = tmp_path / str(seed)
        rows = make_lifelike_library(sources, out, seed=seed, max_side=240)
        for row in rows:
            made.add(row.edit)
            info = decode(str(out / row.file)).info
            assert max(info.width, info.height) <= 240 or row.edit == "phone-screenshot"
            if row.edit in ("messenger", "web-export", "png-export", "social-square"):
                assert info.camera is None and info.taken_at is None, row
            if row.edit in ("edited", "jpeg-from-heic", "upright-baked"):
                assert info.camera is not None and info.taken_at is not None, row
                assert _orientation(out / row.file) == 1
            if row.edit == "messenger":
                assert Path(row.file).name.startswith("IMG-") and "-WA" in row.file
            if row.edit == "phone-screenshot":
                assert (info.width, info.height) == (1170, 2532)
    assert made - {""} == wanted


def test_only_edits_that_apply_are_chosen() -> None:
    image = textured(1)
    for i in range(50):
        rng = random.Random(i)
        shot = plan_shot(f"g{i}", image, i, rng)
        names = {e.name for e in choose_edits(shot, rng)}
        assert "backup" in names and 4 <= len(names) <= 7
        assert shot.heic or "jpeg-from-heic" not in names
        assert shot.turned or "upright-baked" not in names
        assert not shot.heic or shot.camera == ("Apple", "iPhone 13")


def _listing(folder: Path) -> dict[str, tuple[int, bytes, float]]:
    """Each file's size, bytes and time (the manifest's time is when it was written)."""
    return {
        str(p.relative_to(folder)): (
            p.stat().st_size,
            p.read_bytes(),
            0.0 if p.name == "manifest.json" else p.stat().st_mtime,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_seed_makes_the_same_library(tmp_path: Path) -> None:
    sources = _sources(tmp_path / "sources", 3)
    make_lifelike_library(sources[:2], tmp_path / "one", distractors=sources[2:], seed=9)
    make_lifelike_library(sources[:2], tmp_path / "two", distractors=sources[2:], seed=9)
    make_lifelike_library(sources[:2], tmp_path / "other", distractors=sources[2:], seed=10)
    assert _listing(tmp_path / "one") == _listing(tmp_path / "two")
    assert _listing(tmp_path / "one") != _listing(tmp_path / "other")


def test_make_dataset_lifelike_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ndid_desktop.cli.main import main

    _sources(tmp_path / "photos", 4)
    out = tmp_path / "ds"
    data = ["--data-dir", str(tmp_path / "data")]
    make = [*data, "eval", "make-dataset", str(tmp_path / "photos"), str(out), "--split", "all"]
    assert main([*make, "--lifelike", "--distractors", "4"]) == 2
    assert "only 4 photos; fewer distractors please" in capsys.readouterr().err
    assert main([*make, "--lifelike", "--distractors", "1", "--edits-per-photo", "2"]) == 0
    rows = read_manifest(out)
    assert capsys.readouterr().out == f"wrote {len(rows)} files from 3 photos to {out}\n"
    assert sum(r.role == "copy" for r in rows) >= 3 * 4  # --edits-per-photo is ignored
    assert all(r.file.startswith(("DCIM/", "Scans/")) for r in rows if r.role != "copy")
    assert [r.role for r in rows].count("distractor") == 1
