"""Scan speed against the decode floor, re-scan time and peak memory.

    python benchmarks/bench_scan.py --photos ../shared/dev-photos --count 200 --size 4032x3024

Synthesises phone-sized JPEGs (upscaled development photos, quality 90) into --work once, then
prints: the decode floor (every image decoded with the scan's own draft settings, in as many
processes as the scan uses), the full scan with an empty cache, their ratio, the re-scan of the
unchanged folder, peak RSS of the scan process and of its decode workers, and a per-stage table
of each scan (benchmarks/stage_table.py). For libraries of thousands of distinct pictures with
labelled copies, see bench_scale.py.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from stage_table import format_stage_table

if TYPE_CHECKING:
    from ndid_desktop.engine.types import ScanReport


def mosaics(photos: Path, work: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """``count`` distinct pictures: each a 2x2 mosaic of four dev photos picked at random, so
    a large library can be simulated without repeating one picture many times."""
    import random

    folder = work / f"mosaic-{size[0]}x{size[1]}-{count}"
    if folder.is_dir() and len(list(folder.glob("*.jpg"))) == count:
        return sorted(folder.glob("*.jpg"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    tile = (size[0] // 2, size[1] // 2)
    tiles = []
    for source in sorted(photos.glob("*.jpg")):
        with Image.open(source) as img:
            tiles.append(img.convert("RGB").resize(tile, Image.Resampling.BILINEAR))
    rng = random.Random(0)
    for i in range(count):
        canvas = Image.new("RGB", size)
        for j, t in enumerate(rng.sample(tiles, 4)):
            canvas.paste(t, ((j % 2) * tile[0], (j // 2) * tile[1]))
        canvas.save(folder / f"mosaic{i:05d}.jpg", "JPEG", quality=88)
    return sorted(folder.glob("*.jpg"))


def synthesise(
    photos: Path, work: Path, count: int, size: tuple[int, int], noise: float = 0.0
) -> list[Path]:
    """Dev photos upscaled to ``size``. Upscaled pictures are smooth and decode about three
    times faster than a phone's photo; ``noise`` (grey levels, e.g. 6) adds sensor-like grain
    so that they decode (and compress, ~4 MB at 12 MP) like real ones."""
    suffix = f"-noise{noise:g}" if noise else ""
    folder = work / f"jpeg-{size[0]}x{size[1]}-{count}{suffix}"
    rng = np.random.default_rng(0)
    sources = sorted(photos.glob("*.jpg"))
    if folder.is_dir() and len(list(folder.glob("*.jpg"))) == count:
        return sorted(folder.glob("*.jpg"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(count):
        with Image.open(sources[i % len(sources)]) as img:
            big = img.convert("RGB").resize(size, Image.Resampling.BICUBIC)
            if i >= len(sources):  # repeat sources as distinct files: mirrored, re-encoded
                big = big.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            if noise:
                grain = rng.normal(0.0, noise, (size[1], size[0], 1)).astype(np.float32)
                pixels = np.asarray(big, dtype=np.float32) + grain
                big = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            big.save(folder / f"img{i:05d}.jpg", "JPEG", quality=90)
    return sorted(folder.glob("*.jpg"))


def _decode_only(path: str) -> int:
    from ndid_desktop.engine.files.decode import decode

    return decode(path).image.width


def decode_floor(files: list[Path], workers: int) -> float:
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=context) as pool:
        list(pool.map(_decode_only, [str(files[0])] * workers))  # start the workers first
        start = time.perf_counter()
        list(pool.map(_decode_only, [str(f) for f in files], chunksize=4))
        return time.perf_counter() - start


def run_scan(folder: Path, cache: Path, model_set: str, models: Path) -> tuple[float, ScanReport]:
    from ndid_desktop.engine import Root, ScanConfig, scan

    config = ScanConfig(model_set=model_set, cache_path=cache, models_dir=models)
    start = time.perf_counter()
    report = scan([Root(folder)], config)
    return time.perf_counter() - start, report


def encoder_only(args: argparse.Namespace, files: list[Path], floor: float) -> int:
    from ndid_desktop.engine.config import Root, ScanConfig
    from ndid_desktop.engine.features.cache import FeatureCache
    from ndid_desktop.engine.features.encoders import SPECS, build_encoder
    from ndid_desktop.engine.features.extract import compute_features
    from ndid_desktop.engine.features.model_store import ModelStore
    from ndid_desktop.engine.files.discover import discover

    spec = SPECS[args.encoder_only]
    models = args.work / "models"
    models.mkdir(parents=True, exist_ok=True)
    if spec.weights_file is not None:
        _random_weights(spec, models / spec.weights_file.filename)
    store = ModelStore(user_dir=models, use_framework_caches=False)
    encoder = build_encoder(spec, models, store)
    config = ScanConfig(models_dir=models)
    entries = discover([Root(files[0].parent)], config).files
    start = time.perf_counter()
    with FeatureCache(None) as cache:
        compute_features(entries, config, cache, spec, encoder=encoder, store=store)
    took = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{spec.name} ({encoder.runtime}): {took:7.1f} s  {len(entries) / took:6.1f} images/s  "
        f"ratio to floor {took / floor:.2f}x  peak RSS {rss:.0f} MiB"
    )
    return 0


def _random_weights(spec: object, target: Path) -> None:
    if target.exists():
        return
    import torch

    from ndid_desktop.engine.features import backbones

    name = getattr(spec, "name", "")
    if name == "resnet50":
        state = backbones.resnet50_module(None).state_dict()
        state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
        torch.save(state, target)
    else:
        import open_clip

        model = open_clip.create_model("ViT-B-32", pretrained=None)
        from safetensors.torch import save_file

        save_file(model.state_dict(), str(target))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=Path("../shared/dev-photos"))
    parser.add_argument("--work", type=Path, default=Path("bench-data"))
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", default="4032x3024")
    parser.add_argument("--model-set", default="standard")
    parser.add_argument("--noise", type=float, default=0.0, help="sensor-like grain (grey levels)")
    parser.add_argument(
        "--mosaic",
        action="store_true",
        help="distinct 2x2 mosaics of dev photos instead of upscaled photos "
        "(for large counts: the dev set has only 335 pictures)",
    )
    parser.add_argument(
        "--encoder-only",
        default=None,
        metavar="NAME",
        help="time only the feature stage with this encoder (e.g. resnet50, "
        "clip-vit-b-32); with no pretrained weights here, random weights are "
        "saved in the models folder: speed is the same, the vectors are not",
    )
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if args.mosaic:
        files = mosaics(args.photos, args.work, args.count, (size[0], size[1]))
    else:
        files = synthesise(args.photos, args.work, args.count, (size[0], size[1]), args.noise)
    folder = files[0].parent
    workers = os.cpu_count() or 1
    megapixels = size[0] * size[1] / 1e6
    print(f"{len(files)} JPEGs of {size[0]}x{size[1]} ({megapixels:.1f} MP), {workers} cores")

    floor = decode_floor(files, workers)
    print(f"decode floor     {floor:7.1f} s  {len(files) / floor:6.1f} images/s")
    if args.encoder_only:
        return encoder_only(args, files, floor)
    cache = args.work / "bench-cache.sqlite"
    for leftover in args.work.glob("bench-cache.sqlite*"):
        leftover.unlink()
    models = args.work / "models"
    # The one-time ONNX export (torch, ~10 s) is a first-run cost, not a scan cost: do it first.
    from ndid_desktop.engine.features.encoders import LITE0
    from ndid_desktop.engine.features.extract import prepare_onnx

    prepare_onnx(LITE0, models)
    first, report = run_scan(folder, cache, args.model_set, models)
    again, again_report = run_scan(folder, cache, args.model_set, models)
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    n = len(files)
    stats = report.stats
    print(f"full scan        {first:7.1f} s  {n / first:6.1f} images/s  "
          f"ratio to floor {first / floor:.2f}x  (model set {args.model_set})")  # fmt: skip
    print(f"re-scan          {again:7.1f} s  ({again / first:.1%} of the first scan)")
    print(f"peak RSS         scan process {rss_self:.0f} MiB, largest decode worker "
          f"{rss_children:.0f} MiB")  # fmt: skip
    print(f"pairs: {stats.candidate_pairs} candidates, {stats.gated_pairs} gated, "
          f"{stats.groups} groups")  # fmt: skip
    print("\nfirst scan, per stage:")
    print(format_stage_table(stats, first))
    print("\nre-scan, per stage:")
    print(format_stage_table(again_report.stats, again))
    return 0


if __name__ == "__main__":
    sys.exit(main())
