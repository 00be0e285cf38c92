"""`ndid index build|add|query|stats` (a persistent index of a collection) and `ndid ray-scan`
(a scan with its extraction and keypoint checks on Ray). Need the 'cluster' extra: without
it they say what to install and exit 2; nothing of it is imported before a handler runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def add_index_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "index",
        help="a persistent index of a collection's features; query images against it",
        description="Build an index of a collection (Parquet shards + FAISS), add to it, ask "
        "which indexed files are the same picture as an image. Needs "
        "pip install 'ndid-desktop[cluster]'.",
    )
    isub = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    build = isub.add_parser("build", help="index the image files under folders or URIs")
    _sources(build)
    build.add_argument(
        "--models", "--model-set", dest="model_set", default="standard",
        choices=("fast", "standard", "thorough", "copydetect"), help="the model set to index with",
    )  # fmt: skip
    build.set_defaults(handler=_guarded(_run_build))
    add = isub.add_parser("add", help="index files the index does not hold yet")
    _sources(add)
    add.set_defaults(handler=_guarded(_run_add))
    query = isub.add_parser("query", help="which indexed files are the same picture (JSON)")
    query.add_argument("index", type=Path, help="the index folder")
    query.add_argument("images", nargs="+", metavar="IMAGE")
    query.add_argument("--k", type=int, default=None, help="embedding neighbours to consider")
    query.add_argument(
        "--related", action="store_true", help="also list pairs checked but not accepted"
    )
    query.set_defaults(handler=_guarded(_run_query))
    stats = isub.add_parser("stats", help="what an index holds (JSON)")
    stats.add_argument("index", type=Path)
    stats.set_defaults(handler=_guarded(_run_stats))

    scan = sub.add_parser(
        "ray-scan",
        help="a scan with feature extraction and keypoint checks on Ray",
        description="The same scan as 'ndid scan' (same groups and keepers); features are "
        "extracted by a Ray Data job and keypoint checks run as Ray tasks.",
    )
    scan.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    scan.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    _ray_options(scan)
    scan.set_defaults(handler=_guarded(_run_ray_scan))


def _sources(p: argparse.ArgumentParser) -> None:
    p.add_argument("index", type=Path, help="the index folder")
    p.add_argument(
        "sources", nargs="+", metavar="SOURCE",
        help="a folder, or a pyarrow/fsspec URI (s3://bucket/photos, file:///data)",
    )  # fmt: skip
    _ray_options(p)


def _ray_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", action="store_true", help="extract on a local Ray instance")
    p.add_argument(
        "--ray-address", default=None, metavar="ADDR",
        help="extract on this Ray cluster (ray://head:10001, or 'auto'); implies --ray",
    )  # fmt: skip


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The extra's check, then the handler; an index problem is one line, exit 1."""

    def run(args: argparse.Namespace) -> int:
        from ndid_desktop.cluster.extra import ClusterExtraMissing, require

        try:
            require("pyarrow", "ray" if _on_ray(args) else "pyarrow")
        except ClusterExtraMissing as exc:
            print(f"ndid: {exc}", file=sys.stderr)
            return EXIT_USAGE
        from ndid_desktop.cluster.store import IndexProblem

        args.index = Path(os.path.abspath(args.index)) if hasattr(args, "index") else None
        try:
            return handler(args)
        except ClusterExtraMissing as exc:  # Ray, asked for by the handler itself
            print(f"ndid: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except IndexProblem as exc:
            print(f"ndid: {exc}", file=sys.stderr)
            return EXIT_ERROR

    return run


def _on_ray(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "ray", False) or getattr(args, "ray_address", None))


def _config(args: argparse.Namespace, model_set: str = "standard") -> Any:
    from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

    options = ScanOptions(model_set=model_set)
    return scan_config(DataFolder.at(args.data_dir), options)


def _sources_of(args: argparse.Namespace) -> list[str] | None:
    sources = [s if "://" in s else os.path.abspath(s) for s in args.sources]
    missing = [s for s in sources if "://" not in s and not os.path.isdir(s)]
    if missing:
        print(f"ndid: folder not found: {missing[0]}", file=sys.stderr)
        return None
    return sources


def _with_extraction(args: argparse.Namespace, work: Callable[[Any], int]) -> int:
    from ndid_desktop.cluster.jobs import Where

    if not _on_ray(args):
        return work(Where())
    from ndid_desktop.cluster.ray_session import ray_session

    with ray_session(args.ray_address):
        return work(Where(on_ray=True))


def _run_build(args: argparse.Namespace) -> int:
    from ndid_desktop.cluster import jobs

    sources = _sources_of(args)
    if sources is None:
        return EXIT_USAGE
    config = _config(args, args.model_set)

    def work(where: Any) -> int:
        store = jobs.build(args.index, sources, config, where)
        _print({**store.stats(), "skipped_files": [s.__dict__ for s in store.rows.skipped]})
        return EXIT_OK

    return _with_extraction(args, work)


def _run_add(args: argparse.Namespace) -> int:
    from ndid_desktop.cluster import jobs

    sources = _sources_of(args)
    if sources is None:
        return EXIT_USAGE
    config = _config(args)

    def work(where: Any) -> int:
        added = jobs.add(args.index, sources, config, where)
        _print(
            {
                "added": added.added,
                "rows": len(added.store.rows),
                "changed_not_added": list(added.changed),
                "skipped_files": [s.__dict__ for s in added.skipped],
            }
        )
        return EXIT_OK

    return _with_extraction(args, work)


def _run_query(args: argparse.Namespace) -> int:
    from ndid_desktop.cluster.jobs import Querier
    from ndid_desktop.cluster.store import IndexStore

    store = IndexStore.open(args.index)
    querier = Querier(store, _config(args, store.manifest.model_set))
    results = querier([os.path.abspath(p) for p in args.images], args.k, args.related)
    _print({"results": [r.to_json() for r in results]})
    return EXIT_OK


def _run_stats(args: argparse.Namespace) -> int:
    from ndid_desktop.cluster.store import IndexStore

    _print(IndexStore.open(args.index).stats())
    return EXIT_OK


def _run_ray_scan(args: argparse.Namespace) -> int:
    from ndid_desktop.cluster.ray_scan import scan_on_ray
    from ndid_desktop.cluster.ray_session import ray_session
    from ndid_desktop.engine.config import Root
    from ndid_desktop.engine.files.discover import RootNotFoundError
    from ndid_desktop.engine.report import to_json, write_json

    roots = [Root(Path(os.path.abspath(p))) for p in args.paths]
    try:
        with ray_session(args.ray_address):
            report = scan_on_ray(roots, _config(args))
    except RootNotFoundError as exc:
        print(f"ndid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        write_json(report, args.json)
        print(f"{len(report.groups)} groups; report in {args.json}")
    else:
        _print(to_json(report))
    return EXIT_OK


def _print(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, default=str))
