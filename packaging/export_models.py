"""Build step: export the offline encoder to ONNX (torch is needed here, never in the app).

Only for a checkout whose resources/models/ lacks the shipped ONNX file: then it is exported
here with torch. Otherwise nothing is exported (and torch is not needed).

With --bundle-optional, the ResNet-50 and CLIP weights are copied in too when this machine has
them (models folder, torch hub or Hugging Face cache); otherwise the app's model store fetches
them on first use, when the user asks for the thorough set."""

import shutil
import sys
from pathlib import Path

from ndid_desktop.engine.features.encoders import LITE0, export_encoder, onnx_path
from ndid_desktop.engine.features.model_store import ModelStore


def main() -> int:
    target_dir = Path(sys.argv[1])
    target_dir.mkdir(parents=True, exist_ok=True)
    shipped = onnx_path(LITE0, Path(__file__).resolve().parents[1] / "resources" / "models")
    target = onnx_path(LITE0, target_dir)
    if shipped.is_file():
        print(f"shipped: {shipped}")
    elif not target.is_file():
        export_encoder(LITE0, target, ModelStore())
        print(target)
    if "--bundle-optional" in sys.argv:
        from ndid_desktop.engine.features.model_store import MODEL_FILES
        from ndid_desktop.workspace import DataFolder

        store = ModelStore(user_dir=DataFolder.at().models_dir)
        for spec in MODEL_FILES.values():
            found = store.locate(spec).path
            if found is None:
                print(f"not bundled: {spec.model} (no weights on this machine)")
                continue
            shutil.copy2(found, target_dir / spec.filename)
            print(f"bundled {spec.model}: {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
