"""Build step: export the offline encoder to ONNX (torch is needed here, never in the app)."""

import sys
from pathlib import Path

from ndid_desktop.engine.encoders import LITE0, export_encoder, onnx_path
from ndid_desktop.engine.models import ModelStore


def main() -> int:
    target_dir = Path(sys.argv[1])
    target = onnx_path(LITE0, target_dir)
    if not target.is_file():
        export_encoder(LITE0, target, ModelStore())
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
