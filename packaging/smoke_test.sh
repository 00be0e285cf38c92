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
for g in groups:
    assert g["keep"].endswith(".jpg") and "-small" not in g["keep"], g["keep"]
    assert len(g["members"]) == 2
print("report checked: 3 groups, each keeping the full-size original")
PY
QT_QPA_PLATFORM=offscreen "$APP" --data-dir "$DATA" --quit-after 1
test -f "$DATA/settings.ini"
echo "smoke test passed"
