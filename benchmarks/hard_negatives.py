"""False matches on pictures that are different but look alike: every group found is a mistake.

    python benchmarks/hard_negatives.py --photos ../shared/dev-photos --work /tmp/hard-negatives

Two sets, neither holding a true pair:
- the distinct photos themselves (look-alike textures, two shots of one scene, the light and the
  dark cut of one wallpaper are all in the dev photos);
- different photos in one frame: each frame (an app window's chrome, a phone's status bar, a
  caption, a logo, a border, a print-scan's paper) put around PER_FRAME different photos, so
  that what they share is the frame alone. A scan must decide on the photo, not the frame.

Prints each false group with its members' probabilities, and the false pairs per frame.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

PER_FRAME = 8
FRAMES = ("screenshot", "phone", "text", "logo", "border", "print-scan")
LONG_SIDE = 1600


def make_framed(photos: list[Path], out: Path, seed: int) -> None:
    """PER_FRAME different photos in each frame, each photo used once."""
    from PIL import Image

    from ndid_desktop.engine.evaluation.attacks import EDITS_BY_NAME, apply_edit
    from ndid_desktop.engine.evaluation.lifelike import phone_screen

    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    chosen = iter(rng.sample(photos, PER_FRAME * len(FRAMES)))
    for frame in FRAMES:
        for n in range(PER_FRAME):
            with Image.open(next(chosen)) as img:
                img.thumbnail((LONG_SIDE, LONG_SIDE))
                source = img.convert("RGB")
            if frame == "phone":
                phone_screen(source).save(out / f"{frame}-{n}.png")
            else:
                data = apply_edit(EDITS_BY_NAME[frame], source, rng)
                suffix = ".png" if frame == "screenshot" else ".jpg"
                (out / f"{frame}-{n}{suffix}").write_bytes(data)


def false_groups(folder: Path, data_dir: Path, model_set: str) -> list[list[tuple[str, float]]]:
    from ndid_desktop.engine.config import Root, ScanConfig
    from ndid_desktop.engine.pipeline import scan

    config = ScanConfig(model_set=model_set, cache_path=data_dir / f"{folder.name}.sqlite")
    report = scan([Root(folder)], config)
    return [[(Path(m.path).name, m.probability) for m in g.members] for g in report.groups]


def show(title: str, groups: list[list[tuple[str, float]]], files: int) -> None:
    pairs = sum(len(g) - 1 for g in groups)
    print(f"{title}: {files} files, {len(groups)} false groups, {pairs} files grouped falsely")
    for group in groups:
        print("   ", ", ".join(f"{name} ({p:.3f})" for name, p in group))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=Path("../shared/dev-photos"))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--models", default="standard")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from ndid_desktop.engine.config import DEFAULT_EXTENSIONS

    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in DEFAULT_EXTENSIONS)
    framed = args.work / "framed"
    if not framed.exists():
        make_framed(photos, framed, args.seed)
    show("distinct photos", false_groups(args.photos, args.work, args.models), len(photos))
    groups = false_groups(framed, args.work, args.models)
    show("different photos, one frame", groups, PER_FRAME * len(FRAMES))
    per_frame = Counter(name.rsplit("-", 1)[0] for g in groups for name, _ in g)
    for frame in FRAMES:
        print(f"    {frame:<11} {per_frame[frame]} files in false groups")


if __name__ == "__main__":
    main()
