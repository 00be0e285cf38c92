#!/usr/bin/env bash
# Build dist/ndid-desktop_<version>_<arch>.deb from the PyInstaller folder dist/ndid-desktop
# (built first by packaging/build.sh when it is missing). Needs only dpkg-deb.
#   bash packaging/build_deb.sh
#   NDID_DEB_MAINTAINER='Name <mail>' bash packaging/build_deb.sh
# Layout: the app in /opt/ndid-desktop; /usr/bin/ndid-desktop (the window, or any `ndid`
# command) and /usr/bin/ndid (the command line) link to it; the menu entry in
# /usr/share/applications; the icon in /usr/share/icons/hicolor (PNG sizes and scalable SVG).
set -euo pipefail
cd "$(dirname "$0")/.."
APP=dist/ndid-desktop
[ -x "$APP/ndid-desktop" ] || bash packaging/build.sh
start=$(date +%s)

VERSION=$(python3 -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
ARCH=$(dpkg --print-architecture)
MAINTAINER=${NDID_DEB_MAINTAINER:-NDID Desktop developers <ndid-desktop@localhost>}
DEB=dist/ndid-desktop_${VERSION}_${ARCH}.deb
ROOT=build/deb/root
rm -rf build/deb "$DEB"
mkdir -p "$ROOT/DEBIAN" "$ROOT/opt" "$ROOT/usr/bin" "$ROOT/usr/share/applications" \
    "$ROOT/usr/share/icons/hicolor/scalable/apps" "$ROOT/usr/share/doc/ndid-desktop"

cp -a "$APP" "$ROOT/opt/ndid-desktop"
ln -sfn ndid-desktop "$ROOT/opt/ndid-desktop/ndid"  # started as `ndid`: the command line
ln -s /opt/ndid-desktop/ndid-desktop "$ROOT/usr/bin/ndid-desktop"
ln -s /opt/ndid-desktop/ndid "$ROOT/usr/bin/ndid"
install -m 644 packaging/ndid-desktop.desktop "$ROOT/usr/share/applications/ndid-desktop.desktop"
install -m 644 resources/icons/ndid-desktop.svg "$ROOT/usr/share/icons/hicolor/scalable/apps/"
for size in 16 32 48 64 128 256; do
    mkdir -p "$ROOT/usr/share/icons/hicolor/${size}x${size}/apps"
    install -m 644 "resources/icons/ndid-desktop-$size.png" \
        "$ROOT/usr/share/icons/hicolor/${size}x${size}/apps/ndid-desktop.png"
done
cat > "$ROOT/usr/share/doc/ndid-desktop/copyright" <<'EOF'
NDID Desktop is licensed under the Apache License, version 2.0
(/usr/share/common-licenses/Apache-2.0). /opt/ndid-desktop/_internal holds the Python runtime
and libraries it runs on (Qt/PySide6, OpenCV, ONNX Runtime, faiss, NumPy, Pillow, ...), each
under its own licence.
EOF

# The newest glibc symbol version anything in the bundle asks for (the build machine's libc).
GLIBC=$(find "$ROOT/opt" -type f \( -name '*.so*' -o -name ndid-desktop \) -exec objdump -T {} + 2>/dev/null |
    grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 | cut -d_ -f2)
# System libraries the bundle links to but does not carry (PyInstaller leaves out libc, libGL/EGL
# and libxcb on purpose: they must match the machine's drivers and X server); the Wayland ones are
# for the Wayland platform plugin (without them Qt uses X11). Fonts come from the system.
# The xcb helper libraries of Qt's X11 plugin are bundled when the build machine has them; they
# are named too, so that a build made where they were missing still runs.
DEPENDS="libc6 (>= ${GLIBC:-2.36}), libgl1, libegl1, libxcb1, libfontconfig1, libxcb-cursor0, libxkbcommon-x11-0, libxcb-icccm4, libxcb-keysyms1"
RECOMMENDS="libwayland-client0, libwayland-cursor0, libwayland-egl1, fonts-dejavu-core | fonts-freefont-ttf, xdg-desktop-portal"
cat > "$ROOT/DEBIAN/control" <<EOF
Package: ndid-desktop
Version: $VERSION
Section: graphics
Priority: optional
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
Depends: $DEPENDS
Recommends: $RECOMMENDS
Description: duplicate photo finder (near-duplicate images)
 NDID Desktop finds the files in your photo folders that are really the same
 picture - resized, recompressed, converted, cropped, edited, rotated or
 screenshotted copies - groups them, says which file is the original and why,
 and moves the others to the trash only when you confirm. Desktop app
 (ndid-desktop) and command line (ndid); runs offline.
EOF

# Maintainer scripts: refresh the icon cache and the desktop database when this system keeps
# them (never creating one, never failing). DPKG_ROOT is set by dpkg --root/--instdir.
for script in postinst postrm; do
    cat > "$ROOT/DEBIAN/$script" <<'EOF'
#!/bin/sh
set -e
root="${DPKG_ROOT:-}"
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -e "$root/usr/share/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -f "$root/usr/share/icons/hicolor" || true
fi
if command -v update-desktop-database >/dev/null 2>&1 && [ -e "$root/usr/share/applications/mimeinfo.cache" ]; then
    update-desktop-database -q "$root/usr/share/applications" || true
fi
exit 0
EOF
    chmod 755 "$ROOT/DEBIAN/$script"
done

dpkg-deb --root-owner-group -Zzstd -z12 --build "$ROOT" "$DEB" >/dev/null 2>&1 ||
    dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >/dev/null
end=$(date +%s)
echo "built $DEB in $((end - start)) s"
du -sh "$DEB"
