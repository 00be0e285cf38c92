"""Stage 2: decode a photo at the size the features need, the right way up, within a budget.

JPEGs are decoded with libjpeg's DCT scaling (``Image.draft``): a 12-MP photo comes out at
504x378 for about half the cost of a full decode. Formats without a reduced decode (PNG, WebP,
HEIC, TIFF) are decoded fully at their own depth and then converted to RGB and reduced a strip
of rows at a time, so no full-size converted copy (16-bit scaled to 8, transparency on white)
ever exists. HEIC/HEIF is read straight from the buffer libheif decodes into (pillow-heif's
public ``open_heif``), a strip at a time, so Pillow's own full-size copy of it never exists.

Before any pixel is decoded, the bytes the decode will allocate are added up (Pillow's own
storage per pixel, the decoder's private buffers, the strips and the reduced picture) and a file
over ``ScanConfig.max_decode_bytes`` is skipped with the reason, so one hostile but small file
cannot take a worker's memory. benchmarks/bench_decode_memory.py measures the figures used here.

The decoder also records evidence of provenance, for telling which file was made from which:
the picture's colourfulness, the EXIF Software, orientation and presence, and, for lossless
files, how strongly their full-size pixels show a JPEG's 8x8 block grid.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from ndid_desktop.engine.config import MAX_DECODE_BYTES
from ndid_desktop.engine.types import ImageInfo

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
# Formats whose pixels are stored exactly: a JPEG's block grid in them was there before.
LOSSLESS_FORMATS = frozenset({"PNG", "TIFF", "BMP", "PPM"})
# The block grid is measured on a central crop of the full-size luminance, at most this big
# (2 ms on a 12 MP RGB picture), and not at all below the smaller size.
GRID_CROP = 1024
_GRID_MIN = 64
# Its temporaries per pixel of the crop, at worst (16-bit): the crop (4), its luminance as
# float32 (4) and the steps between neighbours (4), beside the decoded picture.
_GRID_WORK_PER_PIXEL = 12
# Colourfulness is measured on every second row and column of the reduced picture.
_CHROMA_STEP = 2

# Bytes per pixel of Pillow's own storage: RGB (and every other multi-band mode) takes 4.
_STORAGE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_DEFAULT_STORAGE_BYTES = 4
# Full-size buffers some decoders hold beside Pillow's picture, in bytes per pixel, measured
# with benchmarks/bench_decode_memory.py (Pillow 13, pillow-heif 1.8): libwebp's canvases and
# the frame it hands to Pillow as bytes; libheif's YUV planes and its interleaved RGB output.
_DECODER_COPIES = {"WEBP": 12.0, "HEIF": 3.5, "AVIF": 3.5}
# HEIF pictures in these modes are reduced straight from libheif's buffer (bytes per pixel);
# the rest (16-bit monochrome) go through Pillow, which needs the whole picture's maximum.
_HEIF_DIRECT_MODES = {"RGB": 3, "RGBA": 4, "L": 1}
# libheif's peak on that path, in bytes per pixel, by (more than 8 bits a sample, chroma kept at
# full size): its YUV planes, libde265's pictures and the interleaved RGB output all live at
# once. Measured with benchmarks/bench_decode_memory.py on 48 MP HEICs (session held): 8-bit
# 4:2:0 4.7-4.9 (whole and 512 px grid), 10-bit 4:2:0 7.8, 8-bit 4:4:4 9.3; 10-bit 4:4:4 is
# their product, not measured; 4:2:2 counts as 4:4:4. Pillow's 4 bytes a pixel never come.
# ("HEIF" in _DECODER_COPIES is for a thumbnail or 16-bit picture that Pillow still decodes.)
_HEIF_DIRECT_COPIES = {
    (False, False): 4.9,
    (True, False): 7.8,
    (False, True): 9.3,
    (True, True): 15.0,
}
# Conversion to RGB runs a strip of rows at a time; a strip's temporaries stay near this size.
STRIP_BYTES = 4_000_000
# Temporaries per pixel of a strip, at worst: the crop (4), a 16-bit strip scaled through
# float64 (2 + 8 + 8 + 1), transparency flattened through an RGBA copy on white (4 + 4), RGB (4).
_STRIP_WORK_PER_PIXEL = 32
_RGB_BYTES = 4
# Pillow's own reducing_gap for the final resize: an integer box reduction, then bilinear.
_REDUCING_GAP = 2.0
_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_MODE_WORDS = {
    "1": "black-and-white",
    "L": "greyscale",
    "LA": "greyscale with transparency",
    "P": "palette",
    "PA": "palette with transparency",
    "RGB": "colour",
    "RGBA": "colour with transparency",
    "CMYK": "CMYK colour",
    "I": "32-bit greyscale",
    "F": "floating-point greyscale",
}


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


def decode(
    path: str, min_side: int = FEATURE_DRAFT_SIZE, max_decode_bytes: int = MAX_DECODE_BYTES
) -> Decoded:
    """Decode ``path`` so that its short side is about ``min_side`` (never upscaled), refusing
    files whose decode would allocate more than ``max_decode_bytes``."""
    register_plugins()
    if path.lower().endswith(tuple(RAW_EXTENSIONS)):
        return _decode_raw(path, min_side, max_decode_bytes)
    try:
        if os.path.getsize(path) == 0:
            raise DecodeError("empty file")
        with _quiet_pillow(), Image.open(path) as img:
            return _decode_open_image(img, min_side, max_decode_bytes, path)
    except Image.DecompressionBombError as exc:
        raise DecodeError(_too_many_pixels()) from exc
    except UnidentifiedImageError as exc:
        raise DecodeError("not an image file, or a format we cannot read") from exc
    except FileNotFoundError as exc:
        raise DecodeError("file disappeared during the scan", lasting=False) from exc
    except PermissionError as exc:
        raise DecodeError("permission denied", lasting=False) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # EOFError: libheif, cut short
        raise DecodeError(_describe_decode_failure(exc)) from exc


def estimate_decode_bytes(path: str, min_side: int = FEATURE_DRAFT_SIZE) -> int:
    """The bytes ``decode(path, min_side)`` would allocate, read from the header alone."""
    register_plugins()
    with _quiet_pillow(), Image.open(path) as img:
        return _prepare(img, min_side)[0]


@contextmanager
def _quiet_pillow() -> Iterator[None]:
    """Pillow warns (UserWarning) about corrupt EXIF and odd TIFF tags on pictures it still
    reads, and past ~89 MP about bombs, which our own budget decides; none is the user's
    concern on stderr. Local to the Pillow calls, so nothing else loses its warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _decode_open_image(
    img: Image.Image, min_side: int, max_decode_bytes: int, path: str | None = None
) -> Decoded:
    """Decode an opened picture; ``path`` (its file) lets a HEIF be read without Pillow."""
    width, height = img.size
    if width == 0 or height == 0:
        raise DecodeError("image has no pixels")
    fmt = img.format or "unknown"
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # first frame of an animation
    stored_mode = img.mode
    needed, direct = _prepare(img, min_side)
    if needed > max_decode_bytes:
        raise DecodeError(_too_large(width, height, stored_mode, needed, max_decode_bytes))
    # Only now: a PNG's getexif() decodes the whole picture (its EXIF may follow the pixels).
    meta = _metadata(img)
    orientation = meta.orientation  # still to apply to the decoded pixels
    quality = estimate_jpeg_quality(img) if fmt == "JPEG" else None
    grid = None
    if direct and path is not None:
        small = heif_to_small_rgb(path, img.tell(), min_side)
    else:
        img.load()
        if _turned_by_pillow(img, orientation):
            orientation = 1
            width, height = img.size
        if fmt in LOSSLESS_FORMATS:
            grid = jpeg_grid(img)  # on the stored pixels, before anything resamples them
        small = to_small_rgb(img, min_side)
    rotated = orientation in (5, 6, 7, 8)
    info = ImageInfo(
        width=height if rotated else width,
        height=width if rotated else height,
        format=fmt,
        jpeg_quality=quality,
        camera=meta.camera,
        taken_at=meta.taken_at,
        chroma=colourfulness(small),
        jpeg_grid=grid,
        software=meta.software,
        orientation=meta.stored_orientation,
        has_exif=meta.has_exif,
    )
    transpose = _EXIF_TRANSPOSE.get(orientation)
    if transpose is not None:
        small = small.transpose(transpose)
    return Decoded(small, info)


def _turned_by_pillow(img: Image.Image, orientation: int) -> bool:
    """Pillow 13 (older versions may not) turns a TIFF by its orientation tag as it loads it,
    reports the turned size from the start, and drops the tag: turning it again would undo
    that (or turn it twice). Its block grid is then measured on the turned pixels."""
    tags = getattr(img, "tag_v2", None)
    return (
        img.format == "TIFF"
        and orientation != 1
        and tags is not None
        and ExifTags.Base.Orientation not in tags
    )


@dataclass(frozen=True)
class _Metadata:
    orientation: int = 1  # the orientation still to apply to the decoded pixels
    camera: str | None = None
    taken_at: str | None = None
    software: str | None = None
    stored_orientation: int = 1  # as the file stores it (libheif applies a HEIF's itself)
    has_exif: bool = False


def _metadata(img: Image.Image) -> _Metadata:
    """What the EXIF block says; the defaults when it is malformed."""
    try:
        exif = img.getexif()
        orientation = int(exif.get(ExifTags.Base.Orientation, 1))
        # pillow-heif resets a HEIF's EXIF orientation to 1 (libheif turns the pixels) and
        # keeps the file's own value here.
        stored = img.info.get("original_orientation")
        return _Metadata(
            orientation=orientation,
            camera=_camera(exif),
            taken_at=_taken_at(exif),
            software=_text(exif.get(ExifTags.Base.Software)),
            stored_orientation=int(stored) if stored is not None else orientation,
            has_exif=len(exif) > 0,
        )
    except Exception:
        # Metadata is optional: a corrupt EXIF block (Pillow raises struct.error, SyntaxError,
        # ValueError, TypeError... depending on where it breaks) must not cost the picture.
        return _Metadata()


# --- the memory budget -------------------------------------------------------------------------


def _prepare(img: Image.Image, min_side: int) -> tuple[int, bool]:
    """Set up the reduced decode; return the bytes the decode will allocate, and whether the
    picture is a HEIF to read straight from libheif's buffer (see heif_to_small_rgb)."""
    # Counted before the draft: libjpeg sizes a progressive file's buffers by the stored size.
    progressive = img.format == "JPEG" and bool(img.info.get("progressive"))
    coefficients = _jpeg_coefficient_bytes(img) if progressive else 0
    # JPEG: DCT scaling; HEIF (pillow-heif): an embedded thumbnail at least this big, if any;
    # a no-op for formats without a reduced decode.
    stored_size = img.size
    img.draft("RGB", (min_side, min_side))
    # A HEIF whose draft chose a thumbnail (always smaller than the picture) stays with Pillow.
    direct = img.format == "HEIF" and img.size == stored_size and img.mode in _HEIF_DIRECT_MODES
    pipeline = _pipeline_bytes(img.size, img.mode, min_side, stored=not direct)
    grid = _grid_bytes(img.size) if img.format in LOSSLESS_FORMATS else 0
    turn = _tiff_turn_bytes(img)
    return coefficients + _decoder_bytes(img, direct) + pipeline + grid + turn, direct


def _decoder_bytes(img: Image.Image, direct: bool = False) -> int:
    """Buffers the codec allocates for itself, beside the picture Pillow gets (``direct``: a
    HEIF read from libheif's buffer, where that buffer is the whole decoded picture)."""
    width, height = img.size
    if direct:
        deep = int(img.info.get("bit_depth") or 8) > 8
        full_chroma = img.info.get("chroma") not in (None, 400, 420)  # None: monochrome
        return int(width * height * _HEIF_DIRECT_COPIES[deep, full_chroma])
    if img.format == "TIFF":
        return _tiff_strip_bytes(img)
    return int(width * height * _DECODER_COPIES.get(img.format or "", 0.0))


def _tiff_turn_bytes(img: Image.Image) -> int:
    """Pillow turns a TIFF with an orientation tag as it loads it, into a second full-size
    picture (ImageOps.exif_transpose, in place)."""
    if img.format != "TIFF" or getattr(img, "tag_v2", {}).get(ExifTags.Base.Orientation, 1) == 1:
        return 0
    width, height = img.size
    return width * height * _STORAGE_BYTES.get(img.mode, _DEFAULT_STORAGE_BYTES)


def _jpeg_coefficient_bytes(img: Image.Image) -> int:
    """A progressive JPEG keeps every DCT coefficient (64 x 16 bits a block) of every component
    at full size until its last scan, whatever scale the draft asked for."""
    width, height = img.size
    layers: list[tuple[str, int, int, int]] = getattr(img, "layer", [])
    if not layers:
        return width * height * 3 * 2  # three full-size components, 2 bytes a coefficient
    h_max = max(h for _, h, _, _ in layers)
    v_max = max(v for _, _, v, _ in layers)
    blocks = sum(
        math.ceil(width * h / h_max / 8) * math.ceil(height * v / v_max / 8)
        for _, h, v, _ in layers
    )
    return blocks * 64 * 2


def _tiff_strip_bytes(img: Image.Image) -> int:
    """libtiff decodes one strip (or tile) at a time into a buffer at the file's own depth; a
    scanner's single-strip TIFF makes that buffer the size of the whole picture."""
    tags = getattr(img, "tag_v2", {})
    width, height = img.size
    samples = int(tags.get(277, 1))
    bits = tags.get(258, 8)
    depth = max(bits) if isinstance(bits, tuple) else int(bits)
    if 322 in tags and 323 in tags:
        columns, rows = int(tags[322]), int(tags[323])
    else:
        columns, rows = width, min(int(tags.get(278, height)), height)
    return columns * rows * samples * math.ceil(depth / 8)


def _pipeline_bytes(size: tuple[int, int], mode: str, min_side: int, stored: bool = True) -> int:
    """The decoded picture in Pillow's storage (unless ``stored`` is False: a HEIF read from
    libheif's buffer), the strips converting it, the reduced picture and its last copies."""
    width, height = size
    decoded = width * height * _STORAGE_BYTES.get(mode, _DEFAULT_STORAGE_BYTES) if stored else 0
    target = _target_size(size, min_side)
    out_width, out_height = target or size
    final = out_width * out_height * _RGB_BYTES  # the resize's output; the transpose copies it
    if mode == "RGB" and stored:
        # Pillow reduces an RGB picture straight into the small one; nothing at full size.
        factor_x, factor_y = _reduce_factor(size, target)
        reduced = math.ceil(width / factor_x) * math.ceil(height / factor_y) * _RGB_BYTES
        return decoded + (reduced if target else 0) + 2 * final
    _, factor_y = factor = _reduce_factor(size, target)
    strip = min(height, _strip_rows(width, factor_y, STRIP_BYTES)) * width * _STRIP_WORK_PER_PIXEL
    reduced = math.ceil(width / factor[0]) * math.ceil(height / factor_y) * _RGB_BYTES
    return decoded + strip + reduced + 2 * final


def _grid_bytes(size: tuple[int, int]) -> int:
    """What measuring the block grid (jpeg_grid) allocates beside the decoded picture."""
    return min(size[0], GRID_CROP) * min(size[1], GRID_CROP) * _GRID_WORK_PER_PIXEL


def _too_large(width: int, height: int, mode: str, needed: int, budget: int) -> str:
    what = "16-bit greyscale" if mode.startswith("I;16") else _MODE_WORDS.get(mode, mode)
    return (
        f"too large to decode safely: {width}x{height} {what}, would need "
        f"{_amount(needed)} of memory (the limit is {_amount(budget)})"
    )


def _too_many_pixels() -> str:
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return f"too large to decode safely: over {limit / 1e6:.0f} megapixels"


def _amount(count: int) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{max(1, round(count / 1e6))} MB"


# --- reduction and conversion to RGB -------------------------------------------------------


def to_small_rgb(img: Image.Image, min_side: int, strip_bytes: int = STRIP_BYTES) -> Image.Image:
    """``img`` as RGB with its short side reduced to about ``min_side`` (never upscaled).

    Any other mode is converted a strip of rows at a time, each strip reduced by Pillow's own
    integer factor as it goes; the result is pixel for pixel what converting the whole picture
    and then resizing it would give, without the full-size converted copy.
    """
    target = _target_size(img.size, min_side)
    if img.mode == "RGB":
        if target is None:
            return img
        return img.resize(target, Image.Resampling.BILINEAR, reducing_gap=_REDUCING_GAP)
    top = _top_value(img)

    def strip(y: int, bottom: int) -> Image.Image:
        return _to_rgb(img.crop((0, y, img.width, bottom)), top)

    return _small_from_strips(img.size, target, strip, strip_bytes)


def heif_to_small_rgb(
    path: str, frame: int, min_side: int, strip_bytes: int = STRIP_BYTES
) -> Image.Image:
    """Frame ``frame`` of the HEIF at ``path`` as ``to_small_rgb`` would make it, read from the
    buffer libheif decodes into, a strip of rows at a time: Pillow's full-size copy of the
    picture (4 bytes a pixel beside libheif's 3) never exists. libheif has already applied the
    file's rotation and mirroring (irot/imir), exactly as on Pillow's path."""
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=True)
        image = heif[frame]
        data, stride, mode, (width, height) = image.data, image.stride, image.mode, image.size
    except RuntimeError as exc:  # libheif's other errors reach decode()'s own handler
        raise DecodeError(_describe_decode_failure(exc)) from exc
    channels = _HEIF_DIRECT_MODES.get(mode)
    if channels is None or stride < width * channels:
        raise DecodeError(f"cannot decode: unexpected HEIF pixel layout {mode} (stride {stride})")
    try:
        rows = np.frombuffer(data, dtype=np.uint8, count=height * stride).reshape(height, stride)
    except ValueError as exc:
        raise DecodeError("file is truncated (incomplete download or copy?)") from exc

    def strip(y: int, bottom: int) -> Image.Image:
        # Image.frombuffer copies just these rows into a strip-sized picture of Pillow's own.
        piece = Image.frombuffer(mode, (width, bottom - y), rows[y:bottom], "raw", mode, stride, 1)
        return _to_rgb(piece, 1.0)

    return _small_from_strips(
        (width, height), _target_size((width, height), min_side), strip, strip_bytes
    )


def _small_from_strips(
    size: tuple[int, int],
    target: tuple[int, int] | None,
    strip: Callable[[int, int], Image.Image],
    strip_bytes: int,
) -> Image.Image:
    """Build the small RGB picture from ``strip(top, bottom)``, the RGB rows [top, bottom)."""
    factor = _reduce_factor(size, target)
    reduced = _convert_in_strips(size, strip, factor, strip_bytes)
    if target is None:
        return reduced
    # The box Pillow's resize uses after its own reduce step, so the result is the same.
    box = (0.0, 0.0, size[0] / factor[0], size[1] / factor[1])
    return reduced.resize(target, Image.Resampling.BILINEAR, box=box)


def _target_size(size: tuple[int, int], min_side: int) -> tuple[int, int] | None:
    """The reduced size, or None when the picture is already small enough to keep."""
    width, height = size
    short = min(size)
    if short <= min_side * 1.5:
        return None
    scale = min_side / short
    return max(1, round(width * scale)), max(1, round(height * scale))


def _reduce_factor(size: tuple[int, int], target: tuple[int, int] | None) -> tuple[int, int]:
    """The integer box reduction Pillow's resize does first with our reducing gap."""
    if target is None:
        return 1, 1
    factor_x = int(size[0] / target[0] / _REDUCING_GAP) or 1
    factor_y = int(size[1] / target[1] / _REDUCING_GAP) or 1
    return factor_x, factor_y


def _strip_rows(width: int, factor_y: int, strip_bytes: int) -> int:
    """Rows per strip: a multiple of the vertical factor, so strips reduce like the whole."""
    rows = strip_bytes // max(1, width * _STRIP_WORK_PER_PIXEL)
    return max(factor_y, rows // factor_y * factor_y)


def _convert_in_strips(
    size: tuple[int, int],
    strip_at: Callable[[int, int], Image.Image],
    factor: tuple[int, int],
    strip_bytes: int,
) -> Image.Image:
    width, height = size
    out = Image.new("RGB", (math.ceil(width / factor[0]), math.ceil(height / factor[1])))
    rows = _strip_rows(width, factor[1], strip_bytes)
    for y in range(0, height, rows):
        strip = strip_at(y, min(height, y + rows))
        if factor != (1, 1):
            strip = strip.reduce(factor)
        out.paste(strip, (0, y // factor[1]))
    return out


def _top_value(img: Image.Image) -> float:
    """The brightest value of a 16- or 32-bit greyscale picture, which maps to white."""
    if img.mode not in _GREY_MODES:
        return 1.0
    top = img.getextrema()[1]
    return float(top) if isinstance(top, int | float) and top > 0 else 1.0


def _to_rgb(img: Image.Image, top: float) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels become white, as a viewer would show them on a page.
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in _GREY_MODES:
        scaled = np.asarray(img, dtype=np.float64) * (255.0 / top)
        return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


# --- RAW, JPEG quality, EXIF ---------------------------------------------------------------


def _decode_raw(path: str, min_side: int, max_decode_bytes: int) -> Decoded:
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
    with _quiet_pillow(), Image.open(io.BytesIO(thumb.data)) as img:
        decoded = _decode_open_image(img, min_side, max_decode_bytes)
    # What the preview's EXIF says stands for the file (its chroma too); its JPEG quality and
    # block grid are the preview's own, not the RAW's.
    info = replace(decoded.info, format="RAW", jpeg_quality=None, jpeg_grid=None)
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


# --- evidence of provenance ----------------------------------------------------------------


def colourfulness(image: Image.Image) -> float:
    """Hasler & Süsstrunk's colourfulness M of an RGB picture (0 for grey, ~15-60 for a colour
    photo), on every ``_CHROMA_STEP``-th row and column: well under a millisecond."""
    rgb = np.asarray(image)[::_CHROMA_STEP, ::_CHROMA_STEP].astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    spread = math.hypot(float(rg.std()), float(yb.std()))
    offset = math.hypot(float(rg.mean()), float(yb.mean()))
    return round(spread + 0.3 * offset, 2)


def jpeg_grid(img: Image.Image) -> float | None:
    """How strongly the luminance steps at the 8x8 block boundaries of a JPEG: the mean
    absolute difference between columns x and x+1 where x % 8 == 7, over that at the other
    columns, averaged with the same for rows. About 1.0 for pixels that never were a JPEG,
    clearly more for a JPEG's decoded pixels saved losslessly (see tests/test_provenance.py).

    Measured on a central crop of at most ``GRID_CROP`` square of the picture as stored, at
    coordinates that are multiples of 8 so that the file's own grid keeps its phase. None when
    the crop is under 64x64 or flat.
    """
    width, height = img.size
    crop_w, crop_h = min(width, GRID_CROP), min(height, GRID_CROP)
    if crop_w < _GRID_MIN or crop_h < _GRID_MIN:
        return None
    left = (width - crop_w) // 2 // 8 * 8
    top = (height - crop_h) // 2 // 8 * 8
    try:
        luma = _luminance(img.crop((left, top, left + crop_w, top + crop_h)))
    except (ValueError, OSError):  # a mode Pillow cannot turn into luminance
        return None
    ratios = [
        ratio
        for ratio in (_boundary_ratio(luma, axis=1), _boundary_ratio(luma, axis=0))
        if ratio is not None
    ]
    return round(sum(ratios) / len(ratios), 3) if ratios else None


def _luminance(crop: Image.Image) -> np.ndarray:
    """The crop's luminance as a 2-D array: 8-bit pictures as int16 (JPEG's own Y weights),
    deeper greyscale at its own depth as float32."""
    if crop.mode in (*_GREY_MODES, "F"):
        return np.asarray(crop, dtype=np.float32)
    grey = crop if crop.mode == "L" else crop.convert("L")
    return np.asarray(grey).astype(np.int16)


def _boundary_ratio(luma: np.ndarray, axis: int) -> float | None:
    """Mean step across block boundaries over the mean step elsewhere, along ``axis``."""
    steps = np.diff(luma, axis=axis)
    np.abs(steps, out=steps)
    other = 1 - axis
    per_line = steps.sum(axis=other, dtype=np.float64)  # one total per column (or row) gap
    boundary = np.arange(per_line.size) % 8 == 7
    across, inside = per_line[boundary], per_line[~boundary]
    if across.size == 0 or float(inside.mean()) == 0.0:
        return None
    return float(across.mean()) / float(inside.mean())


def _text(value: object) -> str | None:
    """An EXIF text tag as a string, without the padding some writers leave; None if empty."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip("\x00 ") if value is not None else ""
    return text or None


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
    text = str(exc).strip()
    if "truncated" in text or "end of file" in text.lower():
        return "file is truncated (incomplete download or copy?)"
    if "cannot identify" in text or "not a" in text.lower():
        return "not an image file, or a format we cannot read"
    return f"cannot decode: {text}"
