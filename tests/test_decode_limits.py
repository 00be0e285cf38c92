"""The decode budget, degenerate sizes, and the messages a person reads about odd files."""

import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from ndid_desktop.engine.compare import compare
from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.encoders import LITE0, model_input
from ndid_desktop.engine.features.hashes import compute_hashes
from ndid_desktop.engine.files.decode import (
    DecodeError,
    decode,
    estimate_decode_bytes,
    heif_to_small_rgb,
    register_plugins,
    to_small_rgb,
)

from .conftest import textured


def _grey16(width: int, height: int) -> Image.Image:
    ramp = np.linspace(0, 60000, width * height).reshape(height, width)
    return Image.fromarray(ramp.astype(np.uint16))


def test_sixteen_bit_png_over_the_budget_is_skipped_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    _grey16(2000, 1500).save(path)  # 6 MB of 16-bit pixels once decoded
    with pytest.raises(DecodeError) as info:
        decode(str(path), max_decode_bytes=4_000_000)
    message = str(info.value)
    assert message.startswith("too large to decode safely: 2000x1500 16-bit greyscale")
    assert re.search(r"would need \d+ MB of memory \(the limit is 4 MB\)$", message)
    assert estimate_decode_bytes(str(path)) >= 2000 * 1500 * 2  # two bytes a pixel at least


def test_over_budget_png_is_refused_before_its_pixels_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PNG's getexif() decodes the whole picture; the budget must be checked before it.
    path = tmp_path / "scan.png"
    _grey16(800, 600).save(path)

    def no_decoding(self: Image.Image) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    with pytest.raises(DecodeError, match="too large"):
        decode(str(path), max_decode_bytes=100_000)


def test_the_default_budget_admits_a_12_mp_png(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    textured(6, (400, 300)).resize((4000, 3000)).save(path, compress_level=1)
    assert estimate_decode_bytes(str(path)) <= ScanConfig().max_decode_bytes
    decoded = decode(str(path), max_decode_bytes=ScanConfig().max_decode_bytes)
    assert (decoded.info.width, decoded.info.height) == (4000, 3000)
    assert min(decoded.image.size) == 256


def test_sixteen_bit_png_decodes_to_full_range_rgb(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    _grey16(1200, 900).save(path)
    image = decode(str(path)).image
    assert image.mode == "RGB" and min(image.size) == 256
    extrema = image.getextrema()
    assert extrema[0][0] < 5 and extrema[0][1] > 245  # the brightest value maps to white


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "I;16", "CMYK"])
def test_conversion_in_strips_equals_converting_the_whole_picture(mode: str) -> None:
    base = textured(7, (731, 517))
    img = _grey16(731, 517) if mode == "I;16" else base.convert(mode)
    if mode in ("LA", "RGBA"):
        img.putalpha(Image.linear_gradient("L").resize(img.size))
    whole = to_small_rgb(img, 64, strip_bytes=10**12)  # one strip
    strips = to_small_rgb(img, 64, strip_bytes=731 * 32 * 7)  # ~7 rows, not a multiple of 4
    assert whole.size == strips.size == (90, 64)
    assert np.array_equal(np.asarray(whole), np.asarray(strips))


def test_strip_reduction_matches_pillows_own_resize() -> None:
    img = textured(8, (997, 613)).convert("L")
    ours = to_small_rgb(img, 100, strip_bytes=1)
    reference = img.convert("RGB").resize(ours.size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    assert np.array_equal(np.asarray(ours), np.asarray(reference))


@pytest.mark.parametrize(
    ("size", "name"),
    [((1, 1), "spacer.gif"), ((20000, 10), "strip.png"), ((10, 20000), "tall.png")],
)
def test_one_pixel_sides_decode_and_hash(tmp_path: Path, size: tuple[int, int], name: str) -> None:
    path = tmp_path / name
    Image.new("P" if name.endswith(".gif") else "RGB", size, 3).save(path)
    decoded = decode(str(path))
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == size  # nothing to reduce, and never upscaled
    assert (decoded.info.width, decoded.info.height) == size
    hashes = compute_hashes(decoded.image)
    assert hashes.shape == (3, 8, 8) and hashes.dtype == np.uint8
    assert model_input(decoded.image, LITE0).shape == (224, 224, 3)


def test_one_pixel_wide_jpeg_decodes(tmp_path: Path) -> None:
    path = tmp_path / "line.jpg"
    Image.new("RGB", (5000, 1), (10, 200, 30)).save(path)
    decoded = decode(str(path))
    assert decoded.image.size[1] == 1 and decoded.image.size[0] >= 5000 // 8
    assert compute_hashes(decoded.image).shape == (3, 8, 8)


def test_zero_byte_file_is_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "nothing.jpg"
    path.write_bytes(b"")
    with pytest.raises(DecodeError, match="empty file") as info:
        decode(str(path))
    assert info.value.lasting


def _corrupt_exif() -> bytes:
    # IFD0: a Make tag whose 100 bytes lie past the end of the block, then orientation 6.
    entries = struct.pack("<HHII", 0x010F, 2, 100, 4000) + struct.pack("<HHII", 0x0112, 3, 1, 6)
    ifd = struct.pack("<H", 2) + entries + struct.pack("<I", 0)
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd


def test_corrupt_exif_decodes_without_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "corrupt-exif.jpg"
    textured(9, (400, 300)).save(path, exif=_corrupt_exif())
    with warnings.catch_warnings(record=True) as raw:
        warnings.simplefilter("always")
        with Image.open(path) as img:
            img.getexif()
    assert raw, "the file must be one Pillow warns about, or this test proves nothing"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decoded = decode(str(path))
    assert caught == []
    assert (decoded.info.width, decoded.info.height) == (300, 400)  # orientation still read
    assert decoded.info.camera is None


def test_compare_says_a_missing_file_does_not_exist(tmp_path: Path) -> None:
    present = tmp_path / "a.jpg"
    textured(10).save(present)
    with pytest.raises(DecodeError) as info:
        compare(str(present), str(tmp_path / "missing.jpg"), ScanConfig(model_set="fast"))
    assert "missing.jpg: file does not exist" in str(info.value)
    assert "disappeared" not in str(info.value)


# --- HEIC read straight from libheif's buffer ----------------------------------------------


def _heic(path: Path, img: Image.Image, **params: object) -> Path:
    pytest.importorskip("pillow_heif")
    register_plugins()
    # x265's fastest preset: 0.7 s instead of 5 s for 1200x900 on a small machine.
    img.save(path, "HEIF", quality=90, enc_params={"preset": "ultrafast"}, **params)
    return path


def _through_pillow(path: Path) -> Image.Image:
    """The picture as Pillow's own path gives it: the whole frame decoded, then reduced."""
    with Image.open(path) as img:
        img.load()
        return to_small_rgb(img, 256)


def _assert_same(ours: Image.Image, reference: Image.Image) -> None:
    assert ours.size == reference.size
    diff = np.abs(np.asarray(ours, np.int16) - np.asarray(reference, np.int16))
    assert diff.mean() < 1.0  # in grey levels; the same bytes reduced the same way: 0
    assert np.array_equal(np.asarray(ours), np.asarray(reference))


def test_heic_is_reduced_from_libheifs_buffer_without_pillows_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _heic(tmp_path / "photo.heic", textured(11, (1200, 900)))
    from pillow_heif.as_plugin import HeifImageFile

    with monkeypatch.context() as patch:

        def no_pillow_decode(self: Image.Image) -> None:
            raise AssertionError("Pillow decoded the picture")

        patch.setattr(HeifImageFile, "load", no_pillow_decode)
        decoded = decode(str(path))  # 104-row strips: nine of them
    assert decoded.image.mode == "RGB" and decoded.image.size == (341, 256)
    assert (decoded.info.width, decoded.info.height, decoded.info.format) == (1200, 900, "HEIF")
    reference = _through_pillow(path)
    _assert_same(decoded.image, reference)
    for strip_bytes in (1, 1200 * 32 * 7):  # a strip a row, and 7 rows (not a multiple of 2)
        _assert_same(heif_to_small_rgb(str(path), 0, 256, strip_bytes=strip_bytes), reference)


def test_heic_rotation_is_applied_as_on_pillows_path(tmp_path: Path) -> None:
    source = textured(12, (1200, 900))
    exif = Image.Exif()
    exif[0x0112] = 6  # pillow-heif writes it as an irot box, which libheif applies
    path = _heic(tmp_path / "turned.heic", source, exif=exif.tobytes())
    decoded = decode(str(path))
    assert (decoded.info.width, decoded.info.height) == (900, 1200)
    assert decoded.image.size == (256, 341)
    _assert_same(decoded.image, _through_pillow(path))
    # And it is the right way round: orientation 6 is shown turned 90 degrees clockwise.
    shown = np.asarray(to_small_rgb(source.transpose(Image.Transpose.ROTATE_270), 256), np.int16)
    wrong = np.asarray(to_small_rgb(source.transpose(Image.Transpose.ROTATE_90), 256), np.int16)
    ours = np.asarray(decoded.image, np.int16)
    assert np.abs(ours - shown).mean() < 4 < np.abs(ours - wrong).mean()


@pytest.mark.parametrize("mode", ["RGBA", "L"])
def test_heic_with_transparency_or_in_grey_decodes_as_on_pillows_path(
    tmp_path: Path, mode: str
) -> None:
    img = textured(13, (1200, 900)).convert(mode)
    if mode == "RGBA":  # transparency goes on white
        img.putalpha(Image.linear_gradient("L").resize(img.size))
    path = _heic(tmp_path / "odd.heic", img)
    with Image.open(path) as opened:
        assert opened.mode == mode  # stored as such, so the strips convert it
    decoded = decode(str(path))
    assert decoded.image.mode == "RGB" and decoded.image.size == (341, 256)
    _assert_same(decoded.image, _through_pillow(path))


def test_heic_budget_is_checked_before_decoding(tmp_path: Path) -> None:
    # (benchmarks/bench_decode_memory.py shows a 48 MP HEIC admitted, and its peak.)
    path = _heic(tmp_path / "photo.heic", textured(14, (1200, 900)))
    needed = estimate_decode_bytes(str(path))
    assert needed >= 4.9 * 1200 * 900  # libheif's YUV planes and RGB buffer, at least
    # Full-size chroma costs libheif more (measured 9.3 bytes a pixel against 4.9).
    full = _heic(tmp_path / "444.heic", textured(14, (1200, 900)), chroma=444)
    assert estimate_decode_bytes(str(full)) - needed == pytest.approx(4.4 * 1200 * 900, rel=0.01)
    with pytest.raises(DecodeError, match="too large"):
        decode(str(path), max_decode_bytes=needed - 1)
    assert decode(str(path), max_decode_bytes=needed).image.size == (341, 256)


def test_heic_thumbnail_big_enough_is_still_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pillow_heif

    path = _heic(tmp_path / "thumbed.heic", textured(15, (1200, 900)), thumbnails=[400])

    def no_full_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("the full picture was decoded")

    monkeypatch.setattr(pillow_heif, "open_heif", no_full_decode)
    decoded = decode(str(path))
    assert decoded.image.size == (400, 300)  # the 400x300 thumbnail, kept as it is
    assert (decoded.info.width, decoded.info.height) == (1200, 900)


def test_truncated_heic_is_reported_as_truncated(tmp_path: Path) -> None:
    whole = _heic(tmp_path / "whole.heic", textured(16, (1200, 900))).read_bytes()
    path = tmp_path / "cut.heic"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DecodeError, match=r"^file is truncated \(incomplete download or copy\?\)$"):
        decode(str(path))
