"""The wheel holds every package of the tree: `pip install .` (not only an editable install)
gives a working `ndid`."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    tree = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "ndid_desktop").rglob("__init__.py")
        if "resources" not in init.parent.relative_to(ROOT).parts
    }
    assert tree - listed == set(), "packages missing from pyproject.toml"
    assert "ndid_desktop.resources" in listed
