#!/usr/bin/env bash
# Build the one-folder app into dist/ndid-desktop and an archive beside it.
#   bash packaging/build.sh                     # offline encoder only (what the app needs)
#   bash packaging/build.sh --bundle-optional   # also ResNet-50/CLIP weights, if present here
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install --quiet -e '.[gui]' pyinstaller
start=$(date +%s)
rm -rf build/models
.venv/bin/python packaging/export_models.py build/models "$@"
.venv/bin/python -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
    packaging/ndid_desktop.spec
tar -C dist -czf dist/ndid-desktop-linux-x86_64.tar.gz ndid-desktop
end=$(date +%s)
echo "built in $((end - start)) s"
du -sh dist/ndid-desktop dist/ndid-desktop-linux-x86_64.tar.gz
