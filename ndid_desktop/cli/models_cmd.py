"""`ndid models`: which models exist, where their weights are (or are not), how to get them."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_models_parser(sub: Any) -> None:
    p = sub.add_parser("models", help="list the models, where their weights are, how to get them")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    p.set_defaults(handler=run_list)
    fetch = msub.add_parser("fetch", help="download a model's weights into your models folder")
    fetch.add_argument("name", help="a model name from 'ndid models'")
    fetch.set_defaults(handler=run_fetch)


def _store(args: argparse.Namespace, allow_download: bool = False) -> Any:
    from ndid_desktop.engine.features.model_sets import model_store
    from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

    options = ScanOptions(allow_download=allow_download)
    return model_store(scan_config(DataFolder.at(args.data_dir), options))


def run_list(args: argparse.Namespace) -> int:
    from ndid_desktop.engine.features.encoders import SPECS, missing_libraries
    from ndid_desktop.engine.features.model_sets import MODEL_SETS

    store = _store(args)
    print(f"models folder: {store.user_dir}\n")
    for spec in SPECS.values():
        sets = [m.name for m in MODEL_SETS.values() if spec in m.encoders]
        print(f"{spec.name}  ({spec.dim}-d; model sets: {', '.join(sets)})")
        print(f"  weights: {spec.weights}")
        if spec.weights_file is not None and spec.weights_file.note:
            print(f"  file:    {spec.weights_file.filename} ({spec.weights_file.note})")
        if spec.weights_file is None:
            _print_shipped(spec, store)
            continue
        problem = missing_libraries(spec)
        if problem is not None:
            print(f"  needs:   {problem}")
        location = store.locate(spec.weights_file)
        if location.path is not None:
            size = location.path.stat().st_size / 1e6
            print(f"  status:  found in {location.source}: {location.path} ({size:.0f} MB)\n")
        else:
            print(f"  status:  missing; licence {spec.weights_file.license}")
            print(f"  get it:  ndid models fetch {spec.name}   (needs internet), or copy")
            print(f"           {spec.weights_file.filename} from {spec.weights_file.url}")
            print(f"           into {store.user_dir}")
            for name in spec.weights_file.other_names:
                print(f"           (or your own TorchScript there as {name})")
            print()
    print("model sets:")
    for m in MODEL_SETS.values():
        print(f"  {m.name:10s} {m.summary}")
    return 0


def _print_shipped(spec: Any, store: Any) -> None:
    """A model that ships with NDID as an ONNX file: where it is, or how to make one."""
    from ndid_desktop.engine.errors import EncoderUnavailableError
    from ndid_desktop.engine.features.encoders import find_onnx, missing_libraries, shipped_onnx

    try:
        found = find_onnx(spec, store.user_dir, store.bundled_dir)
    except EncoderUnavailableError as exc:  # the shipped file is damaged
        print(f"  status:  unusable: {exc}\n")
        return
    if found is not None:
        where = "ships with NDID" if found == shipped_onnx(spec) else "exported earlier"
        size = found.stat().st_size / 1e6
        print(f"  status:  available, {where}: {found} ({size:.1f} MB, ONNX Runtime)\n")
        return
    problem = missing_libraries(spec, export=True)
    print("  status:  its ONNX file is missing from this install (reinstall ndid-desktop);")
    if problem is None:
        print(f"           it will be exported into {store.user_dir} on first use\n")
    else:
        print(f"           exporting one needs {problem}\n")


def run_fetch(args: argparse.Namespace) -> int:
    from ndid_desktop.engine.features.encoders import SPECS, missing_libraries
    from ndid_desktop.engine.features.model_store import ModelDownloadError

    spec = SPECS.get(args.name)
    if spec is None:
        print(f"ndid: no model named {args.name!r}; see 'ndid models'", file=sys.stderr)
        return 2
    if spec.weights_file is None:
        print(f"{spec.name} ships with NDID; nothing to download")
        return 0

    def show(done: int, total: int) -> None:
        share = f"{done / total:6.1%}" if total else ""
        print(f"\r{spec.name}: {done / 1e6:7.1f} MB {share}", end="", file=sys.stderr)

    try:
        path = _store(args, allow_download=True).require(spec.weights_file, show)
    except ModelDownloadError as exc:
        print(f"\nndid: {exc}", file=sys.stderr)
        return 1
    print(f"\n{spec.name}: {path}")
    problem = missing_libraries(spec)
    if problem is not None:
        print(f"note: running {spec.name} needs {problem}")
    return 0
