"""The decoder's evidence of provenance (ImageInfo's chroma, jpeg_grid, software, orientation,
has_exif): measured on real development photos and small generated pictures; the new fields
survive the cache and reports, old reports and caches still load, and a schema-7 cache is
upgraded in place and reads each picture once more for them."""

from __future__ import annotations

import io
import json
import sqlite3
import struct
import sys
import types
from collections.abc import Iterator
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.features import cache as cache_module
from ndid_desktop.engine.features.cache import CachedImage, FeatureCache
from ndid_desktop.engine.features.extract import FeatureSet, compute_features
from ndid_desktop.engine.files import decode as decode_module
from ndid_desktop.engine.files.decode import decode, jpeg_grid
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.report import from_json, to_json
from ndid_desktop.engine.types import FileEntry, Group, ImageInfo, Member, ScanReport, ScanStats

from .conftest import DEV_PHOTOS, textured

# A lossless file whose jpeg_grid is above this held a JPEG's decoded pixels. Measured with
# this module's recipes on ../shared/dev-photos (all JPEG quality 88, at most 1280 px):
# - never a JPEG, 1024 px crops (a photo's centre upscaled x3.3, sensor noise added; 40
#   photos): 0.991-1.015; the same saved as JPEG q95 then PNG: 1.012-1.265 (85% above 1.05),
#   q90: 1.058-1.789, q75: 1.154-3.468.
# - never a JPEG, the 10 largest photos downscaled 4x with LANCZOS (320x240 px): 0.944-1.032;
#   the photos themselves as PNG (q88 pixels): 1.063-1.743; those 4x pictures as JPEG q75
#   then PNG: 1.082-2.326, at q95: 1.002-1.396 (weak).
# Small pictures are noisy: over all 246 photos of at least 256 px, the 4x downscales (64-320
# px) reach 1.19 at the 95th percentile, and 20% of the photos as PNG (up to 1280 px) stay
# under 1.05. The pictures below are well clear of the threshold either way.
GRID_THRESHOLD = 1.05
PHOTO = "149771e29694cd09.jpg"  # 1280x960, a colour photo (chroma ~47, jpeg_grid 1.47 as PNG)


def _dev_photo(name: str = PHOTO) -> Image.Image:
    path = DEV_PHOTOS / name
    if not path.is_file():  # a missing data set is a broken checkout, not a pass
        pytest.fail(f"development photo not found at {path} (../shared/dev-photos)")
    with Image.open(path) as img:
        return img.convert("RGB")


def _jpeg_pixels(img: Image.Image, quality: int) -> Image.Image:
    """``img`` after a round trip through a JPEG of ``quality``: what a converter decodes."""
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as jpeg:
        return jpeg.convert("RGB")


def _never_jpeg_large(img: Image.Image, side: int = 1100) -> Image.Image:
    """A camera-sized picture whose pixels never were a JPEG: the centre of ``img`` upscaled by
    a factor (3.3) that spreads its old grid over every phase, plus sensor-like noise."""
    crop = side * 10 // 33
    left, top = (img.width - crop) // 2, (img.height - crop) // 2
    up = img.crop((left, top, left + crop, top + crop)).resize(
        (side, side), Image.Resampling.LANCZOS
    )
    noise = np.random.default_rng(0).normal(0.0, 2.0, (side, side, 1))
    pixels = np.asarray(up, dtype=np.float64) + noise
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))


def _save(img: Image.Image, path: Path, **options: Any) -> str:
    img.save(path, **options)
    return str(path)


# --- chroma ----------------------------------------------------------------------------------


def test_chroma_is_near_zero_for_greyscale_and_high_for_colour(tmp_path: Path) -> None:
    photo = _dev_photo()
    colour = decode(str(DEV_PHOTOS / PHOTO)).info.chroma
    grey_rgb = _save(photo.convert("L").convert("RGB"), tmp_path / "grey.jpg", quality=88)
    grey_l = _save(photo.convert("L"), tmp_path / "grey-l.jpg", quality=88)
    grey_png = _save(photo.convert("L"), tmp_path / "grey.png")
    assert colour is not None and 15 < colour < 80
    for path in (grey_rgb, grey_l, grey_png):
        chroma = decode(path).info.chroma
        assert chroma is not None and chroma < 2, path
    # Two decimals, and the same picture in any format gives about the same figure.
    as_png = decode(_save(photo, tmp_path / "colour.png")).info.chroma
    assert as_png is not None and as_png == round(as_png, 2) and abs(as_png - colour) < 2


def test_chroma_follows_hasler_and_susstrunk() -> None:
    # Flat colour: no spread, so M = 0.3 * sqrt(mean(rg)^2 + mean(yb)^2).
    red = Image.new("RGB", (64, 64), (200, 50, 50))
    rg, yb = 150.0, 0.5 * 250 - 50
    assert decode_module.colourfulness(red) == round(0.3 * (rg**2 + yb**2) ** 0.5, 2)
    assert decode_module.colourfulness(Image.new("RGB", (64, 64), (90, 90, 90))) == 0.0


# --- jpeg_grid -------------------------------------------------------------------------------


def test_a_png_of_jpeg_pixels_shows_the_grid_and_a_never_jpeg_png_does_not(
    tmp_path: Path,
) -> None:
    photo = _dev_photo()  # a JPEG's decoded pixels (quality 88)
    never = photo.resize((photo.width // 4, photo.height // 4), Image.Resampling.LANCZOS)
    grids: dict[str, float] = {}
    for name, img in {
        "converted.png": photo,
        "converted.tif": photo,
        "converted.bmp": photo,
        "never.png": never,
        "never-then-q75.png": _jpeg_pixels(never, 75),
    }.items():
        grid = decode(_save(img, tmp_path / name)).info.jpeg_grid
        assert grid is not None, name
        grids[name] = grid
    assert grids["converted.png"] == grids["converted.tif"] == grids["converted.bmp"]
    assert grids["converted.png"] > GRID_THRESHOLD + 0.2, grids  # 1.467 measured
    assert grids["never-then-q75.png"] > GRID_THRESHOLD + 0.2, grids  # 1.819
    assert abs(grids["never.png"] - 1.0) < 0.03, grids  # 0.992
    assert grids["converted.png"] == round(grids["converted.png"], 3)


def test_the_grid_is_measured_at_the_files_own_phase_in_a_large_picture(tmp_path: Path) -> None:
    # 1100 px: the central 1024 px crop starts at 38, rounded down to 32 to keep the phase.
    never = _never_jpeg_large(_dev_photo())
    converted = _jpeg_pixels(never, 90)
    natural = decode(_save(never, tmp_path / "never.png")).info.jpeg_grid
    q95 = decode(_save(_jpeg_pixels(never, 95), tmp_path / "q95.png")).info.jpeg_grid
    q90 = decode(_save(converted, tmp_path / "q90.png")).info.jpeg_grid
    assert natural is not None and abs(natural - 1.0) < 0.02  # 0.998
    assert q95 is not None and q95 > GRID_THRESHOLD + 0.05  # 1.167
    assert q90 is not None and q90 > GRID_THRESHOLD + 0.3  # 1.696
    # The same pixels cut 6 px off the file's grid: its boundaries now fall inside the blocks
    # measured, which reads below 1 (0.81), not as a JPEG.
    shifted = converted.crop((6, 6, converted.width, converted.height))
    moved = decode(_save(shifted, tmp_path / "shifted.png")).info.jpeg_grid
    assert moved is not None and moved < 0.95


def test_lossy_small_and_flat_files_have_no_grid(tmp_path: Path) -> None:
    photo = _dev_photo()
    assert decode(str(DEV_PHOTOS / PHOTO)).info.jpeg_grid is None
    assert decode(_save(photo, tmp_path / "a.webp", quality=90)).info.jpeg_grid is None
    assert decode(_save(photo.resize((80, 63)), tmp_path / "small.png")).info.jpeg_grid is None
    flat = Image.new("RGB", (200, 200), (40, 80, 120))
    assert decode(_save(flat, tmp_path / "flat.png")).info.jpeg_grid is None
    assert decode(_save(photo.resize((64, 64)), tmp_path / "least.png")).info.jpeg_grid


def test_grid_reads_every_lossless_mode(tmp_path: Path) -> None:
    photo = _dev_photo().crop((0, 0, 256, 256))
    rgb = jpeg_grid(photo)
    assert rgb is not None and rgb > GRID_THRESHOLD
    deep = Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257)
    assert deep.mode.startswith("I;16")
    for img in (photo.convert("L"), photo.convert("RGBA"), deep):
        value = decode(_save(img, tmp_path / f"{img.mode.replace(';', '')}.png")).info.jpeg_grid
        assert value is not None and abs(value - rgb) < 0.1, img.mode
    assert jpeg_grid(photo.convert("LAB")) is None  # no luminance Pillow can give: no figure


def test_the_budget_counts_the_grids_crop(tmp_path: Path) -> None:
    photo = _dev_photo()
    png, jpeg = _save(photo, tmp_path / "a.png"), _save(photo, tmp_path / "a.jpg", quality=95)
    needed = decode_module.estimate_decode_bytes(png)
    grid = decode_module._grid_bytes(photo.size)
    assert grid == 1024 * 960 * 12
    with pytest.raises(decode_module.DecodeError, match="too large to decode safely"):
        decode(png, max_decode_bytes=needed - 1)
    assert decode(png, max_decode_bytes=needed).info.jpeg_grid is not None
    assert decode_module.estimate_decode_bytes(jpeg) < grid  # a JPEG's grid is not measured


# --- EXIF ------------------------------------------------------------------------------------


def _camera_exif(software: str | None = "Adobe Photoshop 25.0 (Windows)") -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS 5D Mark IV"  # Model
    exif[0x0112] = 6  # Orientation: stored turned
    if software is not None:
        exif[0x0131] = software
    return exif


@pytest.mark.parametrize("suffix", ["jpg", "png", "tif"])
def test_exif_software_orientation_and_presence_are_read(tmp_path: Path, suffix: str) -> None:
    path = _save(textured(4, (400, 300)), tmp_path / f"a.{suffix}", exif=_camera_exif())
    info = decode(path).info
    assert info.software == "Adobe Photoshop 25.0 (Windows)"
    assert info.orientation == 6 and (info.width, info.height) == (300, 400)
    assert info.has_exif and info.camera == "Canon EOS 5D Mark IV"


def test_exif_without_software_and_padded_software(tmp_path: Path) -> None:
    plain = decode(_save(textured(4), tmp_path / "a.jpg", exif=_camera_exif(None))).info
    assert plain.software is None and plain.has_exif and plain.orientation == 6
    exif = Image.Exif()
    exif[0x0131] = "GIMP 2.10.36\x00  "
    padded = decode(_save(textured(4), tmp_path / "b.jpg", exif=exif)).info
    assert padded.software == "GIMP 2.10.36" and padded.has_exif and padded.orientation == 1
    assert padded.camera is None


@pytest.mark.parametrize("suffix", ["jpg", "png", "webp"])
def test_a_file_without_exif(tmp_path: Path, suffix: str) -> None:
    info = decode(_save(textured(5), tmp_path / f"a.{suffix}")).info
    assert (info.has_exif, info.orientation, info.software, info.camera) == (False, 1, None, None)
    assert decode(str(DEV_PHOTOS / PHOTO)).info.has_exif is False  # the dev photos carry none


def test_heif_keeps_its_stored_orientation(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    decode_module.register_plugins()
    exif = _camera_exif().tobytes()  # as bytes, pillow-heif writes the turn as an irot box
    path = _save(textured(6, (400, 300)), tmp_path / "a.heic", quality=80, exif=exif)
    decoded = decode(path)
    # libheif turned the pixels (irot) and pillow-heif reset the EXIF tag; the stored one is 6.
    assert decoded.info.orientation == 6 and decoded.image.size[0] < decoded.image.size[1]
    assert decoded.info.software == "Adobe Photoshop 25.0 (Windows)" and decoded.info.has_exif
    assert decoded.info.jpeg_grid is None and decoded.info.chroma is not None


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_turned_tiff_is_turned_once(tmp_path: Path, orientation: int) -> None:
    # Pillow turns a TIFF by its tag as it loads it; the decoder must not turn it again.
    exif = Image.Exif()
    exif[0x0112] = orientation
    picture = textured(4, (400, 300))
    tiff = decode(_save(picture, tmp_path / "a.tif", exif=exif))
    png = decode(_save(picture, tmp_path / "a.png", exif=exif))
    assert tiff.info.orientation == png.info.orientation == orientation
    assert (tiff.info.width, tiff.info.height) == (png.info.width, png.info.height)
    assert tiff.image.tobytes() == png.image.tobytes()


def _corrupt_exif() -> bytes:
    # IFD0: a Make tag whose 100 bytes lie past the end of the block, then orientation 6.
    entries = struct.pack("<HHII", 0x010F, 2, 100, 4000) + struct.pack("<HHII", 0x0112, 3, 1, 6)
    ifd = struct.pack("<H", 2) + entries + struct.pack("<I", 0)
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd


def test_corrupt_exif_still_decodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(textured(9, (400, 300)), tmp_path / "corrupt.jpg", exif=_corrupt_exif())
    info = decode(path).info
    assert (info.width, info.height, info.orientation) == (300, 400, 6)  # what Pillow still read
    assert info.chroma is not None and info.software is None
    # EXIF that makes Pillow raise costs only the metadata: every EXIF field at its default.

    def broken(self: Image.Image) -> Image.Exif:
        raise struct.error("unpack requires a buffer of 12 bytes")

    monkeypatch.setattr(Image.Image, "getexif", broken)
    tagged = _save(textured(4, (400, 300)), tmp_path / "tagged.png", exif=_camera_exif())
    for broken_path in (path, tagged):
        info = decode(broken_path).info
        assert (info.width, info.height) == (400, 300)
        assert (info.orientation, info.software, info.has_exif, info.camera) == (
            1,
            None,
            False,
            None,
        )
        assert info.chroma is not None
    assert decode(tagged).info.jpeg_grid is not None


def test_raw_takes_the_previews_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    preview = io.BytesIO()
    textured(7, (640, 480)).save(preview, "JPEG", quality=92, exif=_camera_exif("Firmware 1.1"))

    class _Raw:
        def __enter__(self) -> _Raw:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def extract_thumb(self) -> types.SimpleNamespace:
            return types.SimpleNamespace(format="jpeg", data=preview.getvalue())

    rawpy = types.ModuleType("rawpy")
    rawpy.imread = lambda path: _Raw()  # type: ignore[attr-defined]
    rawpy.ThumbFormat = types.SimpleNamespace(JPEG="jpeg")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rawpy", rawpy)
    path = tmp_path / "a.nef"
    path.write_bytes(b"a raw file")
    info = decode(str(path)).info
    assert (info.format, info.width, info.height) == ("RAW", 480, 640)
    assert (info.software, info.orientation, info.has_exif) == ("Firmware 1.1", 6, True)
    assert info.camera == "Canon EOS 5D Mark IV" and info.chroma is not None
    assert info.jpeg_quality is None and info.jpeg_grid is None


# --- storage ---------------------------------------------------------------------------------

_FULL = ImageInfo(
    width=4032,
    height=3024,
    format="PNG",
    camera="Canon EOS 5D Mark IV",
    taken_at="2024:05:01 10:00:00",
    chroma=31.25,
    jpeg_grid=1.234,
    software="GIMP 2.10",
    orientation=8,
    has_exif=True,
)


def test_image_info_round_trips_through_json() -> None:
    assert ImageInfo(**json.loads(json.dumps(asdict(_FULL)))) == _FULL
    for field in ("chroma", "jpeg_grid", "software", "orientation", "has_exif"):
        assert field in asdict(_FULL)


def test_an_old_report_or_cache_row_without_the_new_keys_still_builds_an_image_info() -> None:
    old: dict[str, Any] = {"width": 4032, "height": 3024, "format": "JPEG", "jpeg_quality": 92,
                           "camera": None, "taken_at": None}  # fmt: skip
    info = ImageInfo(**old)
    assert (info.chroma, info.jpeg_grid, info.software, info.orientation, info.has_exif) == (
        None,
        None,
        None,
        1,
        False,
    )


def test_a_report_keeps_the_new_fields_and_reads_reports_without_them() -> None:
    member = Member("/p/a.png", 1.0, "", False, 10, _FULL, fingerprint="xxh3-128:ab")
    report = ScanReport(
        groups=(Group(keep="/p/a.png", reason="", members=(member, member)),),
        skipped=(),
        stats=ScanStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 1, "fast", None, 0.5, (0.1, 0.9), {}),
    )
    data = json.loads(json.dumps(to_json(report)))
    assert from_json(data).groups[0].members[0].info == _FULL
    for m in data["groups"][0]["members"]:
        for key in ("chroma", "jpeg_grid", "software", "orientation", "has_exif"):
            del m["info"][key]
    old = from_json(data).groups[0].members[0].info
    assert old == ImageInfo(
        4032, 3024, "PNG", camera="Canon EOS 5D Mark IV", taken_at="2024:05:01 10:00:00"
    )


def test_the_cache_keeps_the_new_fields(tmp_path: Path) -> None:
    entry = FileEntry("/x/a.png", "/x", False, 10, 20)
    image = CachedImage(_FULL, np.zeros((3, 8, 8), np.uint8), None, "xxh3-128:00", "xxh3-128:01")
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        cache.store([(entry, image)])
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        assert cache.lookup_images([entry])[entry.path].info == _FULL


def _library(folder: Path) -> None:
    folder.mkdir()
    photo = _dev_photo()
    photo.save(folder / "converted.png")
    photo.convert("L").convert("RGB").save(folder / "grey.jpg", quality=88)
    textured(1).save(folder / "tagged.jpg", exif=_camera_exif())
    (folder / "broken.jpg").write_bytes(b"not a picture")


def _scan(folder: Path, cache: FeatureCache) -> FeatureSet:
    config = ScanConfig(workers=1)
    return compute_features(discover([Root(folder)], config).files, config, cache, None)


@pytest.fixture
def schema_7_cache(tmp_path: Path) -> Iterator[Path]:
    """A cache as version 7 left it: info without the new keys, and one verification."""
    _library(tmp_path / "lib")
    path = tmp_path / "c.sqlite"
    with FeatureCache(path) as cache:
        _scan(tmp_path / "lib", cache)
    with closing(sqlite3.connect(path)) as db, db:
        for key, info in db.execute(
            "SELECT path, info FROM files WHERE info IS NOT NULL"
        ).fetchall():
            old = {k: v for k, v in json.loads(info).items() if k in ("width", "height", "format",
                   "jpeg_quality", "camera", "taken_at")}  # fmt: skip
            db.execute("UPDATE files SET info=? WHERE path=?", (json.dumps(old), key))
        db.execute("INSERT INTO verifications VALUES (x'01', x'02', 0, 'orb@1', '[1.0]')")
        db.execute("UPDATE meta SET value='7' WHERE key='schema'")
    yield path


def test_a_schema_7_cache_is_upgraded_in_place_and_reads_each_picture_once_more(
    schema_7_cache: Path,
) -> None:
    folder = schema_7_cache.parent / "lib"
    with FeatureCache(schema_7_cache) as cache:
        assert cache.warnings == [] and cache.count() == 4  # kept, the broken file's row too
        upgraded = _scan(folder, cache)
        again = _scan(folder, cache)
        kept = cache._db.execute("SELECT COUNT(*) FROM verifications").fetchone()[0]
        version = cache._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0]
    assert version == str(cache_module.SCHEMA_VERSION) == "9"
    assert (upgraded.decoded, upgraded.from_cache) == (3, 1)  # the broken file stays remembered
    assert (again.decoded, again.from_cache) == (0, 4)
    assert kept == 1
    infos = {Path(e.path).name: i for e, i in zip(again.entries, again.infos, strict=True)}
    assert infos["converted.png"].jpeg_grid is not None
    assert infos["converted.png"].jpeg_grid > GRID_THRESHOLD
    grey = infos["grey.jpg"].chroma
    assert grey is not None and grey < 2
    assert infos["tagged.jpg"].has_exif and infos["tagged.jpg"].orientation == 6
    assert again.pixel_digests == upgraded.pixel_digests and all(again.pixel_digests)
