"""Where NDID keeps its own files: the platform's user data folder, or --data-dir.

The layout inside that folder is ``workspace.DataFolder``'s, and only there."""

from __future__ import annotations

from pathlib import Path


def data_dir(override: Path | None = None) -> Path:
    if override is not None:
        return override
    from platformdirs import user_data_path

    return user_data_path("ndid-desktop", appauthor=False)


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
