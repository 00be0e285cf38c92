"""A photo library for scale benchmarks: N distinct pictures, ~15% of them with an edited copy.

    python benchmarks/make_library.py bench-data/lib-2500 --count 2500 --max-mp 2

The 335 development photos are far too few for a library of thousands, and repeating one picture
would plant duplicates nobody labelled. So the pictures are made from parts of them: each
development photo is cut into 2x2 to 4x4 disjoint regions, and a picture is either one reserved
photo on its own (cropped, maybe flipped, colour-shifted) or an irregular grid of 9-12 crops of
regions of different photos (each flipped and colour-shifted on its own). Two pictures never share
more than one region, so at most one cell (about a ninth of a picture) resembles a cell of
another, in another crop, colour and place; a grid never holds a part of a stand-alone picture.
(Measured on 2,500 pictures at 2 MP: with 2x2 grids, where a shared cell is a quarter of both
pictures, 82 of the 95 wrongly grouped pairs shared a region; with these grids, 25 of the 65
wrongly grouped members. manifest.json records each picture's regions, and bench_scale.py counts
those apart from the engine's own mistakes.) Each picture gets a
realistic size (--min-mp to --max-mp megapixels, phone and camera aspect ratios, a quarter
portrait) and sensor-like noise, and is saved as JPEG quality 90, so it is as large and as slow
to decode as a real photo of that size.

About 15% of the pictures (--copy-share) also get one edited copy from the project's own edit
generator (engine/evaluation/attacks.py: resized, recompressed, converted, cropped, recoloured,
overlaid, rotated, screenshotted, printed and scanned), made from the saved JPEG and saved beside
the others under copies/. manifest.json lists every file in the format of `ndid eval
make-dataset` (group = the picture, role = original or copy), so the evaluation's scoring reads
it. Deterministic for a --seed; built in --workers processes; rerunning finishes a build that was
interrupted, and a finished library with the same settings is reused as it is.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import random
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist

import numpy as np
from PIL import Image, ImageOps

MANIFEST_VERSION = 2
PER_FOLDER = 250  # files per folder, like a year/month layout: no folder of 40,000 files
ASPECTS = (4 / 3, 4 / 3, 4 / 3, 3 / 2, 16 / 9, 1.0)  # phone 4:3 most often, then camera/wide
PORTRAIT_SHARE = 0.25
# Grids a picture can be: (rows, columns) with their weights. Nothing coarser than 3x3: a cell
# that two pictures share must stay a small part of both.
GRIDS: tuple[tuple[int, int], ...] = ((3, 3), (3, 4), (4, 3))
GRID_WEIGHTS = (0.5, 0.25, 0.25)
PAIR_MARGIN = 2.0  # region pairs on offer / region pairs the pictures use
SPLIT_JITTER = 0.2  # cell sides vary by this much around an even split: no grid shared by all
SINGLE_SOURCE_SHARE = 0.25  # development photos kept whole, never cut into grid regions
NOISE_SIGMA = (6.0, 14.0)  # sensor-like noise: a 12 MP q90 JPEG of ~3-5 MB, like a phone's
QUALITY = 90
COPY_MTIME_DELAY_S = 86_400  # a copy is a day newer than its original, as copies are
BYTES_PER_MP = 450_000  # measured on these pictures at q90: for the disk check only


@dataclass(frozen=True)
class Region:
    source: int  # index into the sorted development photos
    box: tuple[int, int, int, int]  # left, top, right, bottom in source pixels


@dataclass(frozen=True)
class Plan:
    """One picture to render; ``regions`` holds one region (a whole photo) or a grid's cells."""

    index: int
    size: tuple[int, int]
    grid: tuple[int, int]
    regions: tuple[Region, ...]
    edit: str | None  # the edit of its copy, if it has one


@dataclass(frozen=True)
class Settings:
    count: int
    seed: int
    min_mp: float
    max_mp: float
    copy_share: float

    def matches(self, manifest: dict[str, object]) -> bool:
        return manifest.get("version") == MANIFEST_VERSION and manifest.get("settings") == asdict(
            self
        )


def source_photos(photos: Path) -> list[Path]:
    found = sorted(p for p in photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg"})
    if not found:
        raise SystemExit(f"no JPEG photos in {photos}")
    return found


def plan_library(sources: Sequence[Path], settings: Settings) -> list[Plan]:
    """Every picture's size, grid, regions and copy edit, decided up front in one process so
    the library is the same whatever the number of workers."""
    from ndid_desktop.engine.evaluation.attacks import EDITS

    rng = random.Random(f"{settings.seed}:plan")
    sizes = [_source_size(p) for p in sources]
    order = list(range(len(sources)))
    rng.shuffle(order)
    reserved = order[: round(len(order) * SINGLE_SOURCE_SHARE)]
    tiles = order[len(reserved) :]
    packer = _RegionPacker(_regions(tiles, sizes, settings.count), rng)
    singles = set(rng.sample(range(settings.count), min(len(reserved), settings.count // 10)))
    whole = iter(reserved)
    plans = []
    for i in range(settings.count):
        size = _picture_size(rng, settings.min_mp, settings.max_mp)
        regions: tuple[Region, ...]
        if i in singles:
            s = next(whole)
            grid, regions = (1, 1), (Region(s, (0, 0, *sizes[s])),)
        else:
            grid, regions = packer.take()
        edit = rng.choice(EDITS).name if rng.random() < settings.copy_share else None
        plans.append(Plan(i, size, grid, regions, edit))
    return plans


def _source_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        w, h = img.size
        orientation = img.getexif().get(0x0112, 1)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)  # as exif_transpose will show it


def _regions(tiles: list[int], sizes: list[tuple[int, int]], count: int) -> list[Region]:
    """The grid regions: as coarse as ``count`` pictures allow. Pictures sharing at most one
    region each use up region pairs, so the regions must offer a good margin of pairs over
    what ``count`` grids take (greedy packing stalls well before every pair is used)."""
    cells = [r * c for r, c in GRIDS]
    pairs_per_picture = sum(w * n * (n - 1) / 2 for n, w in zip(cells, GRID_WEIGHTS, strict=True))
    for finer in range(4):
        regions = [r for s in tiles for r in _cut(s, sizes[s], finer)]
        if len(regions) ** 2 / 2 >= PAIR_MARGIN * count * pairs_per_picture:
            break
    return regions


def _cut(source: int, size: tuple[int, int], finer: int) -> list[Region]:
    """A photo's disjoint regions: by default as many as leave a region ~150 px or more."""
    w, h = size
    n = finer + (4 if min(w, h) >= 600 else 3 if min(w, h) >= 300 else 2)
    return [
        Region(source, (w * c // n, h * r // n, w * (c + 1) // n, h * (r + 1) // n))
        for r in range(n)
        for c in range(n)
    ]


def _picture_size(rng: random.Random, min_mp: float, max_mp: float) -> tuple[int, int]:
    mp = rng.uniform(min(min_mp, max_mp), max_mp)
    aspect = rng.choice(ASPECTS)
    w = round((mp * 1e6 * aspect) ** 0.5)
    h = round(w / aspect)
    return (h, w) if rng.random() < PORTRAIT_SHARE else (w, h)


class _RegionPacker:
    """Hands out grids of regions such that no two pictures share more than one region, and no
    picture holds two regions of one photo (that would put the photo back together)."""

    def __init__(self, regions: list[Region], rng: random.Random) -> None:
        self.regions = regions
        self.partners: list[set[int]] = [set() for _ in regions]
        self.rng = rng

    def take(self) -> tuple[tuple[int, int], tuple[Region, ...]]:
        grid = self.rng.choices(GRIDS, GRID_WEIGHTS)[0]
        # A big grid can fail once the regions are well used; smaller grids need fewer free pairs.
        for rows, cols in sorted(GRIDS, key=lambda g: (g != grid, g[0] * g[1])):
            chosen = self._pick(rows * cols)
            if chosen is not None:
                for a in chosen:
                    self.partners[a].update(b for b in chosen if b != a)
                return (rows, cols), tuple(self.regions[r] for r in chosen)
        raise SystemExit(
            "the development photos cannot give this many distinct pictures (every pair of "
            "regions is used): lower --count"
        )

    def _pick(self, k: int) -> list[int] | None:
        chosen: list[int] = []
        blocked: set[int] = set()
        used_sources: set[int] = set()
        for _ in range(k):
            r = self._free(blocked, used_sources)
            if r is None:
                return None
            chosen.append(r)
            blocked |= self.partners[r] | {r}
            used_sources.add(self.regions[r].source)
        return chosen

    def _free(self, blocked: set[int], used_sources: set[int]) -> int | None:
        def ok(r: int) -> bool:
            return r not in blocked and self.regions[r].source not in used_sources

        for _ in range(64):  # random tries are cheap while most regions are still free
            r = self.rng.randrange(len(self.regions))
            if ok(r):
                return r
        free = [r for r in range(len(self.regions)) if ok(r)]
        return self.rng.choice(free) if free else None


# ---- rendering (in worker processes) ----


@dataclass(frozen=True)
class Job:
    plan: Plan
    sources: tuple[str, ...]
    out: str
    seed: int


def original_name(i: int) -> str:
    return f"photos/{i // PER_FOLDER:04d}/p{i:06d}.jpg"


def copy_stem(i: int, edit: str) -> str:
    return f"copies/{i // PER_FOLDER:04d}/p{i:06d}-{edit}"


def render(job: Job) -> list[tuple[str, str, str, str, str]]:
    """Writes the picture (and its copy); returns its manifest rows. Skips files already written
    by an interrupted run: each is written under a temporary name and renamed when complete."""
    from ndid_desktop.engine.evaluation.attacks import EDITS_BY_NAME, apply_edit

    plan, out = job.plan, Path(job.out)
    group = f"p{plan.index:06d}"
    original = out / original_name(plan.index)
    rows = [(original_name(plan.index), group, "original", "", "")]
    if original.exists():
        data = original.read_bytes()
    else:
        data = _encode(_picture(job))
        _write(original, data, mtime=_mtime(plan.index))
    if plan.edit is None:
        return rows
    edit = EDITS_BY_NAME[plan.edit]
    stem = copy_stem(plan.index, plan.edit)
    existing = [p for p in (out / stem).parent.glob(Path(stem).name + ".*") if ".tmp" not in p.name]
    if existing:
        name = f"{stem}{existing[0].suffix}"
    else:
        with Image.open(io.BytesIO(data)) as opened:
            picture = opened.convert("RGB")
        copy = apply_edit(edit, picture, random.Random(f"{job.seed}:copy:{plan.index}"))
        name = f"{stem}{_extension(copy)}"
        _write(out / name, copy, mtime=_mtime(plan.index) + COPY_MTIME_DELAY_S)
    rows.append((name, group, "copy", edit.name, edit.tier))
    return rows


def _picture(job: Job) -> Image.Image:
    plan = job.plan
    rng = random.Random(f"{job.seed}:render:{plan.index}")
    w, h = plan.size
    rows, cols = plan.grid
    xs, ys = _splits(w, cols, rng), _splits(h, rows, rng)
    canvas = Image.new("RGB", plan.size)
    cells = iter(plan.regions)
    for r in range(rows):
        for c in range(cols):
            box = (xs[c], ys[r], xs[c + 1], ys[r + 1])
            cell = (box[2] - box[0], box[3] - box[1])
            single = rows * cols == 1
            tile = _tile(job.sources, next(cells), cell, rng, min_scale=0.8 if single else 0.6)
            canvas.paste(tile, box[:2])
    return _add_noise(canvas, rng.uniform(*NOISE_SIGMA), rng.getrandbits(32))


def _splits(length: int, parts: int, rng: random.Random) -> list[int]:
    """Cell edges along one side, unevenly spaced."""
    weights = [rng.uniform(1 - SPLIT_JITTER, 1 + SPLIT_JITTER) for _ in range(parts)]
    edges = [0]
    for i in range(1, parts):
        edges.append(round(length * sum(weights[:i]) / sum(weights)))
    return [*edges, length]


def _tile(
    sources: tuple[str, ...],
    region: Region,
    cell: tuple[int, int],
    rng: random.Random,
    min_scale: float,
) -> Image.Image:
    """A random crop of ``region`` with the cell's aspect, maybe flipped, colour-shifted,
    resized to the cell."""
    left, top, right, bottom = region.box
    rw, rh = right - left, bottom - top
    aspect = cell[0] / cell[1]
    fit_w, fit_h = (rw, rw / aspect) if rw / rh < aspect else (rh * aspect, rh)
    scale = rng.uniform(min_scale, 1.0)
    cw, ch = max(8, round(fit_w * scale)), max(8, round(fit_h * scale))
    x = left + rng.randint(0, max(0, rw - cw))
    y = top + rng.randint(0, max(0, rh - ch))
    piece = _source(sources[region.source]).crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        piece = piece.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return _colour_shift(piece, rng).resize(cell, Image.Resampling.BICUBIC)


@lru_cache(maxsize=32)
def _source(path: str) -> Image.Image:
    with Image.open(path) as opened:
        return ImageOps.exif_transpose(opened).convert("RGB")


def _colour_shift(img: Image.Image, rng: random.Random) -> Image.Image:
    """Per-channel gains, an offset and a gamma: the same scene in another light or white
    balance, so that regions of one photo do not all share one palette."""
    arr = np.asarray(img, dtype=np.float32) / 255.0
    gains = np.array([rng.uniform(0.8, 1.2) for _ in range(3)], dtype=np.float32)
    arr = np.clip(arr * gains + rng.uniform(-0.08, 0.08), 0.0, 1.0) ** rng.uniform(0.8, 1.25)
    return Image.fromarray((arr * 255.0 + 0.5).astype(np.uint8))


def _add_noise(img: Image.Image, sigma: float, seed: int) -> Image.Image:
    """Gaussian noise drawn as random bytes mapped through a table of 256 normal quantiles:
    3x faster than numpy's normal draws and, at this amplitude, the same to a JPEG encoder.
    In strips of rows, so a 12 MP picture needs no 0.5 GB of temporaries."""
    levels = np.round(_NORMAL_QUANTILES * sigma).astype(np.int16)
    arr = np.array(img)
    rng = np.random.default_rng(seed)
    for top in range(0, arr.shape[0], 512):
        strip = arr[top : top + 512]
        draws = np.frombuffer(rng.bytes(strip.size), dtype=np.uint8).reshape(strip.shape)
        strip[...] = np.clip(strip + levels[draws], 0, 255)
    return Image.fromarray(arr)


_NORMAL_QUANTILES = np.array(
    [NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)], dtype=np.float32
)


def _encode(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=QUALITY)
    return buf.getvalue()


def _extension(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as img:
        fmt = img.format or "JPEG"
    return {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "HEIF": ".heic"}.get(fmt, ".jpg")


def _mtime(i: int) -> int:
    return 1_600_000_000 + i * 60  # fixed times: the keeper may use them, so no run-to-run drift


def _write(path: Path, data: bytes, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.utime(tmp, (mtime, mtime))
    os.replace(tmp, path)


# ---- the build ----


def build_library(
    out: Path,
    settings: Settings,
    photos: Path = Path("../shared/dev-photos"),
    workers: int = 0,
    log: bool = True,
) -> Path:
    """Builds the library in ``out`` (or reuses a finished one with the same settings)."""
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if settings.matches(manifest):
            _say(log, f"reusing {out} ({len(manifest['files'])} files)")
            return out
        _say(log, f"{out} was built with other settings: building it again")
        shutil.rmtree(out)
    sources = source_photos(photos)
    plans = plan_library(sources, settings)
    _check_disk(out, plans, log)
    jobs = [Job(p, tuple(map(str, sources)), str(out), settings.seed) for p in plans]
    start = time.perf_counter()
    rows = [row for result in _run(jobs, workers, log) for row in result]
    _write_manifest(manifest_path, settings, rows, plans, sources)
    took = time.perf_counter() - start
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    copies = sum(r[2] == "copy" for r in rows)
    _say(log, f"built {len(rows)} files ({settings.count} pictures, {copies} copies) in "
              f"{took:.0f} s: {size / 1e9:.2f} GB in {out}")  # fmt: skip
    return out


def _run(jobs: list[Job], workers: int, log: bool) -> Iterator[list[tuple[str, ...]]]:
    workers = workers or os.cpu_count() or 1
    results: list[list[tuple[str, ...]]] = [[] for _ in jobs]
    last = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for done, (i, rows) in enumerate(pool.imap_unordered(_indexed, enumerate(jobs), 8), 1):
            results[i] = list(rows)
            if log and (time.monotonic() - last > 10 or done == len(jobs)):
                last = time.monotonic()
                _say(log, f"  {done}/{len(jobs)} pictures")
    yield from results  # in picture order, whatever order the workers finished in


def _indexed(item: tuple[int, Job]) -> tuple[int, list[tuple[str, str, str, str, str]]]:
    return item[0], render(item[1])


def _check_disk(out: Path, plans: list[Plan], log: bool) -> None:
    mp = sum(p.size[0] * p.size[1] for p in plans) / 1e6
    copies_mp = sum(p.size[0] * p.size[1] for p in plans if p.edit) / 1e6
    # Copies vary (a PNG is several times the JPEG, a resize-25 a sixteenth): count them at
    # twice a JPEG's size to stay on the safe side.
    need = (mp + 2 * copies_mp) * BYTES_PER_MP
    out.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(out).free
    _say(log, f"about {need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free on {out}")
    if need > 0.8 * free:
        raise SystemExit("not enough free disk space for this library: lower --count or --max-mp")


def _write_manifest(
    path: Path,
    settings: Settings,
    rows: list[tuple[str, ...]],
    plans: list[Plan],
    sources: Sequence[Path],
) -> None:
    """The files in `ndid eval make-dataset`'s format, plus what each picture is made of
    ("regions": source photo and box; "pictures": group -> region numbers), so a benchmark can
    tell a false match between pictures that share a region from one between unrelated ones."""
    files = [dict(zip(("file", "group", "role", "edit", "tier"), r, strict=True)) for r in rows]
    number: dict[Region, int] = {}
    for plan in plans:
        for region in plan.regions:
            number.setdefault(region, len(number))
    data = {
        "version": MANIFEST_VERSION,
        "settings": asdict(settings),
        "seed": settings.seed,
        "files": files,
        "regions": [[sources[r.source].name, *r.box] for r in number],
        "pictures": {f"p{p.index:06d}": [number[r] for r in p.regions] for p in plans},
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)  # written last: its presence means the library is complete


def _say(log: bool, text: str) -> None:
    if log:
        print(text, flush=True)


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-mp", type=float, default=2.0, help="smallest picture (megapixels)")
    parser.add_argument(
        "--max-mp", type=float, default=12.0, help="largest picture; below --min-mp, all are this"
    )
    parser.add_argument("--copy-share", type=float, default=0.15,
                        help="share of pictures that get one edited copy")  # fmt: skip
    parser.add_argument("--photos", type=Path, default=Path("../shared/dev-photos"))
    parser.add_argument("--workers", type=int, default=0, help="processes (default: one a core)")


def settings_from(args: argparse.Namespace, count: int) -> Settings:
    return Settings(count, args.seed, args.min_mp, args.max_mp, args.copy_share)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to build the library in")
    parser.add_argument("--count", type=int, required=True, help="distinct pictures")
    add_settings_arguments(parser)
    args = parser.parse_args()
    build_library(args.out, settings_from(args, args.count), args.photos, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
