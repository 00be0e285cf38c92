#!/usr/bin/env bash
# Build the one-folder app into dist/ndid-desktop and an archive beside it.
#   bash packaging/build.sh                     # the offline encoder only (what the app needs)
#   bash packaging/build.sh --bundle-optional   # also ResNet-50/CLIP weights, if present here
# The encoder ships in resources/models/, so the build needs no torch; only a checkout without
# that file exports it with torch first (into build/models). The archive is
# dist/ndid-desktop-linux-x86_64.tar.zst (zstd -12 --long=27; unpack: tar --zstd -xf FILE), or
# .tar.gz where zstd is not installed. packaging/build_deb.sh makes a .deb from the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
extras=gui
export_needed=
if ! ls resources/models/*.onnx >/dev/null 2>&1 || [ "${1:-}" = "--bundle-optional" ]; then
    extras=gui,thorough  # torch, to export the model (or locate the optional weights)
    export_needed=1
fi
.venv/bin/python -m pip install --quiet -e ".[$extras]" pyinstaller
start=$(date +%s)
rm -rf build/models
if [ -n "$export_needed" ]; then
    .venv/bin/python packaging/export_models.py build/models "$@"
fi
.venv/bin/python -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist \
    --workpath build/pyinstaller packaging/ndid_desktop.spec
.venv/bin/python packaging/slim.py dist/ndid-desktop
ln -sfn ndid-desktop dist/ndid-desktop/ndid  # started as `ndid`, it is the command line
rm -f dist/ndid-desktop-linux-x86_64.tar.*
if command -v zstd >/dev/null; then
    archive=dist/ndid-desktop-linux-x86_64.tar.zst
    tar -C dist -cf - ndid-desktop | zstd -q -T0 -12 --long=27 -o "$archive"
else
    archive=dist/ndid-desktop-linux-x86_64.tar.gz
    tar -C dist -czf "$archive" ndid-desktop
fi
end=$(date +%s)
echo "built in $((end - start)) s"
du -sh dist/ndid-desktop "$archive"
