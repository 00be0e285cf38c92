"""Peak memory of one decode worker on the files that used to blow it up.

    python benchmarks/bench_decode_memory.py [--work DIR] [--only NAME ...] [--onnx LITE0.onnx]
                                             [--budget MB]

Generates hostile-but-legitimate files once into --work (a flat 13300x13300 16-bit greyscale
PNG that is 1.5 MB on disk, 50 MP 8-bit PNGs, 100 MP panorama JPEGs, a 16-bit RGB TIFF, a large
WebP, a 48 MP HEIC), then decodes each one in a fresh child process exactly as a scan worker
does (``features.extract_chunk``: a chunk of eight files, decode then hashes; with --onnx, after
building and using the ONNX Runtime session a worker keeps between chunks). It prints the
child's peak RSS (VmHWM: a fresh process's own high-water mark, not inflated by this parent),
its peak before the picture, the decoder's own estimate, and what came out or why it was skipped.
--budget replaces ScanConfig.max_decode_bytes in the child, to measure what a refused file would
take if it were admitted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ndid_desktop.engine.config import ScanConfig

MB = 1_000_000

# Runs in the child: imports what a worker imports, then decodes one file as a worker does.
CHILD = r"""
import json, resource, sys
def peak_kb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from pathlib import Path
from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.extract import extract_chunk
from ndid_desktop.engine.files import decode as decode_module
path, small, onnx = sys.argv[1], sys.argv[2], Path(sys.argv[3]) if sys.argv[3] else None
budget = int(sys.argv[4]) if sys.argv[4] else ScanConfig().max_decode_bytes
spec = None
if onnx is not None:
    from ndid_desktop.engine.features.encoders import LITE0 as spec
    extract_chunk([small] * 8, spec, onnx, budget)  # the session a worker keeps between chunks
baseline = peak_kb()
try:
    estimate = decode_module.estimate_decode_bytes(path)
except Exception:
    estimate = None
result = extract_chunk([path] + [small] * 7, spec, onnx, budget)[0]  # one worker chunk
print(json.dumps({
    "baseline_kb": baseline, "peak_kb": peak_kb(), "error": result.error,
    "estimate": estimate, "budget": budget,
    "size": None if result.info is None else [result.info.width, result.info.height],
}))
"""


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    make: Callable[[Path], None]


def _gradient(width: int, height: int) -> NDArray[np.float32]:
    """A smooth picture (compresses well, so the files stay small on disk)."""
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    return (x * 0.7 + y * 0.3).astype(np.float32)


def _rgb8(width: int, height: int) -> NDArray[np.uint8]:
    g = _gradient(width, height)
    return np.stack([g, 1.0 - g, g * g], axis=-1).__mul__(255).astype(np.uint8)


def make_grey16_png(path: Path) -> None:
    # Flat, with one bright square so the maximum is not zero: ~0.4 MB on disk, 177 MP.
    side = 13300
    pixels = np.zeros((side, side), dtype=np.uint16)
    pixels[6000:7000, 6000:7000] = 50000
    Image.fromarray(pixels).save(path, compress_level=1)


def make_rgb_png(path: Path) -> None:
    Image.fromarray(_rgb8(8660, 5773)).save(path, compress_level=1)


def make_rgba_png(path: Path) -> None:
    rgb = _rgb8(8660, 5773)
    alpha = np.full(rgb.shape[:2], 255, dtype=np.uint8)
    alpha[:, : rgb.shape[1] // 4] = 0
    Image.fromarray(np.dstack([rgb, alpha])).save(path, compress_level=1)


def make_jpeg(path: Path, progressive: bool) -> None:
    Image.fromarray(_rgb8(20000, 5000)).save(path, "JPEG", quality=90, progressive=progressive)


def make_rgb16_tiff(path: Path) -> None:
    import cv2  # Pillow cannot write 16-bit RGB; OpenCV writes an LZW-compressed TIFF

    rgb = (_rgb8(8000, 6000).astype(np.uint16) * 257).astype(np.uint16)
    cv2.imwrite(str(path), rgb)


def make_webp(path: Path) -> None:
    Image.fromarray(_rgb8(8000, 6000)).save(path, "WEBP", quality=80, method=0)


def make_heic(path: Path, tile_size: int = 0) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    # tile_size 512: a grid of 512 px tiles, as an iPhone writes its 48 MP "HEIF Max" photos.
    Image.fromarray(_rgb8(8064, 6048)).save(path, "HEIF", quality=60, tile_size=tile_size)


def make_heic_444(path: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    params = {"chroma": 444, "enc_params": {"preset": "ultrafast"}}
    Image.fromarray(_rgb8(8064, 6048)).save(path, "HEIF", quality=60, **params)


def make_heic_10bit(path: Path) -> None:
    import pillow_heif

    rgb16 = _rgb8(8064, 6048).astype(np.uint16) << 8
    heif = pillow_heif.from_bytes("RGB;16", (8064, 6048), rgb16.tobytes())
    heif.save(path, quality=60, enc_params={"preset": "ultrafast"})  # written as 10 bits


CASES = (
    Case("16-bit grey PNG 13300x13300 (flat)", "grey16-13300.png", make_grey16_png),
    Case("8-bit RGB PNG 50 MP", "rgb-50mp.png", make_rgb_png),
    Case("8-bit RGBA PNG 50 MP", "rgba-50mp.png", make_rgba_png),
    Case("JPEG 100 MP panorama (baseline)", "pano-100mp.jpg", lambda p: make_jpeg(p, False)),
    Case("JPEG 100 MP panorama (progressive)", "pano-100mp-prog.jpg", lambda p: make_jpeg(p, True)),
    Case("16-bit RGB TIFF 48 MP (LZW)", "rgb16-48mp.tif", make_rgb16_tiff),
    Case("WebP 48 MP", "big-48mp.webp", make_webp),
    Case("HEIC 48 MP", "big-48mp.heic", make_heic),
    Case("HEIC 48 MP (512 px grid)", "grid-48mp.heic", lambda p: make_heic(p, 512)),
    Case("HEIC 48 MP 10-bit", "ten-48mp.heic", make_heic_10bit),
    Case("HEIC 48 MP 4:4:4", "c444-48mp.heic", make_heic_444),
)


def ensure(case: Case, work: Path) -> Path | None:
    path = work / case.filename
    if not path.exists():
        started = time.perf_counter()
        try:
            case.make(path)
        except ImportError as exc:
            print(f"  (skipping {case.name}: {exc})")
            return None
        print(f"  made {path.name} in {time.perf_counter() - started:.1f} s")
    return path


def measure(
    path: Path, small: Path, onnx: Path | None, budget: int | None = None
) -> dict[str, object]:
    command = [
        sys.executable,
        "-c",
        CHILD,
        str(path),
        str(small),
        str(onnx or ""),
        str(budget or ""),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"crashed": done.returncode, "stderr": done.stderr[-500:]}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["stderr"] = done.stderr.strip()
    return result


def report(case: Case, path: Path, result: dict[str, object]) -> None:
    on_disk = path.stat().st_size / MB
    print(f"{case.name}  ({on_disk:.1f} MB on disk)")
    if "crashed" in result:
        print(f"    child died with {result['crashed']}: {result['stderr']}")
        return
    peak = int(str(result["peak_kb"])) * 1024 / MB
    baseline = int(str(result["baseline_kb"])) * 1024 / MB
    estimate = result.get("estimate")
    estimate_text = f", estimate {int(str(estimate)) / MB:.0f} MB" if estimate else ""
    print(f"    peak RSS {peak:.0f} MB (before the picture {baseline:.0f} MB){estimate_text}")
    outcome = f"skipped: {result['error']}" if result["error"] else f"decoded {result['size']}"
    print(f"    {outcome}")
    if result["stderr"]:
        print(f"    stderr: {str(result['stderr'])[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/ndid-decode-bench"))
    parser.add_argument("--only", nargs="*", help="substrings of the case names to run")
    parser.add_argument(
        "--onnx", type=Path, help="EfficientNet-Lite0 ONNX file: also hold a worker's session"
    )
    parser.add_argument(
        "--budget", type=float, help="decode budget in MB instead of ScanConfig's (to measure)"
    )
    args = parser.parse_args()
    budget = round(args.budget * MB) if args.budget else ScanConfig().max_decode_bytes
    args.work.mkdir(parents=True, exist_ok=True)
    small = args.work / "small.png"
    Image.fromarray(_rgb8(400, 300)).save(small)
    print(f"budget {budget / MB:.0f} MB; session: {args.onnx or 'none'}")
    for case in CASES:
        if args.only and not any(s.lower() in case.name.lower() for s in args.only):
            continue
        path = ensure(case, args.work)
        if path is not None:
            report(case, path, measure(path, small, args.onnx, budget))


if __name__ == "__main__":
    main()
