"""Speed of the hash stage: compute_hashes against the imagehash calls it replaced.

    python benchmarks/bench_hashes.py --photos ../shared/dev-photos --count 20

Times compute_hashes on each photo's 64x64 grey square (``hash_source``, which every path
shares and which is not part of the comparison), and, where imagehash is installed (a dev
dependency), the same three hashes in eight orientations as they were computed with imagehash
(wHash once, dHash per orientation; pHash was already numpy). Prints microseconds per picture.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ndid_desktop.engine.features.hashes import (
    _DCT8,
    HASH_BYTES,
    HASH_KINDS,
    ORIENTATIONS,
    _transpose_array,
    compute_hashes,
    hash_source,
)


def imagehash_hashes(source: Image.Image) -> Any:
    """compute_hashes as it was before the wHash and dHash moved to numpy."""
    import imagehash

    grey32 = np.asarray(source.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    wgrid = np.asarray(imagehash.whash(source, image_scale=64).hash, dtype=bool)
    out = np.empty((len(HASH_KINDS), len(ORIENTATIONS), HASH_BYTES), dtype=np.uint8)
    for o, (_, transpose) in enumerate(ORIENTATIONS):
        low = _DCT8 @ _transpose_array(grey32, transpose) @ _DCT8.T
        out[0, o] = np.packbits((low > np.median(low)).ravel())
        view = source if transpose is None else source.transpose(transpose)
        out[1, o] = np.packbits(np.asarray(imagehash.dhash(view).hash, dtype=bool).ravel())
        out[2, o] = np.packbits(_transpose_array(wgrid, transpose).ravel())
    return out


def per_picture_us(fn: Any, sources: list[Image.Image], repeat: int) -> float:
    best = min(timeit.repeat(lambda: [fn(s) for s in sources], number=1, repeat=repeat))
    return best / len(sources) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path("../shared/dev-photos"))
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    sources = []
    for path in sorted(args.photos.glob("*.jpg"))[: args.count]:
        with Image.open(path) as im:
            im.draft("RGB", (512, 512))
            sources.append(hash_source(im.convert("RGB")))
    if not sources:
        sys.exit(f"no photos in {args.photos}")
    after = per_picture_us(compute_hashes, sources, args.repeat)
    print(f"compute_hashes (numpy):   {after:8.1f} us")
    try:
        import imagehash  # noqa: F401
    except ImportError:
        print("imagehash not installed: no comparison")
        return
    assert all((compute_hashes(s) == imagehash_hashes(s)).all() for s in sources)
    before = per_picture_us(imagehash_hashes, sources, args.repeat)
    print(f"with imagehash (before):  {before:8.1f} us  ({before / after:.2f}x)")


if __name__ == "__main__":
    main()
