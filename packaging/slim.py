"""Build step after PyInstaller (Linux): make dist/ndid-desktop smaller without changing what runs.

1. Debug info out: the interpreter's libpython and lib-dynload modules (and a few extensions)
   carry DWARF debug sections (~20 MB) that nothing reads at run time; `strip --strip-debug`
   removes only those (symbols stay). Libraries vendored by auditwheel (*.libs folders) are left
   alone: they are already stripped and were rewritten by patchelf.
2. One OpenBLAS instead of two: OpenCV's wheel and faiss's wheel each vendor OpenBLAS 0.3.15
   (pthreads and OpenMP builds, ~39 MB each). OpenCV's copy becomes a link to faiss's after
   checking that every BLAS/LAPACK symbol cv2 imports is defined there (19 of them, no symbol
   versions). The loader then maps one file whichever of the two is imported first (it matches
   by inode and by soname). If the check fails (new wheels), the copy stays and this says so.

    python packaging/slim.py dist/ndid-desktop
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def has_debug_info(path: Path) -> bool:
    out = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True)
    return ".debug_info" in out.stdout


def strip_debug(internal: Path) -> int:
    if shutil.which("strip") is None or shutil.which("readelf") is None:
        print("slim: no binutils (strip/readelf): debug info kept")
        return 0
    saved = 0
    for path in sorted(internal.rglob("*")):
        if path.is_symlink() or not path.is_file() or ".libs" in path.parent.name:
            continue
        if not is_elf(path) or not has_debug_info(path):
            continue
        before = path.stat().st_size
        subprocess.run(["strip", "--strip-debug", str(path)], check=True)
        saved += before - path.stat().st_size
    print(f"slim: debug info stripped, {saved / 1e6:.1f} MB")
    return saved


def dynamic_symbols(path: Path, defined: bool) -> set[str]:
    flag = "--defined-only" if defined else "--undefined-only"
    out = subprocess.run(["nm", "-D", flag, str(path)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}


def needs_symbol_versions(path: Path, library: str) -> bool:
    out = subprocess.run(["readelf", "-V", "-W", str(path)], capture_output=True, text=True)
    return library in out.stdout


def link_to(target: Path, link: Path) -> int:
    size = link.stat().st_size
    link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))
    return size


def share_openblas(internal: Path) -> int:
    cv_libs, faiss_libs = internal / "opencv_python_headless.libs", internal / "faiss_cpu.libs"
    cv2_ext = next((internal / "cv2").glob("cv2*.so"), None)
    ours = sorted(cv_libs.glob("libopenblas*.so*"))
    theirs = sorted(faiss_libs.glob("libopenblas*.so*"))
    gomp = sorted(faiss_libs.glob("libgomp*.so*"))
    if cv2_ext is None or len(ours) != 1 or len(theirs) != 1 or len(gomp) != 1:
        print("slim: OpenBLAS layout not as expected: both copies kept")
        return 0
    if ours[0].is_symlink():
        return 0  # already done
    if shutil.which("nm") is None:
        print("slim: no nm: both OpenBLAS copies kept")
        return 0
    wanted = dynamic_symbols(cv2_ext, defined=False) & dynamic_symbols(ours[0], defined=True)
    missing = wanted - dynamic_symbols(theirs[0], defined=True)
    if not wanted or missing or needs_symbol_versions(cv2_ext, ours[0].name):
        print(f"slim: faiss's OpenBLAS lacks {sorted(missing)[:5]}: both copies kept")
        return 0
    saved = link_to(theirs[0], ours[0])
    # faiss's OpenBLAS needs its libgomp, which cv2's library path must also reach; the Fortran
    # runtime both vendor under the same soname is shared too, so only one is ever loaded.
    (cv_libs / gomp[0].name).symlink_to(os.path.relpath(gomp[0], cv_libs))
    for runtime in ("libgfortran", "libquadmath"):
        for lib in cv_libs.glob(f"{runtime}-*.so*"):
            twin = faiss_libs / lib.name
            if twin.is_file() and not lib.is_symlink():
                saved += link_to(twin, lib)
    print(f"slim: cv2 uses faiss's OpenBLAS ({len(wanted)} symbols checked), {saved / 1e6:.1f} MB")
    return saved


def main() -> int:
    app = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/ndid-desktop")
    internal = app / "_internal"
    if not internal.is_dir():
        print(f"slim: {internal} is not a PyInstaller one-folder build", file=sys.stderr)
        return 2
    if not sys.platform.startswith("linux"):
        return 0
    strip_debug(internal)
    share_openblas(internal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
