"""The engine stays headless and light: no Qt, and no torch until an encoder is built."""

import subprocess
import sys


def test_engine_imports_neither_qt_nor_torch() -> None:
    code = (
        "import sys, ndid_desktop.engine, ndid_desktop.cli.main;"
        "bad = [m for m in ('PySide6', 'torch', 'timm', 'faiss', 'cv2') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
