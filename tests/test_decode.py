import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from ndid_desktop.engine.files.decode import DecodeError, decode, estimate_jpeg_quality

from .conftest import textured


def test_jpeg_is_drafted_to_the_feature_size_not_decoded_fully(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    textured(1, (4032, 3024)).save(path, "JPEG", quality=90)
    decoded = decode(str(path))
    assert (decoded.info.width, decoded.info.height) == (4032, 3024)
    assert min(decoded.image.size) < 500  # DCT-scaled, not 3024 rows
    assert min(decoded.image.size) >= 256


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = textured(2, (400, 300))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned; shown turned back
    img.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "r.jpg", "JPEG", exif=exif)
    img.save(tmp_path / "plain.jpg", "JPEG")
    rotated, plain = decode(str(tmp_path / "r.jpg")), decode(str(tmp_path / "plain.jpg"))
    assert (rotated.info.width, rotated.info.height) == (400, 300)
    assert rotated.image.size == plain.image.size


def test_first_frame_of_an_animation_and_transparency(tmp_path: Path) -> None:
    frames = [textured(i, (200, 150)).convert("P") for i in range(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert decode(str(tmp_path / "a.gif")).info.format == "GIF"
    rgba = Image.new("RGBA", (120, 90), (255, 0, 0, 0))
    rgba.save(tmp_path / "t.png")
    assert decode(str(tmp_path / "t.png")).image.getpixel((5, 5)) == (255, 255, 255)


def test_heic_is_read_through_pillow_heif(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    from ndid_desktop.engine.files.decode import register_plugins

    register_plugins()
    textured(3).save(tmp_path / "a.heic", "HEIF", quality=80)
    assert decode(str(tmp_path / "a.heic")).info.width == 320


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"hello, I am a text file pretending to be a JPEG", "not an image"),
    ],
)
def test_non_images_get_a_plain_reason(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "fake.jpg"
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=message):
        decode(str(path))


def test_truncated_jpeg_is_reported_as_truncated(tmp_path: Path) -> None:
    buf = io.BytesIO()
    textured(4, (800, 600)).save(buf, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(DecodeError, match="truncated"):
        decode(str(path))


def _png_header_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_claiming(60000, 60000))
    with pytest.raises(DecodeError, match="too large"):
        decode(str(path))


def test_vanished_file_is_not_a_lasting_error(tmp_path: Path) -> None:
    with pytest.raises(DecodeError) as info:
        decode(str(tmp_path / "gone.jpg"))
    assert "disappeared" in str(info.value) and not info.value.lasting


def test_jpeg_quality_is_estimated_from_its_tables(tmp_path: Path) -> None:
    for quality in (30, 75, 95):
        buf = io.BytesIO()
        textured(5).save(buf, "JPEG", quality=quality)
        with Image.open(buf) as img:
            assert abs((estimate_jpeg_quality(img) or 0) - quality) <= 2
