"""`ndid serve --index DIR`: the query service (cluster/service.py) on uvicorn."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ndid_desktop.cli.index_cmd import EXIT_ERROR, EXIT_OK, EXIT_USAGE


def add_serve_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve queries against an index over HTTP (POST /query, POST /add, GET /health)",
        description="A query service for platforms that check every upload. Needs "
        "pip install 'ndid-desktop[cluster]'.",
    )
    p.add_argument("--index", type=Path, required=True, help="the index folder")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: local)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--max-upload-mb", type=float, default=32.0, help="largest upload accepted (MiB)"
    )
    p.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from ndid_desktop.cluster.extra import ClusterExtraMissing, require

    try:
        require("pyarrow", "fastapi", "uvicorn")
    except ClusterExtraMissing as exc:
        print(f"ndid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    import uvicorn

    from ndid_desktop.cluster.service import create_app
    from ndid_desktop.cluster.store import IndexProblem, IndexStore
    from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

    try:
        store = IndexStore.open(args.index)
    except IndexProblem as exc:
        print(f"ndid: {exc}", file=sys.stderr)
        return EXIT_ERROR
    config = scan_config(
        DataFolder.at(args.data_dir), ScanOptions(model_set=store.manifest.model_set)
    )
    app = create_app(store, config, int(args.max_upload_mb * 1024 * 1024))
    uvicorn.run(app, host=args.host, port=args.port)
    return EXIT_OK
