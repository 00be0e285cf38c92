"""Stage 2: decode a photo at the size the features need, the right way up.

JPEGs are decoded with libjpeg's DCT scaling (``Image.draft``): a 12-MP photo comes out at
504x378 for about half the cost of a full decode. Formats without a reduced decode (PNG, WebP,
HEIC) are decoded fully and then reduced once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from .types import ImageInfo

# The features need a short side of at least 256 px (model input 224, hashes 64).
FEATURE_DRAFT_SIZE = 256
_STANDARD_LUMA_QT = np.array(
    [
        16,
        11,
        10,
        16,
        24,
        40,
        51,
        61,
        12,
        12,
        14,
        19,
        26,
        58,
        60,
        55,
        14,
        13,
        16,
        24,
        40,
        57,
        69,
        56,
        14,
        17,
        22,
        29,
        51,
        87,
        80,
        62,
        18,
        22,
        37,
        56,
        68,
        109,
        103,
        77,
        24,
        35,
        55,
        64,
        81,
        104,
        113,
        92,
        49,
        64,
        78,
        87,
        103,
        121,
        120,
        101,
        72,
        92,
        95,
        98,
        112,
        100,
        103,
        99,
    ],
    dtype=np.float64,
)
# The same table ImageOps.exif_transpose uses; we apply it to the reduced image, which is cheap.
_EXIF_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
RAW_EXTENSIONS = frozenset({".dng", ".nef", ".cr2", ".cr3", ".arw", ".orf", ".rw2", ".raf"})


class DecodeError(Exception):
    """The file is not a picture we can read; the message says why, in words.

    ``lasting`` is False for conditions the user may fix without touching the file (a
    permission, a vanished network share), which must not be remembered by the cache.
    """

    def __init__(self, message: str, lasting: bool = True) -> None:
        super().__init__(message)
        self.lasting = lasting


@dataclass(frozen=True)
class Decoded:
    image: (
        Image.Image
    )  # RGB, EXIF orientation applied, short side >= the requested size if possible
    info: ImageInfo  # full-size dimensions after orientation


@cache
def register_plugins() -> bool:
    """Teach Pillow HEIC/HEIF/AVIF once per process; False when pillow-heif is missing."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def decode(path: str, min_side: int = FEATURE_DRAFT_SIZE, max_pixels: int = 178_000_000) -> Decoded:
    """Decode ``path`` so that its short side is about ``min_side`` (never upscaled)."""
    register_plugins()
    if path.lower().endswith(tuple(RAW_EXTENSIONS)):
        return _decode_raw(path, min_side)
    try:
        with warnings.catch_warnings():
            # We enforce our own, explicit pixel limit below instead of Pillow's warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                return _decode_open_image(img, min_side, max_pixels)
    except Image.DecompressionBombError as exc:
        raise DecodeError(f"image is too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise DecodeError("not an image file, or a format we cannot read") from exc
    except FileNotFoundError as exc:
        raise DecodeError("file disappeared during the scan", lasting=False) from exc
    except PermissionError as exc:
        raise DecodeError("permission denied", lasting=False) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DecodeError(_describe_decode_failure(exc)) from exc


def _decode_open_image(img: Image.Image, min_side: int, max_pixels: int) -> Decoded:
    width, height = img.size
    if width * height > max_pixels:
        raise DecodeError(
            f"image is too large to decode safely ({width}x{height} = "
            f"{width * height / 1e6:.0f} MP; limit {max_pixels / 1e6:.0f} MP)"
        )
    if width == 0 or height == 0:
        raise DecodeError("image has no pixels")
    fmt = img.format or "unknown"
    exif = img.getexif()
    quality = estimate_jpeg_quality(img) if fmt == "JPEG" else None
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # first frame of an animation
    if fmt == "JPEG":
        img.draft("RGB", (min_side, min_side))
    img.load()
    orientation = exif.get(ExifTags.Base.Orientation, 1)
    rotated = orientation in (5, 6, 7, 8)
    info = ImageInfo(
        width=height if rotated else width,
        height=width if rotated else height,
        format=fmt,
        jpeg_quality=quality,
        camera=_camera(exif),
        taken_at=_taken_at(exif),
    )
    small = _reduce(_to_rgb(img), min_side)
    transpose = _EXIF_TRANSPOSE.get(orientation)
    if transpose is not None:
        small = small.transpose(transpose)
    return Decoded(small, info)


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels become white, as a viewer would show them on a page.
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = float(arr.max()) or 1.0
        return Image.fromarray((arr * (255.0 / top)).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


def _reduce(img: Image.Image, min_side: int) -> Image.Image:
    short = min(img.size)
    if short <= min_side * 1.5:
        return img
    scale = min_side / short
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _decode_raw(path: str, min_side: int) -> Decoded:
    """RAW files: use the camera's embedded JPEG preview (fast, and what the camera showed)."""
    try:
        import rawpy
    except ImportError as exc:
        raise DecodeError("RAW file: install the optional 'rawpy' package to read it") from exc
    import io

    try:
        with rawpy.imread(path) as raw:
            thumb = raw.extract_thumb()
    except Exception as exc:  # rawpy raises its own hierarchy of LibRaw errors
        raise DecodeError(f"cannot read RAW file: {exc}") from exc
    if thumb.format != rawpy.ThumbFormat.JPEG:
        raise DecodeError("RAW file has no embedded JPEG preview")
    with Image.open(io.BytesIO(thumb.data)) as img:
        decoded = _decode_open_image(img, min_side, 178_000_000)
    info = ImageInfo(
        width=decoded.info.width,
        height=decoded.info.height,
        format="RAW",
        camera=decoded.info.camera,
        taken_at=decoded.info.taken_at,
    )
    return Decoded(decoded.image, info)


def estimate_jpeg_quality(img: Image.Image) -> int | None:
    """Invert libjpeg's quality scaling of the luminance table (IJG convention)."""
    tables = getattr(img, "quantization", None)
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    # Only the mean ratio to the standard table is used, so the coefficient order does not matter.
    scale = float(np.mean(np.asarray(tables[0], dtype=np.float64) / _STANDARD_LUMA_QT)) * 100.0
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return round(min(100.0, max(1.0, quality)))


def _camera(exif: Image.Exif) -> str | None:
    make = str(exif.get(ExifTags.Base.Make, "")).strip("\x00 ")
    model = str(exif.get(ExifTags.Base.Model, "")).strip("\x00 ")
    text = f"{make} {model}".strip() if not model.startswith(make) else model
    return text or None


def _taken_at(exif: Image.Exif) -> str | None:
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    value = sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    return str(value).strip("\x00 ") or None if value else None


def _describe_decode_failure(exc: BaseException) -> str:
    text = str(exc)
    if "truncated" in text:
        return "file is truncated (incomplete download or copy?)"
    if "cannot identify" in text or "not a" in text.lower():
        return "not an image file, or a format we cannot read"
    return f"cannot decode: {text}"
