"""Screenshot the Compare dialog with its matched-keypoints view: one development photo and a
crop of it, scanned for real (so the probability and reasons are the scan's), the dialog
opened on the crop with "Matches" on, and the dialog written to a PNG.

    python scripts/screenshot_compare.py docs/images/compare-keypoints-crop.png
    python scripts/screenshot_compare.py OUT.png --photo PATH --crop 0.7 --show-for 5

It grabs the dialog itself, so it runs offscreen (QT_QPA_PLATFORM=offscreen, the default
when no display is set) as well as on a display or under Xvfb (``--show-for`` keeps the
window up that many seconds, for a screenshot of the whole screen).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from PIL import Image
from screenshots import wait_until  # beside this script: python puts its folder on the path

DEV_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "dev-photos"


def make_pair(photo: Path, folder: Path, share: float) -> tuple[Path, Path]:
    """The photo and a crop of ``share`` of each side, off centre, saved as a JPEG."""
    original = folder / photo.name
    original.write_bytes(photo.read_bytes())
    with Image.open(photo) as image:
        rgb = image.convert("RGB")
    width, height = rgb.size
    w, h = int(width * share), int(height * share)
    x, y = int((width - w) * 0.7), int((height - h) * 0.35)
    crop = folder / f"crop-of-{photo.stem}.jpg"
    rgb.crop((x, y, x + w, y + h)).save(crop, quality=80)  # a re-saved copy
    return original, crop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--photo", type=Path, help="a photo (default: the first dev photo)")
    parser.add_argument("--crop", type=float, default=0.7, help="share of each side kept")
    parser.add_argument("--show-for", type=float, default=0.0, help="seconds to keep it up")
    args = parser.parse_args(argv)
    if "DISPLAY" not in os.environ and "WAYLAND_DISPLAY" not in os.environ:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    photo = args.photo or sorted(DEV_PHOTOS.glob("*.jpg"))[0]

    from PySide6.QtWidgets import QApplication

    from ndid_desktop.engine import Root, scan
    from ndid_desktop.ui.compare import CompareDialog
    from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

    with tempfile.TemporaryDirectory(prefix="ndid-compare-") as tmp:
        photos = Path(tmp) / "photos"
        photos.mkdir()
        _, crop = make_pair(photo, photos, args.crop)
        config = scan_config(DataFolder(Path(tmp) / "data"), ScanOptions(workers=1))
        report = scan([Root(photos)], config)
        if not report.groups:
            print("the scan did not group the photo with its crop", file=sys.stderr)
            return 1
        group = report.groups[0]
        shown = next(m.path for m in group.members if m.path != group.keep)
        _app = QApplication.instance() or QApplication([])  # held while the dialog lives
        dialog = CompareDialog.for_group(group.members, group.keep, shown, None, lambda p: None)
        dialog.matches_button.setChecked(True)
        dialog.show()
        wait_until(dialog.matches_ready, 30.0)
        wait_until(lambda: False, args.show_for)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not dialog.grab().save(str(args.out)):
            print(f"could not write {args.out}", file=sys.stderr)
            return 1
        print(f"{args.out}: {crop.name} beside {Path(group.keep).name}")
        dialog.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
