"""Whether the 'cluster' extra is installed, asked before anything imports Ray or pyarrow."""

from __future__ import annotations

import importlib.util

INSTALL_HINT = "pip install 'ndid-desktop[cluster]'"
# Each import name of the extra, with what needs it.
MODULES: dict[str, str] = {
    "pyarrow": "the index's Parquet shards",
    "ray": "feature extraction on Ray",
    "fastapi": "ndid serve",
    "uvicorn": "ndid serve",
}


class ClusterExtraMissing(RuntimeError):
    """The 'cluster' extra is not installed; the message says what to install."""


def missing(names: tuple[str, ...]) -> list[str]:
    return [n for n in names if importlib.util.find_spec(n) is None]


def require(*names: str) -> None:
    """Raise ClusterExtraMissing naming the modules of ``names`` that are not importable."""
    absent = missing(tuple(dict.fromkeys(names)))  # a command may name a module twice
    if absent:
        needs = "; ".join(f"{n} ({MODULES.get(n, 'the cluster extra')})" for n in absent)
        raise ClusterExtraMissing(
            f"the 'cluster' extra is not installed: {needs} missing; {INSTALL_HINT}"
        )
