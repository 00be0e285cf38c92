"""Parquet shards of feature rows (rows.py): their schema, writing one, reading them back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ndid_desktop.cluster.rows import FeatureRows, concat, rows_columns, rows_from_columns

SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("fingerprint", pa.string()),
        ("pixel_digest", pa.string()),
        ("info", pa.string()),
        ("hashes", pa.binary()),
        ("embedding", pa.binary()),
        ("local", pa.binary()),
        ("error", pa.string()),
    ]
)
# Rows a row group: a query reads the local features of a few candidates, one group each.
ROW_GROUP = 256


def table(columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    return pa.table({name: list(columns[name]) for name in SCHEMA.names}, schema=SCHEMA)


def write_shard(rows: FeatureRows, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    pq.write_table(table(rows_columns(rows)), part, row_group_size=ROW_GROUP)
    part.replace(path)  # a shard is either all there or not there
    return path


def read_shard(path: Path, dim: int | None, with_local: bool = True) -> FeatureRows:
    names = SCHEMA.names if with_local else [n for n in SCHEMA.names if n != "local"]
    columns = pq.read_table(path, columns=names).to_pydict()
    if not with_local:
        columns["local"] = [b"" if e is None else None for e in columns["error"]]
    return rows_from_columns(columns, dim)


def read_shards(paths: Sequence[Path], dim: int | None, with_local: bool = True) -> FeatureRows:
    return concat([read_shard(p, dim, with_local) for p in paths], dim)


def shard_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet"))


def read_local(path: Path, rows: Sequence[int]) -> dict[int, bytes]:
    """The local features of ``rows`` (positions among the shard's rows, errors included)."""
    file = pq.ParquetFile(path)
    found: dict[int, bytes] = {}
    starts = [0]
    for g in range(file.num_row_groups):
        starts.append(starts[-1] + file.metadata.row_group(g).num_rows)
    by_group: dict[int, list[int]] = {}
    for row in rows:
        group = next(g for g in range(file.num_row_groups) if starts[g + 1] > row)
        by_group.setdefault(group, []).append(row)
    for group, wanted in by_group.items():
        values = file.read_row_group(group, columns=["local"]).column("local").to_pylist()
        for row in wanted:
            found[row] = bytes(values[row - starts[group]] or b"")
    return found
