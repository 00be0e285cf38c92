"""Where NDID keeps its own files: the platform's user data folder, or --data-dir.

The layout inside that folder is ``workspace.DataFolder``'s; the helpers below name a few of
its paths for callers that have only a base folder, and take them from there."""

from __future__ import annotations

from pathlib import Path


def data_dir(override: Path | None = None) -> Path:
    if override is not None:
        return override
    from platformdirs import user_data_path

    return user_data_path("ndid-desktop", appauthor=False)


def cache_path(base: Path) -> Path:
    from ndid_desktop.workspace import DataFolder  # workspace imports this module

    return DataFolder(base).cache


def calibration_dir(base: Path) -> Path:
    from ndid_desktop.workspace import DataFolder

    return DataFolder(base).calibration_dir


def models_dir(base: Path) -> Path:
    from ndid_desktop.workspace import DataFolder

    return DataFolder(base).models_dir


def scan_records_dir(base: Path) -> Path:
    """Each scan's own record of what it saw: what trash actions are checked against."""
    from ndid_desktop.workspace import DataFolder

    return DataFolder(base).scan_records


def user_action_lock() -> Path:
    """A lock every NDID process of this user holds while it moves photos, whatever its data
    folder: two runs with different data folders must never trash at the same time."""
    from platformdirs import user_state_path

    return user_state_path("ndid-desktop", appauthor=False) / "actions.lock"


def bundled_models_dir() -> Path | None:
    """Weights shipped inside a packaged build (PyInstaller puts data under sys._MEIPASS)."""
    import sys

    root = getattr(sys, "_MEIPASS", None)
    return Path(root) / "models" if root else None
