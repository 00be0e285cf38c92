"""A lifelike photo library: camera originals and the copies a real disk collects of them.

The attack generator (attacks.py) writes every copy beside a bare ``original.jpg``, so the
keeper rule is never tested on what decides it in a real library: camera EXIF, capture dates,
file times, folder names, byte-identical backups, messenger recompressions, exports and
screenshots. This writes such a library — ``DCIM/100CAMERA/IMG_0042.JPG`` with its camera's
EXIF and mtime, a backup of it, the WhatsApp copy, the Lightroom edit... — with the same
manifest.json as attacks.py, so ``ndid eval score`` scores it unchanged. Deterministic for a
seed, file times included.
"""

from __future__ import annotations

import calendar
import io
import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw, ImageEnhance, ImageOps

from ndid_desktop.engine.evaluation.attacks import EASY, HARD, MEDIUM, ManifestRow
from ndid_desktop.engine.evaluation.dataset import MadeDataset, photos_in, split_distractors
from ndid_desktop.engine.files.decode import register_plugins

# (Make, Model) as these cameras write them; the HEIC originals are all from the iPhone.
CAMERAS = (
    ("Apple", "iPhone 13"),
    ("samsung", "SM-G991B"),
    ("Canon", "Canon EOS 80D"),
    ("FUJIFILM", "X-T3"),
)
IPHONE = CAMERAS[0]
# What each camera writes as EXIF Software: its firmware, not an editor.
FIRMWARE = {
    "iPhone 13": "16.5.1",
    "SM-G991B": "G991BXXU5CVLL",
    "Canon EOS 80D": "Firmware Version 1.0.3",
    "X-T3": "Digital Camera X-T3 Ver4.20",
}
# Scanned prints: lossless TIFF masters, as a flatbed scanner's software writes them.
SCANNER = ("EPSON", "Perfection V600")
SCANNER_SOFTWARE = "EPSON Scan"
SCAN_SHARE = 0.12
HEIC_SHARE = 0.25  # iPhones store HEIC by default
PORTRAIT_SHARE = 0.25  # phones store portrait photos turned, with Orientation 6
FIRST_CAPTURE = datetime(2018, 1, 1)
LAST_CAPTURE = datetime(2024, 12, 31, 23, 59, 59)
# The day the library is "found": no copy is dated later, so no file time lies in the future.
LIBRARY_DAY = datetime(2025, 6, 30)
# Not `.thumbnails`: scans skip hidden folders (ScanConfig.skip_hidden), so copies there would
# count as missed by every scan while no scan could ever see them.
THUMBNAIL_FOLDER = "Thumbnails"
COPIES_PER_PHOTO = (4, 7)  # at least and at most, `backup` included
ORIENTATION_TURNED = 6
EXIF_IFD = ExifTags.IFD.Exif
EXIF_TIME = "%Y:%m:%d %H:%M:%S"
HOUR = 3600.0
DAY = 24 * HOUR
YEAR = 365 * DAY


@dataclass(frozen=True)
class Shot:
    """A source photo as a camera recorded it: what the original file and its copies carry."""

    group: str  # the source photo's id (its file stem)
    stem: str  # IMG_0042: shared by the original, its backups and its exports
    folder: str  # DCIM/100CAMERA
    image: Image.Image  # upright RGB pixels
    camera: tuple[str, str]  # (Make, Model)
    taken: datetime
    heic: bool
    turned: bool  # stored turned, with Orientation 6 telling viewers to turn it back
    quality: int  # the camera's JPEG/HEIC quality
    scanned: bool = False  # a print scanned to a TIFF master (no HEIC, never turned)

    @property
    def original(self) -> str:
        if self.scanned:
            return f"{self.folder}/{self.stem}.tif"
        return f"{self.folder}/{self.stem}{'.HEIC' if self.heic else '.JPG'}"

    @property
    def software(self) -> str:
        return SCANNER_SOFTWARE if self.scanned else FIRMWARE.get(self.camera[1], "1.0")

    @property
    def mtime(self) -> float:
        # Capture times are read as UTC, so a library's file times do not depend on the TZ.
        return _utc(self.taken)


@dataclass(frozen=True)
class Copy:
    file: str  # relative to the library; made unique by the caller
    data: bytes
    mtime: float


# A copy of a shot, given the original's bytes and a random source of its own.
MakeCopy = Callable[[Shot, bytes, random.Random], Copy]


@dataclass(frozen=True)
class LifelikeEdit:
    name: str
    tier: str
    make: MakeCopy
    applies: Callable[[Shot], bool] = lambda shot: True


# --- encoding ----------------------------------------------------------------------------------


def _exif_time(moment: datetime) -> str:
    return moment.strftime(EXIF_TIME)


def camera_exif(shot: Shot, orientation: int | None = None, software: str | None = None) -> bytes:
    """The EXIF block a camera or scanner (or an app that keeps its EXIF) writes; the
    device's own Software (firmware) unless an app's is given. A scanner records no
    DateTimeOriginal: the print was taken long before."""
    return _exif(shot, orientation, software).tobytes()


def _exif(shot: Shot, orientation: int | None, software: str | None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = shot.camera
    exif[ExifTags.Base.DateTime] = _exif_time(shot.taken)
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Software] = software or shot.software
    if not shot.scanned:
        exif.get_ifd(EXIF_IFD)[ExifTags.Base.DateTimeOriginal] = _exif_time(shot.taken)
    return exif


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def _jpeg(image: Image.Image, quality: int, exif: bytes | None = None) -> bytes:
    options: dict[str, object] = {"quality": quality}
    if exif is not None:
        options["exif"] = exif
    return _encode(image.convert("RGB"), "JPEG", **options)


def _fit(image: Image.Image, long_side: int) -> Image.Image:
    """``image`` with its long side at most ``long_side`` (never upscaled)."""
    small = image.copy()
    small.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return small


def original_bytes(shot: Shot) -> bytes:
    """The camera's file: turned pixels with Orientation 6 for a portrait, EXIF, its quality."""
    pixels = shot.image.transpose(Image.Transpose.ROTATE_90) if shot.turned else shot.image
    if shot.scanned:
        return _encode(pixels, "TIFF", compression="tiff_lzw", exif=_exif(shot, 1, None))
    exif = camera_exif(shot, ORIENTATION_TURNED if shot.turned else 1)
    if shot.heic:
        # pillow-heif turns EXIF Orientation into the HEIF `irot` transform on save, and libheif
        # applies it on open: the file decodes upright, as an iPhone's does.
        return _encode(pixels, "HEIF", quality=shot.quality, exif=exif)
    return _jpeg(pixels, shot.quality, exif)


# --- the copies --------------------------------------------------------------------------------


def _utc(moment: datetime) -> float:
    return float(calendar.timegm(moment.timetuple()))


def _later(shot: Shot, rng: random.Random, low: float, high: float) -> float:
    """A file time between ``low`` and ``high`` seconds after the capture, and before
    LIBRARY_DAY: the range is shortened, not the time clamped, or copies of late photos would
    all share that day's midnight."""
    room = _utc(LIBRARY_DAY) - shot.mtime  # at least half a year: no low bound is above it
    return shot.mtime + round(rng.uniform(low, min(high, room)))


def _day(mtime: float) -> datetime:
    return datetime(1970, 1, 1) + timedelta(seconds=mtime)


def _backup(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    name = Path(shot.original).name
    return Copy(f"Backup/{shot.taken.year}/{name}", data, _later(shot, rng, 30 * DAY, 3 * YEAR))


def _backup_preserved(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    # `cp -p` or a file-manager copy that keeps the time: nothing but the path tells them apart.
    return Copy(f"Old laptop/Pictures/{Path(shot.original).name}", data, shot.mtime)


def _messenger(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    sent = _later(shot, rng, HOUR, 14 * DAY)
    name = f"IMG-{_day(sent):%Y%m%d}-WA{rng.randint(0, 9999):04d}.jpg"
    pixels = _fit(shot.image, 1600)
    return Copy(f"WhatsApp/Media/WhatsApp Images/{name}", _jpeg(pixels, rng.randint(70, 85)), sent)


def _web_export(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    webp = _encode(_fit(shot.image, 2048), "WEBP", quality=80)
    return Copy(f"Exports/{shot.stem}.webp", webp, _later(shot, rng, DAY, 2 * YEAR))


def _thumbnail(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    small = _jpeg(_fit(shot.image, 320), 80)
    return Copy(f"{THUMBNAIL_FOLDER}/{shot.stem}.jpg", small, _later(shot, rng, HOUR, 30 * DAY))


def _png_export(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    png = _encode(shot.image, "PNG")
    return Copy(f"Exports/{shot.stem}.png", png, _later(shot, rng, DAY, 2 * YEAR))


def _jpeg_from_heic(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    # Apple Photos' "Export unmodified... as JPEG": upright pixels, the camera's EXIF kept.
    jpeg = _jpeg(shot.image, 92, camera_exif(shot, 1))
    return Copy(f"Exports/{shot.stem}.jpg", jpeg, _later(shot, rng, HOUR, 60 * DAY))


def _jpeg_from_scan(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    # The scanner software's "save as JPEG" beside the TIFF master: same pixels, no EXIF.
    jpeg = _jpeg(shot.image, rng.randint(85, 95))
    return Copy(f"{shot.folder}/{shot.stem}.jpg", jpeg, _later(shot, rng, 60.0, HOUR))


def _upright_baked(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    # A tool that "fixes" rotation: pixels turned upright, the Orientation tag dropped.
    jpeg = _jpeg(shot.image, 92, camera_exif(shot))
    return Copy(f"Edited/{shot.stem}-upright.jpg", jpeg, _later(shot, rng, DAY, YEAR))


def _centre_crop(image: Image.Image, width: int, height: int) -> Image.Image:
    x, y = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((x, y, x + width, y + height))


def _edited(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    w, h = shot.image.size
    crop = _centre_crop(shot.image, round(w * rng.uniform(0.85, 0.95)),
                        round(h * rng.uniform(0.85, 0.95)))  # fmt: skip
    look = ImageEnhance.Color(crop).enhance(rng.uniform(1.1, 1.4))
    look = ImageEnhance.Brightness(look).enhance(rng.choice([0.9, 1.1]))
    software = rng.choice(["Adobe Lightroom 7.0", "Snapseed 2.0"])
    jpeg = _jpeg(look, 90, camera_exif(shot, software=software))
    return Copy(f"Edited/{shot.stem}-edited.jpg", jpeg, _later(shot, rng, DAY, YEAR))


def _social_square(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    side = min(shot.image.size)
    # 1080 px, but never upscaled (as Instagram does): a small source's square must not
    # outnumber its original in pixels, which no 12-MP camera original would allow.
    shown = min(side, 1080)
    square = _centre_crop(shot.image, side, side).resize((shown, shown), Image.Resampling.LANCZOS)
    return Copy(
        f"Instagram/{shot.stem}_square.jpg", _jpeg(square, 80), _later(shot, rng, HOUR, 30 * DAY)
    )


SCREEN = (1170, 2532)  # an iPhone 13's screen in pixels
STATUS_BAR = 47


def phone_screen(image: Image.Image) -> Image.Image:
    """``image`` shown full width on a phone, as its screenshot captures it."""
    canvas = Image.new("RGB", SCREEN, (28, 28, 30))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, SCREEN[0], STATUS_BAR), fill=(12, 12, 12))
    draw.rectangle((60, 14, 140, 32), fill=(235, 235, 235))  # the clock
    draw.rectangle((SCREEN[0] - 110, 14, SCREEN[0] - 50, 32), fill=(235, 235, 235))  # battery
    room = SCREEN[1] - STATUS_BAR
    scale = min(SCREEN[0] / image.width, room / image.height)
    shown = image.resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR
    )
    canvas.paste(shown, ((SCREEN[0] - shown.width) // 2, STATUS_BAR + (room - shown.height) // 2))
    return canvas


def _phone_screenshot(shot: Shot, data: bytes, rng: random.Random) -> Copy:
    taken = _later(shot, rng, DAY, 3 * YEAR)
    name = f"Screenshot_{_day(taken):%Y%m%d-%H%M%S}.png"
    return Copy(f"Screenshots/{name}", _encode(phone_screen(shot.image), "PNG"), taken)


BACKUP = "backup"
LIFELIKE_EDITS: tuple[LifelikeEdit, ...] = (
    LifelikeEdit(BACKUP, EASY, _backup),
    LifelikeEdit("backup-preserved", EASY, _backup_preserved),
    LifelikeEdit("messenger", EASY, _messenger),
    LifelikeEdit("web-export", EASY, _web_export),
    LifelikeEdit("thumbnail", EASY, _thumbnail),
    LifelikeEdit("png-export", EASY, _png_export),
    LifelikeEdit("jpeg-from-heic", EASY, _jpeg_from_heic, lambda shot: shot.heic),
    LifelikeEdit("jpeg-from-scan", EASY, _jpeg_from_scan, lambda shot: shot.scanned),
    LifelikeEdit("upright-baked", EASY, _upright_baked, lambda shot: shot.turned),
    LifelikeEdit("edited", MEDIUM, _edited),
    LifelikeEdit("social-square", MEDIUM, _social_square),
    LifelikeEdit("phone-screenshot", HARD, _phone_screenshot),
)
LIFELIKE_EDITS_BY_NAME = {e.name: e for e in LIFELIKE_EDITS}


def choose_edits(shot: Shot, rng: random.Random) -> list[LifelikeEdit]:
    """4-7 of the edits that apply to ``shot``, always with a plain backup, in table order."""
    others = [e for e in LIFELIKE_EDITS if e.name != BACKUP and e.applies(shot)]
    count = min(rng.randint(*COPIES_PER_PHOTO) - 1, len(others))
    chosen = {e.name for e in rng.sample(others, count)} | {BACKUP}
    return [e for e in LIFELIKE_EDITS if e.name in chosen]


# --- the library -------------------------------------------------------------------------------


class _Names:
    """File names unique across the library, made so as an OS does: ``name (1).jpg``."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, file: str) -> str:
        path = Path(file)
        candidate, n = file, 0
        while candidate.lower() in self._taken:
            n += 1
            candidate = str(path.with_name(f"{path.stem} ({n}){path.suffix}"))
        self._taken.add(candidate.lower())
        return candidate


def load_source(source: Path, max_side: int | None) -> Image.Image:
    with Image.open(source) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    if max_side is not None:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def plan_shot(group: str, image: Image.Image, number: int, rng: random.Random) -> Shot:
    """How the camera recorded photo ``group``: its file name (from the library's counter
    ``number``), camera, time, format and orientation, drawn from ``rng``."""
    heic = rng.random() < HEIC_SHARE
    span = (LAST_CAPTURE - FIRST_CAPTURE).total_seconds()
    camera = IPHONE if heic else rng.choice(CAMERAS)
    taken = FIRST_CAPTURE + timedelta(seconds=round(rng.uniform(0, span)))
    turned = rng.random() < PORTRAIT_SHARE
    quality = rng.randint(88, 97)
    # Drawn after the rest, so that adding scans changed no other photo's draws.
    scanned = not heic and rng.random() < SCAN_SHARE
    return Shot(
        group=group,
        stem=f"scan_{number % 10000:04d}" if scanned else f"IMG_{number % 10000:04d}",
        # Cameras start a new numbered folder every thousand files or so.
        folder="Scans" if scanned else f"DCIM/{100 + number // 1000 % 900}CAMERA",
        image=image,
        camera=SCANNER if scanned else camera,
        taken=taken,
        heic=heic,
        turned=turned and not scanned,
        quality=quality,
        scanned=scanned,
    )


def _write(out: Path, file: str, data: bytes, mtime: float) -> None:
    path = out / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def _write_photo(shot: Shot, out: Path, names: _Names, role: str) -> tuple[ManifestRow, bytes]:
    file = names.claim(shot.original)
    data = original_bytes(shot)
    _write(out, file, data, shot.mtime)
    return ManifestRow(file, shot.group, role, "", ""), data


def _write_copies(
    shot: Shot, data: bytes, out: Path, names: _Names, seed: int, rng: random.Random
) -> list[ManifestRow]:
    rows = []
    for edit in choose_edits(shot, rng):
        # Each edit draws from its own stream: choosing another edit changes no other copy.
        copy = edit.make(shot, data, random.Random(f"{seed}:{shot.group}:{edit.name}"))
        file = names.claim(copy.file)
        _write(out, file, copy.data, copy.mtime)
        rows.append(ManifestRow(file, shot.group, "copy", edit.name, edit.tier))
    return rows


def make_lifelike_library(
    sources: Sequence[Path],
    out: Path,
    distractors: Sequence[Path] = (),
    seed: int = 0,
    max_side: int | None = None,
) -> list[ManifestRow]:
    """Write camera originals of ``sources`` with the copies a real disk collects of them,
    and ``distractors`` as camera originals without copies, under ``out``, with a manifest.json
    in the format of attacks.make_dataset."""
    register_plugins()
    out.mkdir(parents=True, exist_ok=True)
    names = _Names()
    first = random.Random(f"{seed}:library").randint(1, 8999)
    rows: list[ManifestRow] = []
    labelled = [(s, s.stem, "original") for s in sorted(sources)]
    labelled += [(s, f"distractor:{s.stem}", "distractor") for s in sorted(distractors)]
    for number, (source, group, role) in enumerate(labelled, start=first):
        rng = random.Random(f"{seed}:{group}")
        shot = plan_shot(group, load_source(source, max_side), number, rng)
        row, data = _write_photo(shot, out, names, role)
        rows.append(row)
        if role == "original":
            rows += _write_copies(shot, data, out, names, seed, rng)
    (out / "manifest.json").write_text(
        json.dumps({"seed": seed, "files": [asdict(r) for r in rows]}, indent=1), encoding="utf-8"
    )
    return rows


def make_lifelike_dataset(
    photos: Path,
    out: Path,
    split: str = "test",
    max_photos: int | None = None,
    distractors: int = 0,
    seed: int = 0,
) -> MadeDataset:
    """`ndid eval make-dataset --lifelike`: the photos make_eval_dataset would choose, written
    as a lifelike library. Raises TooFewPhotosError when none would be left to copy."""
    chosen = photos_in(photos, split, max_photos)
    sources, others = split_distractors(chosen, distractors)
    rows = make_lifelike_library(sources, out, distractors=others, seed=seed)
    return MadeDataset(tuple(rows), len(sources), len(others))
