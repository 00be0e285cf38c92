#!/usr/bin/env bash
# Test the .deb: its file list, its .desktop entry, and a real install into a throw-away root:
#   bash packaging/test_deb.sh [PACKAGE.deb]    (builds it with packaging/build_deb.sh if absent)
# The install is `dpkg --root=DIR --force-not-root --force-script-chrootless -i` against an
# empty dpkg database made under DIR/var/lib/dpkg (so the maintainer scripts really run, with
# DPKG_ROOT=DIR; dependencies are not installed there, hence --force-depends). Then the
# installed launchers run --version and a small headless scan, and `dpkg --purge` must leave
# nothing under DIR/opt and DIR/usr. Needs dpkg, and desktop-file-validate if installed
# (Debian: desktop-file-utils). Photos come from ../shared/dev-photos, like smoke_test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
VERSION=$(python3 -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
DEB=${1:-dist/ndid-desktop_${VERSION}_$(dpkg --print-architecture).deb}
[ -f "$DEB" ] || bash packaging/build_deb.sh
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "test_deb: FAIL: $*" >&2; exit 1; }

# 1. Contents.
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' > "$WORK/list"
for path in /opt/ndid-desktop/ndid-desktop /opt/ndid-desktop/_internal/ /usr/bin/ndid-desktop \
    /usr/bin/ndid /usr/share/applications/ndid-desktop.desktop \
    /usr/share/icons/hicolor/scalable/apps/ndid-desktop.svg \
    /opt/ndid-desktop/_internal/ndid_desktop/resources/models/efficientnet-lite0-v1.onnx; do
    grep -qxF "$path" "$WORK/list" || fail "$path is not in the package"
done
for size in 16 32 48 64 128 256; do
    grep -qxF "/usr/share/icons/hicolor/${size}x${size}/apps/ndid-desktop.png" "$WORK/list" ||
        fail "no ${size}x${size} icon"
done
dpkg-deb -f "$DEB" Package Version Architecture Depends
echo "contents checked: $(wc -l < "$WORK/list") entries"

# 2. The menu entry.
dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/share/applications/ndid-desktop.desktop > "$WORK/ndid-desktop.desktop"
if command -v desktop-file-validate >/dev/null; then
    problems=$(desktop-file-validate "$WORK/ndid-desktop.desktop" 2>&1 | grep -v '^[^:]*: hint:' || true)
    [ -z "$problems" ] || fail ".desktop invalid: $problems"
    echo "desktop file valid (desktop-file-validate)"
else
    echo "desktop-file-validate not installed: .desktop not validated"
fi
grep -qx 'Exec=ndid-desktop %F' "$WORK/ndid-desktop.desktop" || fail "Exec"
grep -qx 'Icon=ndid-desktop' "$WORK/ndid-desktop.desktop" || fail "Icon"

# 3. Install into a throw-away root with its own (empty) dpkg database.
ROOT=$WORK/root
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates" "$ROOT/var/lib/dpkg/triggers" "$ROOT/var/log"
: > "$ROOT/var/lib/dpkg/status"
: > "$ROOT/var/lib/dpkg/available"
DPKG=(dpkg --root="$ROOT" --log=/dev/null --force-not-root --force-script-chrootless --force-depends)
"${DPKG[@]}" -i "$DEB" > "$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; fail "dpkg -i"; }
[ "$(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f='${Status}' ndid-desktop)" = "install ok installed" ] ||
    fail "not installed"
inside() { local target; target=$(readlink "$ROOT$1"); echo "$ROOT$target"; }  # absolute links
NDID_DESKTOP=$(inside /usr/bin/ndid-desktop)
NDID=$(inside /usr/bin/ndid)
[ "$NDID_DESKTOP" = "$ROOT/opt/ndid-desktop/ndid-desktop" ] || fail "/usr/bin/ndid-desktop -> $NDID_DESKTOP"
"$NDID_DESKTOP" --version
"$NDID" --version
"$NDID" --help > /dev/null  # `ndid` with no command is the command line, not the window

mkdir "$WORK/photos"
.venv/bin/python - "$WORK/photos" <<'PY'
import sys
from pathlib import Path
from PIL import Image
out = Path(sys.argv[1])
source = sorted(Path("../shared/dev-photos").glob("*.jpg"))[0]
img = Image.open(source).convert("RGB")
img.save(out / "photo.jpg", quality=95)
img.resize((img.width // 2, img.height // 2)).save(out / "photo-small.jpg", quality=70)
PY
"$NDID" --data-dir "$WORK/data" scan "$WORK/photos" --json "$WORK/report.json" 2> /dev/null
python3 - "$WORK/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
assert len(report["groups"]) == 1 and report["groups"][0]["keep"].endswith("/photo.jpg"), report
assert report["stats"]["runtime"].startswith("onnxruntime"), report["stats"]
print("installed app scanned: 1 group, keeps photo.jpg, encoder on", report["stats"]["runtime"])
PY

# 4. Remove and purge: nothing of it may stay.
"${DPKG[@]}" --purge ndid-desktop > "$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; fail "dpkg --purge"; }
left=$(find "$ROOT/opt" "$ROOT/usr" -mindepth 1 ! -type d 2>/dev/null | sed "s|^$ROOT||" || true)
[ -z "$left" ] || fail "left after purge: $left"
left_dirs=$(find "$ROOT/opt" "$ROOT/usr" -mindepth 1 -type d 2>/dev/null | sed "s|^$ROOT||" || true)
[ -z "$left_dirs" ] || echo "note: empty folders dpkg keeps: $(echo $left_dirs | head -c 300)"
echo "purged: nothing left under DIR/opt or DIR/usr"
echo "deb test passed in $(( $(date +%s) - start )) s"
