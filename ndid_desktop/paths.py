"""Where NDID keeps its own files: the platform's user data folder, or --data-dir."""

from __future__ import annotations

from pathlib import Path


def data_dir(override: Path | None = None) -> Path:
    if override is not None:
        return override
    from platformdirs import user_data_path

    return user_data_path("ndid-desktop", appauthor=False)


def cache_path(base: Path) -> Path:
    return base / "features.sqlite"
