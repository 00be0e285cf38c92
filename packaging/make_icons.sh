#!/usr/bin/env bash
# Render the app icon (resources/icons/ndid-desktop.svg) to the PNG sizes the .deb installs and
# the window uses, plus a Windows .ico and a macOS .icns (Pillow). The results are committed, so
# builds need no SVG renderer; rerun this after editing the SVG.
#   apt-get install librsvg2-bin && bash packaging/make_icons.sh
set -euo pipefail
cd "$(dirname "$0")/../resources/icons"
for size in 16 32 48 64 128 256 512; do
    rsvg-convert -w "$size" -h "$size" ndid-desktop.svg -o "ndid-desktop-$size.png"
done
../../.venv/bin/python - <<'PY'
from PIL import Image
big = Image.open("ndid-desktop-512.png")
sizes = [16, 32, 48, 64, 128, 256]
Image.open("ndid-desktop-256.png").save(
    "ndid-desktop.ico", sizes=[(s, s) for s in sizes],
    append_images=[Image.open(f"ndid-desktop-{s}.png") for s in sizes[:-1]])
big.save("ndid-desktop.icns", append_images=[Image.open(f"ndid-desktop-{s}.png") for s in (16, 32, 64, 128, 256)])
PY
rm ndid-desktop-512.png  # only the .icns needs it
ls -l
