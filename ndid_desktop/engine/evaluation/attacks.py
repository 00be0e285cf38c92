"""The attack generator: labelled near-duplicates made from distinct photos.

Each edit turns a source photo into a copy a real library holds — resized, recompressed,
converted, cropped, recoloured, overlaid, rotated, screenshotted, printed and scanned — and says
how hard it should be (tier). Deterministic for a given seed. Used to fit and to test the
decision model; `ndid eval make-dataset` writes the same thing to disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from ndid_desktop.engine.files.decode import register_plugins

EASY, MEDIUM, HARD = "easy", "medium", "hard"


@dataclass(frozen=True)
class Edited:
    image: Image.Image
    format: str  # Pillow format name to save as
    options: dict[str, object]


EditFn = Callable[[Image.Image, random.Random], Edited]


@dataclass(frozen=True)
class Edit:
    name: str
    tier: str
    apply: EditFn


def _jpeg(img: Image.Image, quality: int = 90) -> Edited:
    return Edited(img.convert("RGB"), "JPEG", {"quality": quality})


def _resize(scale: float) -> EditFn:
    def fn(img: Image.Image, rng: random.Random) -> Edited:
        size = (max(8, round(img.width * scale)), max(8, round(img.height * scale)))
        return _jpeg(img.resize(size, Image.Resampling.LANCZOS))

    return fn


def _quality(q: int) -> EditFn:
    return lambda img, rng: _jpeg(img, q)


def _convert(fmt: str) -> EditFn:
    return lambda img, rng: Edited(img, fmt, {"quality": 85} if fmt != "PNG" else {})


def _exif_rotate(img: Image.Image, rng: random.Random) -> Edited:
    # Pixels stored turned, with the EXIF tag telling viewers to turn them back: looks identical.
    exif = Image.Exif()
    exif[0x0112] = 6
    return Edited(img.transpose(Image.Transpose.ROTATE_90), "JPEG", {"quality": 90, "exif": exif})


def _transpose(op: Image.Transpose) -> EditFn:
    return lambda img, rng: _jpeg(img.transpose(op))


def _crop(area: float, centred: bool) -> EditFn:
    def fn(img: Image.Image, rng: random.Random) -> Edited:
        side = area**0.5
        w, h = round(img.width * side), round(img.height * side)
        if centred:
            x, y = (img.width - w) // 2, (img.height - h) // 2
        else:
            x, y = rng.randint(0, img.width - w), rng.randint(0, img.height - h)
        return _jpeg(img.crop((x, y, x + w, y + h)))

    return fn


def _aspect(img: Image.Image, rng: random.Random) -> Edited:
    return _jpeg(
        img.resize((round(img.width * 1.3), round(img.height * 0.9)), Image.Resampling.LANCZOS)
    )


def _enhance(
    kind: Callable[[Image.Image], ImageEnhance._Enhance], low: float, high: float
) -> EditFn:
    def fn(img: Image.Image, rng: random.Random) -> Edited:
        factor = rng.choice([rng.uniform(low, 0.85), rng.uniform(1.15, high)])
        return _jpeg(kind(img).enhance(factor))

    return fn


def _greyscale(img: Image.Image, rng: random.Random) -> Edited:
    return _jpeg(ImageOps.grayscale(img).convert("RGB"))


def _hue(img: Image.Image, rng: random.Random) -> Edited:
    hsv = np.asarray(img.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + rng.randint(20, 60)) % 256
    return _jpeg(Image.fromarray(hsv, "HSV").convert("RGB"))


def _blur(img: Image.Image, rng: random.Random) -> Edited:
    return _jpeg(img.filter(ImageFilter.GaussianBlur(radius=max(1.0, min(img.size) / 300))))


def _noise(img: Image.Image, rng: random.Random) -> Edited:
    arr = np.asarray(img, dtype=np.int16)
    gen = np.random.default_rng(rng.randint(0, 2**31))
    noisy = arr + gen.normal(0, 12, arr.shape).astype(np.int16)
    return _jpeg(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _text(img: Image.Image, rng: random.Random) -> Edited:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    size = max(12, img.height // 10)
    y = rng.choice([img.height // 12, img.height - size * 2])
    draw.text(
        (img.width // 20, y),
        "Holiday 2024 - do not share",
        fill=(255, 255, 255),
        font=_font(size),
        stroke_width=max(1, size // 15),
        stroke_fill=(0, 0, 0),
    )
    return _jpeg(out)


def _logo(img: Image.Image, rng: random.Random) -> Edited:
    out = img.convert("RGBA")
    side = min(img.size) // 4
    logo = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(logo)
    d.ellipse((0, 0, side - 1, side - 1), fill=(230, 40, 40, 150))
    d.text((side // 5, side // 3), "NDID", fill=(255, 255, 255, 220), font=_font(side // 4))
    out.alpha_composite(
        logo, (img.width - side - img.width // 30, img.height - side - img.height // 30)
    )
    return _jpeg(out.convert("RGB"))


def _border(img: Image.Image, rng: random.Random) -> Edited:
    pad = max(4, min(img.size) // 12)
    colour = rng.choice([(0, 0, 0), (255, 255, 255)])
    return _jpeg(ImageOps.expand(img, border=(0, pad, 0, pad), fill=colour))


def _rotate(degrees: float) -> EditFn:
    def fn(img: Image.Image, rng: random.Random) -> Edited:
        return _jpeg(
            img.rotate(degrees * rng.choice([-1, 1]), Image.Resampling.BICUBIC, expand=True)
        )

    return fn


def _screenshot(img: Image.Image, rng: random.Random) -> Edited:
    # The photo shown in an app window, captured as PNG with the window's chrome around it.
    w, h = round(img.width * 1.5), round(img.height * 1.4)
    canvas = Image.new("RGB", (w, h), (236, 236, 240))
    draw = ImageDraw.Draw(canvas)
    bar = h // 14
    draw.rectangle((0, 0, w, bar), fill=(52, 56, 64))
    for i in range(3):
        draw.ellipse(
            (10 + i * bar, bar // 4, 10 + i * bar + bar // 2, bar * 3 // 4), fill=(200, 80, 80)
        )
    draw.rectangle((0, bar, w // 6, h), fill=(246, 246, 250))
    scale = 0.85
    shown = img.resize(
        (round(img.width * scale), round(img.height * scale)), Image.Resampling.BILINEAR
    )
    canvas.paste(
        shown, (w // 6 + (w * 5 // 6 - shown.width) // 2, bar + (h - bar - shown.height) // 2)
    )
    return Edited(canvas, "PNG", {})


def _print_scan(img: Image.Image, rng: random.Random) -> Edited:
    # Printed on paper and scanned: a white margin, a slightly skewed perspective, soft focus,
    # a colour cast, paper grain, and the scanner's JPEG.
    import cv2

    paper = ImageOps.expand(img, border=min(img.size) // 15, fill=(250, 248, 240))
    arr = np.asarray(paper)
    h, w = arr.shape[:2]
    jitter = [rng.uniform(0.0, 0.03) for _ in range(8)]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    dst = np.array(
        [
            [w * jitter[0], h * jitter[1]],
            [w * (1 - jitter[2]), h * jitter[3]],
            [w * (1 - jitter[4]), h * (1 - jitter[5])],
            [w * jitter[6], h * (1 - jitter[7])],
        ],
        dtype=np.float32,
    )
    warped = cv2.warpPerspective(
        arr, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=(255, 255, 255)
    )
    out = Image.fromarray(warped).filter(ImageFilter.GaussianBlur(radius=1.2))
    cast = np.asarray(out, dtype=np.float32) * np.array([1.05, 1.0, 0.9], dtype=np.float32)
    gen = np.random.default_rng(rng.randint(0, 2**31))
    cast += gen.normal(0, 6, cast.shape).astype(np.float32)
    return _jpeg(Image.fromarray(np.clip(cast, 0, 255).astype(np.uint8)), 70)


def _combo(img: Image.Image, rng: random.Random) -> Edited:
    cropped = _crop(0.7, centred=False)(img, rng).image
    coloured = ImageEnhance.Color(cropped).enhance(1.4)
    small = coloured.resize((coloured.width // 2, coloured.height // 2), Image.Resampling.LANCZOS)
    return _jpeg(small, 60)


T = Image.Transpose
EDITS: tuple[Edit, ...] = (
    Edit("resize-50", EASY, _resize(0.5)),
    Edit("resize-25", EASY, _resize(0.25)),
    Edit("jpeg-q75", EASY, _quality(75)),
    Edit("jpeg-q30", EASY, _quality(30)),
    Edit("png", EASY, _convert("PNG")),
    Edit("webp", EASY, _convert("WEBP")),
    Edit("heic", EASY, _convert("HEIF")),
    Edit("exif-rotate", EASY, _exif_rotate),
    Edit("jpeg-q10", MEDIUM, _quality(10)),
    Edit("rotate-90", MEDIUM, _transpose(T.ROTATE_90)),
    Edit("flip", MEDIUM, _transpose(T.FLIP_LEFT_RIGHT)),
    Edit("crop-80", MEDIUM, _crop(0.8, centred=True)),
    Edit("crop-60-off", MEDIUM, _crop(0.6, centred=False)),
    Edit("aspect", MEDIUM, _aspect),
    Edit("greyscale", MEDIUM, _greyscale),
    Edit("brightness", MEDIUM, _enhance(ImageEnhance.Brightness, 0.6, 1.5)),
    Edit("contrast", MEDIUM, _enhance(ImageEnhance.Contrast, 0.6, 1.6)),
    Edit("saturation", MEDIUM, _enhance(ImageEnhance.Color, 0.3, 1.8)),
    Edit("hue", MEDIUM, _hue),
    Edit("blur", MEDIUM, _blur),
    Edit("noise", MEDIUM, _noise),
    Edit("text", MEDIUM, _text),
    Edit("logo", MEDIUM, _logo),
    Edit("border", MEDIUM, _border),
    Edit("crop-40", HARD, _crop(0.4, centred=True)),
    Edit("crop-25-off", HARD, _crop(0.25, centred=False)),
    Edit("rotate-5", HARD, _rotate(5)),
    Edit("rotate-25", HARD, _rotate(25)),
    Edit("screenshot", HARD, _screenshot),
    Edit("print-scan", HARD, _print_scan),
    Edit("combo", HARD, _combo),
)
EDITS_BY_NAME = {e.name: e for e in EDITS}
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "HEIF": ".heic"}


@dataclass(frozen=True)
class ManifestRow:
    file: str  # relative to the dataset folder
    group: str  # the source photo's id: files with the same group are the same picture
    role: str  # original | copy | distractor
    edit: str
    tier: str


def split_of(name: str, test_share: float = 0.4) -> str:
    """'test' or 'train', fixed per photo name (not per run), so held-apart stays held apart."""
    digest = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    return "test" if digest / 0xFFFFFFFF < test_share else "train"


def apply_edit(edit: Edit, source: Image.Image, rng: random.Random) -> bytes:
    """The edited copy, encoded as its file bytes."""
    register_plugins()
    edited = edit.apply(source, rng)
    buf = io.BytesIO()
    edited.image.save(buf, edited.format, **edited.options)
    return buf.getvalue()


def make_dataset(
    sources: Sequence[Path],
    out: Path,
    edits: Sequence[Edit] = EDITS,
    edits_per_photo: int | None = None,
    distractors: Sequence[Path] = (),
    seed: int = 0,
    max_side: int | None = None,
) -> list[ManifestRow]:
    """Write originals, edited copies and distractors under ``out`` with a manifest.json.

    ``edits_per_photo`` picks that many edits per photo at random (seeded) instead of all.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows: list[ManifestRow] = []
    for source in sorted(sources):
        group = source.stem
        rng = random.Random(f"{seed}:{group}")
        with Image.open(source) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        if max_side is not None:
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        original = f"{group}/original.jpg"
        (out / group).mkdir(exist_ok=True)
        image.save(out / original, "JPEG", quality=95)
        rows.append(ManifestRow(original, group, "original", "", ""))
        chosen = (
            list(edits) if edits_per_photo is None else rng.sample(list(edits), edits_per_photo)
        )
        for edit in chosen:
            data = apply_edit(edit, image, random.Random(f"{seed}:{group}:{edit.name}"))
            fmt = Image.open(io.BytesIO(data)).format or "JPEG"
            name = f"{group}/{edit.name}{_EXTENSIONS.get(fmt, '.jpg')}"
            (out / name).write_bytes(data)
            rows.append(ManifestRow(name, group, "copy", edit.name, edit.tier))
    for source in sorted(distractors):
        name = f"distractors/{source.name}"
        (out / "distractors").mkdir(exist_ok=True)
        with Image.open(source) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        if max_side is not None:
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        image.save(out / name, "JPEG", quality=92)
        rows.append(ManifestRow(name, f"distractor:{source.stem}", "distractor", "", ""))
    _same_times(out, rows)
    (out / "manifest.json").write_text(
        json.dumps({"seed": seed, "files": [asdict(r) for r in rows]}, indent=1), encoding="utf-8"
    )
    return rows


# Every generated file gets this one modification time. Written one after another, the copies
# would otherwise be newer than their original by a few milliseconds to seconds: a cue no
# real library gives so cleanly, which the direction model would learn instead of the
# pictures' own evidence. File dates are fitted and measured on the lifelike library.
GENERATED_MTIME = 1_600_000_000


def _same_times(out: Path, rows: Sequence[ManifestRow]) -> None:
    for row in rows:
        os.utime(out / row.file, (GENERATED_MTIME, GENERATED_MTIME))


def read_manifest(folder: Path) -> list[ManifestRow]:
    data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return [ManifestRow(**row) for row in data["files"]]
