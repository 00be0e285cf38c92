#!/usr/bin/env bash
# Smoke test of the built app, with a throw-away data folder: --version, a headless scan of a
# small photo set to JSON (checked), and the GUI started offscreen and closed cleanly.
#   bash packaging/smoke_test.sh          (builds first if dist/ndid-desktop is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
APP=dist/ndid-desktop/ndid-desktop
[ -x "$APP" ] || bash packaging/build.sh
DATA=$(mktemp -d)
PHOTOS=$(mktemp -d)
trap 'rm -rf "$DATA" "$PHOTOS"' EXIT

# Three distinct photos and a smaller, recompressed copy of each (made with the dev venv).
.venv/bin/python - "$PHOTOS" <<'PY'
import sys
from pathlib import Path
from PIL import Image
out = Path(sys.argv[1])
sources = sorted(Path("../shared/dev-photos").glob("*.jpg"))[:3]
for i, source in enumerate(sources):
    img = Image.open(source).convert("RGB")
    img.save(out / f"photo{i}.jpg", quality=95)
    img.resize((img.width // 2, img.height // 2)).save(out / f"photo{i}-small.jpg", quality=70)
PY

"$APP" --version
start=$(date +%s.%N)
"$APP" --data-dir "$DATA" scan "$PHOTOS" --json "$DATA/report.json"
end=$(date +%s.%N)
echo "headless scan took $(echo "$end - $start" | bc) s"
.venv/bin/python - "$DATA/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
groups = report["groups"]
assert len(groups) == 3, groups
stats = report["stats"]  # the shipped encoder on ONNX Runtime, not a fallback to hashes only
assert stats["model_set"] == "standard" and stats["runtime"].startswith("onnxruntime"), stats
for g in groups:
    assert g["keep"].endswith(".jpg") and "-small" not in g["keep"], g["keep"]
    assert len(g["members"]) == 2
print("report checked: 3 groups, each keeping the full-size original")
PY
# A crop: the keypoint check (OpenCV, with its BLAS) must decide it.
.venv/bin/python - "$PHOTOS" <<'PY'
import sys
from pathlib import Path
from PIL import Image
img = Image.open(Path(sys.argv[1]) / "photo0.jpg")
w, h = img.size
img.crop((w // 10, h // 10, w * 9 // 10, h * 9 // 10)).save(Path(sys.argv[1]) / "crop.jpg", quality=80)
PY
"$APP" --data-dir "$DATA" compare "$PHOTOS/photo0.jpg" "$PHOTOS/crop.jpg" > "$DATA/compare.txt"
grep -q "^SAME PICTURE" "$DATA/compare.txt" && grep -Eq "keypoints in agreement +[1-9][0-9]{1,}" "$DATA/compare.txt" ||
    { cat "$DATA/compare.txt"; echo "compare of a crop failed"; exit 1; }
echo "crop compared: $(grep 'keypoints in agreement' "$DATA/compare.txt" | tr -s ' ')"
[ ! -e "$(dirname "$APP")/ndid" ] || "$(dirname "$APP")/ndid" --version  # `ndid` link: the CLI
QT_QPA_PLATFORM=offscreen "$APP" --data-dir "$DATA" --quit-after 1
test -f "$DATA/settings.ini"
echo "smoke test passed"
